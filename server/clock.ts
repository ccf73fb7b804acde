/**
 * @module
 * Time as the local server sees it, and the one timestamp format it answers with.
 */
/**
 * The server's clock: real time plus an offset that the dev-only
 * `POST /_admin/clock` endpoint moves forward, so tests can reach expiry
 * without waiting. The offset lives in memory only: a restart returns to real
 * time.
 */
export class ServerClock {
  #offsetMs = 0;

  constructor(private readonly realNow: () => number = Date.now) {}

  /** Milliseconds since the epoch, as the server sees it. */
  now(): number {
    return this.realNow() + this.#offsetMs;
  }

  /** Moves the clock forward by `seconds` (>= 0) and answers the new time. */
  advance(seconds: number): number {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new RangeError(`The clock only moves forward; got ${seconds} seconds.`);
    }
    this.#offsetMs += seconds * 1000;
    return this.now();
  }

  /** Returns to real time. */
  reset(): void {
    this.#offsetMs = 0;
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }
}

/** RFC 3339 UTC with second precision, the form every timestamp is returned in: `2027-03-31T00:00:00Z`. */
export function formatTimestamp(ms: number): string {
  return new Date(floorToSecond(ms)).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
