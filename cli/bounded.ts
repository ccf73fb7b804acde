/**
 * @module
 * The CLI's bounded runner for its bulk commands (`klarefi sessions
 * status|revoke --from-csv`): at most the client's cap at once, stopping at
 * the first failure. The mail-merge file they read is contract/mail-merge.ts.
 */

/**
 * Runs `task` for every item with at most `limit` running at once. Stops
 * starting new ones after the first failure, aborts `controller` so calls in
 * flight give up, and rejects with that first failure.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  controller: AbortController,
  task: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}
