/**
 * @module
 * `Pacer`: the client's pacing state (pacing.ts) and the FIFO queue of
 * requests waiting for their turn. One per client, so one per provider
 * process; every attempt (retries included) waits its turn here before it
 * takes a connection.
 *
 * Until the first answer only one request goes out: it tells the pacer
 * whether the API advertises a limit before the rest of a campaign is sent.
 */
import { newPacerState, observe, type PacerState, type RateLimitSignal, takeToken, waitSeconds } from "./pacing";

export interface PacerOptions {
  /** Off: requests never wait (the state is still kept, for tests and logs). Default on. */
  enabled?: boolean;
  /** Monotonic clock in seconds; `performance.now() / 1000` by default. */
  now?: () => number;
}

interface Waiter {
  resolve: (sentAtS: number) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class Pacer {
  readonly #enabled: boolean;
  readonly #now: () => number;
  #state: PacerState;
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** No answer yet and the first request is out: the others wait for its answer. */
  #probing = false;
  #answered = false;

  constructor(options: PacerOptions = {}) {
    this.#enabled = options.enabled ?? true;
    this.#now = options.now ?? (() => performance.now() / 1000);
    this.#state = newPacerState(this.#now());
  }

  /** The pacing state now, for logs and tests. */
  get state(): Readonly<PacerState> {
    return this.#state;
  }

  /** Requests waiting for their turn. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Waits for the next request's turn and answers when it was let through
   * (pass it back to `observe`). An abort ends the wait early (the caller
   * checks its signal); so does `close`.
   */
  acquire(signal?: AbortSignal): Promise<number> {
    if (!this.#enabled) return Promise.resolve(this.#now());
    if (this.#waiters.length === 0 && this.#mayGo()) return Promise.resolve(this.#let());
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        signal,
        onAbort: () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(this.#now());
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /** An answer arrived for a request let through at `sentAtS`. */
  observe(sentAtS: number, status: number, signal: RateLimitSignal | undefined): void {
    this.#answered = true;
    this.#probing = false;
    this.#state = observe(this.#state, {
      nowS: this.#now(),
      sentAtS,
      throttled: status === 429,
      ...(signal === undefined ? {} : { signal }),
    });
    this.#pump();
  }

  /** The request let through got no answer (network error, timeout, abort): let the queue move on. */
  settled(): void {
    if (!this.#probing) return;
    this.#probing = false;
    this.#pump();
  }

  /** Lets every waiter go (the client is closing; they find it closed). */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      w.signal?.removeEventListener("abort", w.onAbort);
      w.resolve(this.#now());
    }
  }

  #mayGo(): boolean {
    if (!this.#answered && this.#probing) return false;
    return waitSeconds(this.#state, this.#now()) <= 0;
  }

  #let(): number {
    const now = this.#now();
    if (!this.#answered) this.#probing = true;
    this.#state = takeToken(this.#state, now);
    return now;
  }

  #pump(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#waiters.length > 0) {
      if (!this.#answered && this.#probing) return; // the probe's answer pumps again
      const wait = waitSeconds(this.#state, this.#now());
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#pump();
        }, Math.max(1, Math.ceil(wait * 1000)));
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter === undefined) return;
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#let());
    }
  }
}
