/**
 * @module
 * The state an error carries. A create or update that made something and then
 * failed throws an error with `properties` (and an `id`): the engine records
 * them as created-with-error, so that nothing is orphaned. Whatever an adapter
 * does to a result's outputs (the dynamic provider's stored shape, the
 * plugin's secret marks) it must do to that state too, here in one place.
 */

/**
 * Runs a create or update; the state its error carries goes through `map`,
 * as a result's outputs would.
 */
export async function mappingPartialState<T>(
  operation: () => Promise<T>,
  map: (properties: Record<string, unknown>) => Record<string, unknown>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    const carried = error as { properties?: unknown };
    if (typeof carried === "object" && carried !== null && typeof carried.properties === "object" && carried.properties !== null) {
      carried.properties = map(carried.properties as Record<string, unknown>);
    }
    throw error;
  }
}
