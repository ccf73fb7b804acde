import { describe, expect, it } from "vitest";
import {
  BETA,
  capacityOf,
  cubicRate,
  cubicZeroPoint,
  HEADROOM,
  MIN_EVIDENCE,
  MIN_RATE,
  measure,
  newPacerState,
  observe,
  type PacerState,
  parseRateLimitFields,
  type RateLimitSignal,
  takeToken,
  waitSeconds,
} from "../../client/pacing";
import { Pacer } from "../../client/pacer";

/** Sends requests as fast as the pacer allows from `fromS` to `toS`, answering each at once with `answer`; returns the state and the send times. */
function drive(
  start: PacerState,
  fromS: number,
  toS: number,
  answer: (nowS: number) => { throttled: boolean; signal?: RateLimitSignal },
): { state: PacerState; sends: number[] } {
  let state = start;
  const sends: number[] = [];
  let now = fromS;
  for (let i = 0; i < 1_000_000 && now < toS; i++) {
    const wait = waitSeconds(state, now);
    if (wait > 0) {
      now += wait;
      continue;
    }
    state = takeToken(state, now);
    sends.push(now);
    const a = answer(now);
    state = observe(state, { nowS: now, sentAtS: now, throttled: a.throttled, ...(a.signal === undefined ? {} : { signal: a.signal }) });
    if (!state.enabled) now += 0.001; // unpaced: one request a millisecond
  }
  return { state, sends };
}

describe("reading the RateLimit and RateLimit-Policy fields", () => {
  const table: Array<[string, string | undefined, string | undefined, RateLimitSignal | undefined]> = [
    ["the draft's example", '"default";q=100;w=1', '"default";r=42;t=1', { ratePerSecond: 100, remaining: 42, resetSeconds: 1 }],
    ["a window of 60 s", '"hourly";q=600;w=60', undefined, { ratePerSecond: 10 }],
    ["w omitted (one second)", '"default";q=5', undefined, { ratePerSecond: 5 }],
    ["a token name and spaces", "default ; q=20 ; w=2", "default;r=0;t=3", { ratePerSecond: 10, remaining: 0, resetSeconds: 3 }],
    ["the most restrictive of two policies", '"burst";q=100;w=1, "day";q=86400;w=86400', '"burst";r=50;t=1, "day";r=7;t=300', { ratePerSecond: 1, remaining: 7, resetSeconds: 300 }],
    ["a quoted name with a comma and extra parameters", '"a,b";q=10;w=1;qu="requests";pk=:AQ==:', undefined, { ratePerSecond: 10 }],
    ["RateLimit without t", undefined, '"default";r=3', { remaining: 3 }],
    ["neither field", undefined, undefined, undefined],
    ["garbage", "nonsense", ";;;,", undefined],
    ["a policy without q", '"default";w=1', undefined, undefined],
    ["a zero window", '"default";q=10;w=0', undefined, undefined],
  ];
  it.each(table)("%s", (_name, policy, rateLimit, expected) => {
    expect(parseRateLimitFields(policy, rateLimit)).toEqual(expected);
  });
});

describe("the CUBIC curve", () => {
  it("is back at wMax after K seconds, below it before and above it after", () => {
    const k = cubicZeroPoint(100);
    expect(k).toBeCloseTo(Math.cbrt((100 * (1 - BETA)) / 0.4), 10);
    expect(cubicRate(100, k)).toBeCloseTo(100, 10);
    expect(cubicRate(100, 0)).toBeCloseTo(100 * BETA, 6);
    expect(cubicRate(100, k / 2)).toBeLessThan(100);
    expect(cubicRate(100, k + 2)).toBeGreaterThan(100);
  });
});

describe("the measured send rate", () => {
  it("averages answers per half second, weighting the newest half second by 0.8", () => {
    let s = newPacerState(0);
    for (let i = 0; i < 50; i++) s = measure(s, 0.01 * i); // 50 answers in [0, 0.5)
    s = measure(s, 0.5); // closes the first half second: 51 answers / 0.5 s
    expect(s.measuredRate).toBeCloseTo(102, 6);
    for (let i = 0; i < 24; i++) s = measure(s, 0.5 + 0.02 * i);
    s = measure(s, 1.0); // 25 answers / 0.5 s = 50; 0.8 * 50 + 0.2 * 102
    expect(s.measuredRate).toBeCloseTo(0.8 * 50 + 0.2 * 102, 6);
  });

  it("starts counting again after an idle spell instead of reading it as a slow rate", () => {
    let s = newPacerState(0);
    for (let i = 0; i < 50; i++) s = measure(s, 0.01 * i);
    s = measure(s, 0.5);
    const before = s.measuredRate;
    s = measure(s, 30);
    expect(s.measuredRate).toBe(before);
    expect(s.rateBucketS).toBe(30);
  });
});

describe("pacing from the API's rate-limit fields", () => {
  const policy = (remaining: number): RateLimitSignal => ({ ratePerSecond: 100, remaining, resetSeconds: 1 });

  it("does not pace before any signal", () => {
    const s = newPacerState(0);
    expect(s.enabled).toBe(false);
    expect(waitSeconds(s, 0)).toBe(0);
    expect(takeToken(s, 0)).toEqual(s);
  });

  it("paces at HEADROOM of the advertised rate from the first answer that carries a policy, without a 429", () => {
    const s = observe(newPacerState(0), { nowS: 0.01, sentAtS: 0, throttled: false, signal: policy(19) });
    expect(s.enabled).toBe(true);
    expect(s.fillRate).toBeCloseTo(100 * HEADROOM, 10);
    expect(s.maxRate).toBeCloseTo(100 * HEADROOM, 10);
  });

  it("sends no faster than the advertised rate over ten seconds", () => {
    const s = observe(newPacerState(0), { nowS: 0, sentAtS: 0, throttled: false, signal: policy(19) });
    const { sends } = drive(s, 0, 10, () => ({ throttled: false, signal: policy(19) }));
    expect(sends.length).toBeGreaterThanOrEqual(Math.floor(10 * 100 * HEADROOM) - 1);
    expect(sends.length).toBeLessThanOrEqual(Math.ceil(10 * 100 * HEADROOM + capacityOf(s)));
  });

  it("never holds more tokens than the API says remain", () => {
    let s = observe(newPacerState(0), { nowS: 0, sentAtS: 0, throttled: false, signal: policy(19) });
    s = observe(s, { nowS: 5, sentAtS: 5, throttled: false, signal: policy(3) });
    expect(s.tokens).toBeLessThanOrEqual(3);
  });

  it("keeps its bursts within half the largest remaining quota seen", () => {
    const s = observe(newPacerState(0), { nowS: 0, sentAtS: 0, throttled: false, signal: { ratePerSecond: 1000, remaining: 4 } });
    expect(capacityOf(s)).toBe(2);
  });

  it("waits for the next token when the API says the quota is spent (r=0), and slows down", () => {
    const s0 = observe(newPacerState(0), { nowS: 0, sentAtS: 0, throttled: false, signal: policy(19) });
    const s1 = observe(s0, { nowS: 1, sentAtS: 0.99, throttled: false, signal: policy(0) });
    expect(s1.tokens).toBe(0);
    expect(waitSeconds(s1, 1)).toBeGreaterThanOrEqual(0.01 - 1e-12);
    expect(s1.fillRate).toBeLessThan(s0.fillRate);
  });

  it("lowers its ceiling when the advertised rate drops", () => {
    const s0 = observe(newPacerState(0), { nowS: 0, sentAtS: 0, throttled: false, signal: policy(19) });
    const s1 = observe(s0, { nowS: 1, sentAtS: 1, throttled: false, signal: { ratePerSecond: 10, remaining: 9 } });
    expect(s1.fillRate).toBeCloseTo(10 * HEADROOM, 10);
  });
});

describe("adapting to 429s without rate-limit fields (AWS adaptive mode)", () => {
  /** A server allowing `rps` a second with a bucket of `burst`, answering 429 once it is empty. */
  function serverAt(rps: number, burst: number) {
    let tokens = burst;
    let at = 0;
    let refused = 0;
    return {
      answer: (now: number) => {
        tokens = Math.min(burst, tokens + (now - at) * rps);
        at = now;
        if (tokens >= 1) {
          tokens -= 1;
          return { throttled: false };
        }
        refused += 1;
        return { throttled: true };
      },
      refused: () => refused,
    };
  }

  it("turns pacing on at the first 429, at BETA times the rate it was sending at", () => {
    let s = newPacerState(0);
    for (let i = 0; i < 100; i++) s = observe(s, { nowS: 0.01 * i, sentAtS: 0.01 * i, throttled: false });
    expect(s.enabled).toBe(false);
    s = observe(s, { nowS: 1.0, sentAtS: 1.0, throttled: true });
    expect(s.enabled).toBe(true);
    expect(s.fillRate).toBeCloseTo(BETA * s.wMax, 10);
    expect(s.wMax).toBeGreaterThan(50);
  });

  it("shrinks once per round: 429s for requests sent before the last decrease do not shrink it again", () => {
    let s = newPacerState(0);
    for (let i = 0; i < 100; i++) s = observe(s, { nowS: 0.01 * i, sentAtS: 0.01 * i, throttled: false });
    s = observe(s, { nowS: 1.0, sentAtS: 0.99, throttled: true });
    const after = s.fillRate;
    s = observe(s, { nowS: 1.001, sentAtS: 0.995, throttled: true });
    s = observe(s, { nowS: 1.002, sentAtS: 0.998, throttled: true });
    expect(s.fillRate).toBe(after);
    // A new round: after MIN_EVIDENCE answers to requests sent since, a 429 shrinks it again.
    for (let i = 0; i < MIN_EVIDENCE; i++) s = observe(s, { nowS: 1.01 + 0.001 * i, sentAtS: 1.005 + 0.001 * i, throttled: false });
    const grown = s.fillRate;
    s = observe(s, { nowS: 1.2, sentAtS: 1.1, throttled: true });
    expect(s.fillRate).toBeLessThan(Math.min(after, grown));
  });

  it("grows back along the CUBIC curve after a 429, never below MIN_RATE", () => {
    let s = newPacerState(0);
    s = observe(s, { nowS: 0.2, sentAtS: 0.2, throttled: true });
    expect(s.fillRate).toBeGreaterThanOrEqual(MIN_RATE);
    const wMax = s.wMax;
    const k = cubicZeroPoint(wMax);
    s = observe(s, { nowS: 0.2 + k, sentAtS: 0.2 + k, throttled: false });
    expect(s.fillRate).toBeCloseTo(Math.max(MIN_RATE, Math.min(wMax, 2 * (s.measuredRate || Infinity))), 6);
  });

  it("settles near the server's rate with 429s a small share of requests over a minute", () => {
    const server = serverAt(100, 20);
    const { sends } = drive(newPacerState(0), 0, 60, server.answer);
    const rate = sends.length / 60;
    expect(rate).toBeGreaterThan(60);
    expect(rate).toBeLessThan(110);
    expect(server.refused() / sends.length).toBeLessThan(0.05);
  });
});

describe("429s that do not come from a rate limit", () => {
  it("with the API's fields, a 429 that says quota remains (r > 0) does not slow the client", () => {
    const s0 = observe(newPacerState(0), { nowS: 0, sentAtS: 0, throttled: false, signal: { ratePerSecond: 100, remaining: 19 } });
    const s1 = observe(s0, { nowS: 1, sentAtS: 0.99, throttled: true, signal: { ratePerSecond: 100, remaining: 12 } });
    expect(s1.fillRate).toBe(s0.fillRate);
    const s2 = observe(s0, { nowS: 1, sentAtS: 0.99, throttled: true, signal: { ratePerSecond: 100, remaining: 0 } });
    expect(s2.fillRate).toBeLessThan(s0.fillRate);
  });

  it("keeps a useful pace through 30% of 429s at random, where shrinking on every 429 would choke it", () => {
    // A fixed pseudo-random sequence: 30% of answers are 429 whatever the rate, at 20 ms round trips, 8 in flight.
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    let s = newPacerState(0);
    const inFlight: Array<{ sentAt: number; doneAt: number; throttled: boolean }> = [];
    let ok = 0;
    for (let step = 0; step <= 30_000; step++) {
      const now = step / 1000;
      for (let i = inFlight.length - 1; i >= 0; i--) {
        const r = inFlight[i];
        if (r === undefined || r.doneAt > now) continue;
        inFlight.splice(i, 1);
        s = observe(s, { nowS: now, sentAtS: r.sentAt, throttled: r.throttled });
        if (!r.throttled) ok += 1;
      }
      while (inFlight.length < 8 && waitSeconds(s, now) <= 0) {
        s = takeToken(s, now);
        inFlight.push({ sentAt: now, doneAt: now + 0.02, throttled: random() < 0.3 });
      }
    }
    // Shrinking on every round's 429 (the AWS limiter) ends near 1 request a second and about 2.5 successes a second.
    expect(ok / 30).toBeGreaterThan(6);
    expect(s.fillRate).toBeGreaterThan(5);
  });
});

describe("the Pacer queue", () => {
  it("lets one request out before the first answer, then the rest at the advertised pace", async () => {
    let now = 0;
    const pacer = new Pacer({ now: () => now });
    const first = await pacer.acquire();
    let secondGone = false;
    const second = pacer.acquire().then((t) => {
      secondGone = true;
      return t;
    });
    await Promise.resolve();
    expect(secondGone).toBe(false);
    expect(pacer.waiting).toBe(1);
    now = 0.005;
    pacer.observe(first, 201, { ratePerSecond: 100, remaining: 19, resetSeconds: 1 });
    await second;
    expect(secondGone).toBe(true);
    expect(pacer.state.enabled).toBe(true);
    pacer.close();
  });

  it("lets every waiter go when closed", async () => {
    const pacer = new Pacer({ now: () => 0 });
    await pacer.acquire();
    const waiting = [pacer.acquire(), pacer.acquire()];
    expect(pacer.waiting).toBe(2);
    pacer.close();
    await Promise.all(waiting);
    expect(pacer.waiting).toBe(0);
  });

  it("never waits when pacing is off", async () => {
    const pacer = new Pacer({ enabled: false, now: () => 0 });
    await Promise.all([pacer.acquire(), pacer.acquire(), pacer.acquire()]);
    expect(pacer.waiting).toBe(0);
  });
});
