/**
 * @module
 * The state an error carries. A create or update that made something and then
 * failed throws an error with `properties` (and an `id`): the engine records
 * them as created-with-error, so that nothing is orphaned. Whatever an adapter
 * does to a result's outputs (the dynamic provider's stored shape and its
 * serialized provider, the plugin's secret marks) it must do to that state
 * too, here in one place.
 */

/** The key under which the dynamic-provider host keeps the serialized provider. */
const SERIALIZED_PROVIDER_KEY = "__provider";

/** An error that carries what was made before the failure; the engine keeps `properties` in state. */
export interface PartialStateError extends Error {
  id: string;
  properties: Record<string, unknown>;
  reasons: string[];
}

/**
 * The one way to fail an operation that made something: the engine records
 * `properties` under `id` (created-with-error), shows `reasons`, and the next
 * `up`, `refresh` or `destroy` starts from that state.
 */
export function partialStateError(message: string, id: string, properties: Record<string, unknown>, reasons: string[] = [message]): PartialStateError {
  return Object.assign(new Error(message), { id, properties, reasons });
}

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

/**
 * For the dynamic provider: the host adds the serialized provider to a
 * result's outputs but stores an error's state as it is, and without it a
 * later `refresh` or `destroy` cannot load the provider (`code must be a
 * string`). This puts it back, taken from the inputs of the call.
 */
export function keepingSerializedProvider(inputs: Record<string, unknown>, map: (properties: Record<string, unknown>) => Record<string, unknown> = (p) => p) {
  return (properties: Record<string, unknown>): Record<string, unknown> => ({ ...map(properties), [SERIALIZED_PROVIDER_KEY]: inputs[SERIALIZED_PROVIDER_KEY] });
}
