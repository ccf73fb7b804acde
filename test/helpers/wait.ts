/**
 * @module
 * Bounded polling for tests: wait for a state the test can observe instead of
 * sleeping for a guessed head start, and fail with a sentence naming what
 * never happened.
 */

export interface WaitOptions {
  /** Most probes made. Default 400. */
  tries?: number;
  /** Pause between probes, in ms. Default 10. */
  intervalMs?: number;
  /** Longest wait in all, in ms. Default 20000. */
  timeoutMs?: number;
}

/**
 * Probes until `probe` answers something other than `undefined` and returns
 * that; throws after `tries` probes or `timeoutMs`, whichever comes first.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, options: WaitOptions = {}): Promise<T> {
  const tries = options.tries ?? 400;
  const intervalMs = options.intervalMs ?? 10;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const started = Date.now();
  for (let i = 0; i < tries && Date.now() - started <= timeoutMs; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`Gave up waiting for ${what} after ${Date.now() - started} ms (at most ${tries} checks, ${timeoutMs} ms).`);
}
