/**
 * @module
 * Client-side pacing: how fast one client sends, so that a campaign runs
 * near the API's rate limit with very few 429s.
 *
 * One client-side token bucket per client (per provider process), with two
 * sources of truth:
 *
 * 1. **The API's rate-limit fields, when it sends them** (assumed: the
 *    `RateLimit-Policy` and `RateLimit` fields of
 *    draft-ietf-httpapi-ratelimit-headers-11). `RateLimit-Policy: "default";q=100;w=1`
 *    gives the rate (q / w requests a second); the bucket is switched on at
 *    HEADROOM of it at once, no 429 needed. `RateLimit: "default";r=17;t=1`
 *    gives the quota left: the bucket never holds more tokens than `r`, and
 *    `r=0` (the API's bucket is empty: another client shares the key) counts
 *    as congestion, like a 429.
 * 2. **Otherwise 429s alone**, as the AWS SDKs' adaptive retry mode does
 *    (botocore `retries/adaptive.py` and `standard.py`'s CUBIC
 *    `RateClocker`, aws-sdk-js-v3 `DefaultRateLimiter`): no pacing until the
 *    first 429; then the rate drops to BETA times the measured send rate and
 *    grows back along the CUBIC curve `SCALE * (t - K)^3 + wMax`, where wMax
 *    is the rate at the last congestion and K = cbrt(wMax * (1 - BETA) / SCALE)
 *    the time to get back to it; each 429 shrinks it again.
 *
 * Three departures from the AWS limiter. Two keep 429s rare with many
 * requests in flight: congestion shrinks the rate at most once per round
 * (answers to requests sent before the last shrink do not shrink it again,
 * as TCP reacts once per window), and the bucket holds at most a tenth of a
 * second of requests (AWS: one second), so a client back from idle does not
 * burst past a small API burst. The third keeps 429s that do not come from
 * a rate limit (an overloaded API, injected faults) from choking a
 * campaign: after a shrink, the share of congested answers to requests sent
 * since (over at least MIN_EVIDENCE answers) is compared with the share
 * that caused it. Under a limit a shrink lowers the share (most often to 0)
 * and growing past the limit raises it; when the share stays within
 * SHARE_BAND of where it was, those 429s do not follow the client's rate and
 * the rate is not shrunk again (they are still retried), while CUBIC keeps
 * growing it. With the API's fields, a 429 whose `RateLimit` says quota
 * remains (`r` > 0) is not the rate limit either and shrinks nothing.
 *
 * Everything here is a pure function of a `PacerState` and a time in
 * seconds (table-tested with an injected clock); `Pacer` (pacer.ts) holds the
 * state and the queue of waiting requests.
 */

/** Multiplicative decrease on congestion (AWS: 0.7). */
export const BETA = 0.7;
/** CUBIC scale constant (AWS: 0.4). */
export const SCALE = 0.4;
/** Slowest pace, in requests a second (AWS: 0.5). */
export const MIN_RATE = 0.5;
/** Share of the advertised rate the client aims at, leaving room for timer jitter and clock skew. */
export const HEADROOM = 0.97;
/** Bucket size in seconds of requests at the current rate. */
export const BURST_SECONDS = 0.1;
/** Weight of the newest sample in the measured send rate (AWS: 0.8). */
export const SMOOTH = 0.8;
/** Answers (to requests sent after a shrink) needed before the next shrink is considered. */
export const MIN_EVIDENCE = 20;
/**
 * A congested share within [low, high] times the share at the last shrink
 * means the shrink did not change it: those 429s do not follow the rate.
 */
export const SHARE_BAND = { low: 0.9, high: 1.25 } as const;

/** What the pacer knows; every field is in requests, requests a second or seconds of a monotonic clock. */
export interface PacerState {
  /** False until the first congestion or advertised policy: until then nothing waits. */
  enabled: boolean;
  /** Tokens added per second. */
  fillRate: number;
  /** Ceiling of fillRate: HEADROOM times the advertised rate, or Infinity when none was advertised. */
  maxRate: number;
  tokens: number;
  /** When `tokens` was last brought up to date. */
  atS: number;
  /** CUBIC: the rate at the last congestion. */
  wMax: number;
  /** CUBIC: when the rate was last shrunk; answers to requests sent before it do not shrink it again. */
  lastDecreaseS: number;
  /** Smoothed rate of answers, requests a second (0 until measured). */
  measuredRate: number;
  /** Start of the half-second the answers are being counted in. */
  rateBucketS: number;
  /** Answers counted since rateBucketS. */
  answersInBucket: number;
  /** Nothing is sent before this (the API said its quota is spent and when it comes back). */
  blockedUntilS: number;
  /** Largest `r` the API reported, -1 before any; bounds the bucket so its bursts fit the API's. */
  maxRemaining: number;
  /** Answers to requests sent after the last shrink (all answers before the first). */
  answersSince: number;
  /** Of those, congested ones (429 or `r=0`). */
  congestedSince: number;
  /** Congested share of answers that led to the last shrink; -1 before any. */
  shareAtDecrease: number;
  /** Answers are counted for requests sent from here on (the last shrink). */
  episodeStartS: number;
}

/** What the API said about its limit in one answer (both fields optional). */
export interface RateLimitSignal {
  /** Requests a second the policy allows (q / w). */
  ratePerSecond?: number;
  /** Requests left (`r`). */
  remaining?: number;
  /** Seconds until the quota is back (`t`). */
  resetSeconds?: number;
}

/** One answer, as the pacer sees it. */
export interface PacerObservation {
  nowS: number;
  /** When the request was let through by the pacer. */
  sentAtS: number;
  /** Answered 429. */
  throttled: boolean;
  signal?: RateLimitSignal;
}

/** A fresh pacer: off, nothing measured. */
export function newPacerState(nowS: number): PacerState {
  return {
    enabled: false,
    fillRate: MIN_RATE,
    maxRate: Number.POSITIVE_INFINITY,
    tokens: 1,
    atS: nowS,
    wMax: MIN_RATE,
    lastDecreaseS: Number.NEGATIVE_INFINITY,
    measuredRate: 0,
    rateBucketS: halfSecond(nowS),
    answersInBucket: 0,
    blockedUntilS: Number.NEGATIVE_INFINITY,
    maxRemaining: -1,
    answersSince: 0,
    congestedSince: 0,
    shareAtDecrease: -1,
    episodeStartS: Number.NEGATIVE_INFINITY,
  };
}

/** The bucket's size: BURST_SECONDS of requests, at least 1, at most half the largest `r` seen. */
export function capacityOf(state: PacerState): number {
  let capacity = Math.max(1, state.fillRate * BURST_SECONDS);
  if (state.maxRemaining >= 0) capacity = Math.min(capacity, Math.max(1, state.maxRemaining / 2));
  return capacity;
}

/** Tokens brought up to `nowS`. */
export function refill(state: PacerState, nowS: number): PacerState {
  const elapsed = Math.max(0, nowS - state.atS);
  const tokens = Math.min(capacityOf(state), state.tokens + elapsed * state.fillRate);
  return { ...state, tokens, atS: Math.max(state.atS, nowS) };
}

/** Seconds to wait before the next request may go; 0 when it may go now. */
export function waitSeconds(state: PacerState, nowS: number): number {
  const blocked = Math.max(0, state.blockedUntilS - nowS);
  if (!state.enabled) return blocked;
  const { tokens } = refill(state, nowS);
  // A token short by float error is a whole one: waiting 1e-17 s would never move a clock forward.
  const forToken = tokens >= 1 - 1e-9 ? 0 : (1 - tokens) / state.fillRate;
  return Math.max(blocked, forToken);
}

/** Lets one request through at `nowS` (call when `waitSeconds` is 0): takes its token. */
export function takeToken(state: PacerState, nowS: number): PacerState {
  if (!state.enabled) return state;
  const next = refill(state, nowS);
  return { ...next, tokens: Math.max(0, next.tokens - 1) };
}

/** CUBIC's rate `dt` seconds after the last decrease: back at wMax after K seconds, then growing. */
export function cubicRate(wMax: number, secondsSinceDecrease: number): number {
  const k = Math.cbrt((wMax * (1 - BETA)) / SCALE);
  return SCALE * (secondsSinceDecrease - k) ** 3 + wMax;
}

/** Seconds after a decrease at which CUBIC is back at wMax. */
export function cubicZeroPoint(wMax: number): number {
  return Math.cbrt((wMax * (1 - BETA)) / SCALE);
}

/** Updates the measured answer rate: one more answer at `nowS`, smoothed per half second. */
export function measure(state: PacerState, nowS: number): PacerState {
  const bucket = halfSecond(nowS);
  const answers = state.answersInBucket + 1;
  if (bucket <= state.rateBucketS) return { ...state, answersInBucket: answers };
  const span = bucket - state.rateBucketS;
  // After an idle spell the old half-second says nothing about the current pace: start counting again.
  if (span > 1) return { ...state, rateBucketS: bucket, answersInBucket: 0 };
  const current = answers / span;
  const measuredRate = state.measuredRate === 0 ? current : SMOOTH * current + (1 - SMOOTH) * state.measuredRate;
  return { ...state, measuredRate, rateBucketS: bucket, answersInBucket: 0 };
}

/**
 * Folds one answer into the state: the API's fields first (policy, remaining
 * quota), then the rate: shrink on congestion (a 429, or `r=0`) once per
 * round, otherwise grow along the CUBIC curve, never above maxRate.
 */
export function observe(state: PacerState, obs: PacerObservation): PacerState {
  const { nowS, sentAtS, throttled, signal } = obs;
  let s = refill(measure(state, nowS), nowS);

  const policyRate = signal?.ratePerSecond;
  if (policyRate !== undefined && policyRate > 0) {
    const maxRate = Math.max(MIN_RATE, policyRate * HEADROOM);
    if (!s.enabled) {
      // Advertised before any congestion: pace at the ceiling straight away, CUBIC sitting on its plateau.
      s = { ...s, enabled: true, fillRate: maxRate, wMax: maxRate, lastDecreaseS: nowS - cubicZeroPoint(maxRate), tokens: 1 };
    }
    s = { ...s, maxRate, fillRate: Math.min(s.fillRate, maxRate), wMax: Math.min(s.wMax, maxRate) };
  }

  const remaining = signal?.remaining;
  if (remaining !== undefined) {
    s = { ...s, maxRemaining: Math.max(s.maxRemaining, remaining), tokens: Math.min(s.tokens, remaining) };
    if (remaining === 0) {
      const untilToken = policyRate !== undefined && policyRate > 0 ? 1 / policyRate : (signal?.resetSeconds ?? 0);
      s = { ...s, blockedUntilS: Math.max(s.blockedUntilS, nowS + untilToken) };
    }
  }

  // A 429 that says quota remains was refused for another reason (overload, an injected fault).
  const congested = (throttled && !(remaining !== undefined && remaining > 0)) || remaining === 0;
  // Answers to requests sent before the last shrink were already acted on.
  const inEpisode = sentAtS >= s.episodeStartS;
  if (inEpisode) {
    s = { ...s, answersSince: s.answersSince + 1, congestedSince: s.congestedSince + (congested ? 1 : 0) };
  }
  if (congested) {
    if (!inEpisode) return s;
    // Not worth it: keep counting, so the share is measured over more answers.
    if (!shrinkHelps(s)) return s;
    const measured = s.measuredRate > 0 ? s.measuredRate : partialRate(s, nowS);
    const rateToUse = s.enabled ? Math.min(measured, s.fillRate) : measured;
    const base = Math.max(MIN_RATE, rateToUse);
    return {
      ...s,
      enabled: true,
      wMax: base,
      lastDecreaseS: nowS,
      fillRate: clampRate(base * BETA, s.maxRate),
      tokens: Math.min(s.tokens, 1),
      shareAtDecrease: s.congestedSince / Math.max(1, s.answersSince),
      answersSince: 0,
      congestedSince: 0,
      episodeStartS: nowS,
    };
  }
  if (!s.enabled) return s;
  let rate = cubicRate(s.wMax, nowS - s.lastDecreaseS);
  // Without an advertised ceiling, do not race ahead of what is actually being sent (AWS: 2x measured).
  if (s.maxRate === Number.POSITIVE_INFINITY && s.measuredRate > 0) rate = Math.min(rate, 2 * s.measuredRate);
  return { ...s, fillRate: clampRate(rate, s.maxRate) };
}

/**
 * Whether shrinking the rate again is worth it, from the congested share of
 * answers since the last shrink: always for the first shrink; not before
 * MIN_EVIDENCE answers; not when the share is where it was at the last
 * shrink (within SHARE_BAND), which says these 429s do not follow the rate.
 */
export function shrinkHelps(state: PacerState): boolean {
  if (state.shareAtDecrease < 0) return true;
  if (state.answersSince < MIN_EVIDENCE) return false;
  const share = state.congestedSince / state.answersSince;
  const before = state.shareAtDecrease;
  // The last shrink lowered the share (the limit is real), or congestion grew since: shrink.
  return share < SHARE_BAND.low * before || share > SHARE_BAND.high * before;
}

/**
 * Reads the `RateLimit-Policy` and `RateLimit` fields (structured-field lists,
 * RFC 9651) the way draft-ietf-httpapi-ratelimit-headers-11 defines them:
 * `"name";q=100;w=1` and `"name";r=42;t=1`. When several policies are listed
 * the most restrictive wins (smallest q / w, smallest r). Answers undefined
 * when neither field says anything usable; malformed items are skipped.
 */
export function parseRateLimitFields(policyField: string | undefined, rateLimitField: string | undefined): RateLimitSignal | undefined {
  const signal: RateLimitSignal = {};
  for (const item of parseList(policyField)) {
    const q = item.params.get("q");
    const w = item.params.get("w") ?? 1;
    if (q === undefined || !(q >= 0) || !(w > 0)) continue;
    const rate = q / w;
    if (signal.ratePerSecond === undefined || rate < signal.ratePerSecond) signal.ratePerSecond = rate;
  }
  for (const item of parseList(rateLimitField)) {
    const r = item.params.get("r");
    if (r === undefined || !(r >= 0)) continue;
    if (signal.remaining === undefined || r < signal.remaining) {
      signal.remaining = r;
      const t = item.params.get("t");
      if (t !== undefined && t >= 0) signal.resetSeconds = t;
      else delete signal.resetSeconds;
    }
  }
  return Object.keys(signal).length === 0 ? undefined : signal;
}

interface ListItem {
  name: string;
  /** Numeric parameters only; the pacer needs no others. */
  params: Map<string, number>;
}

/** A structured-field list of items with parameters, keeping numeric parameters. Tolerant: bad items are dropped. */
function parseList(field: string | undefined): ListItem[] {
  if (field === undefined) return [];
  const items: ListItem[] = [];
  for (const raw of splitOutsideQuotes(field, ",")) {
    const parts = splitOutsideQuotes(raw, ";").map((p) => p.trim());
    const head = parts.shift();
    if (head === undefined || head === "") continue;
    const name = head.startsWith('"') ? head.replace(/^"|"$/g, "") : head;
    const params = new Map<string, number>();
    for (const part of parts) {
      const eq = part.indexOf("=");
      if (eq <= 0) continue;
      const key = part.slice(0, eq).trim();
      const value = part.slice(eq + 1).trim();
      if (/^-?\d+(\.\d+)?$/.test(value)) params.set(key, Number(value));
    }
    items.push({ name, params });
  }
  return items;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? "";
    if (ch === "\\" && quoted) {
      current += ch + (text[i + 1] ?? "");
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === separator && !quoted) {
      out.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out;
}

function clampRate(rate: number, maxRate: number): number {
  return Math.min(Math.max(MIN_RATE, rate), maxRate);
}

function halfSecond(t: number): number {
  return Math.floor(t * 2) / 2;
}

/** The answer rate of the half-second being counted, for a first congestion before anything was measured. */
function partialRate(state: PacerState, nowS: number): number {
  const span = Math.max(0.05, nowS - state.rateBucketS);
  return state.answersInBucket / span;
}
