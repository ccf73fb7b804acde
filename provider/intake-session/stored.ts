/**
 * @module
 * What the dynamic provider keeps in state for one session, and how it reads
 * every shape earlier versions wrote.
 *
 * The file and S3 backends rewrite the whole checkpoint at every step of an
 * `up` or `destroy`, so each session's state is paid for once per step of
 * the run: a per-link campaign of N links pays it about N² times. Measured
 * on the engine (`npm run bench -- --mode per-link --floor`), the cost follows
 * the number of properties and bytes per resource; the shape here is the
 * smallest that still keeps every guarantee:
 *
 * - inputs: `{ args: { …the resource's arguments, keyScope } }`. One input
 *   property, so one entry of `propertyDependencies` instead of one per field.
 *   `pulumi preview --diff` still shows the field that changed
 *   (`~ args: { ~ locale: "nl" => "fr" }`), and a secret argument stays a
 *   secret field.
 * - outputs: `{ args: <the request snapshot>, signedUrl, status, expiresAt }`.
 *   The snapshot is what `diff` compares new inputs with (a dynamic
 *   provider's `diff` sees old outputs only). It is stored under the same key
 *   as the inputs so that the engine marks a field secret in it whenever the
 *   input was. The session id is the resource id; the creation time and the
 *   key are the API's to answer (`klarefi sessions get`).
 *
 * The implementation (`IntakeSessionProviderImpl`, shared with the plugin)
 * works on flat inputs and full outputs; this module converts at the edge.
 */
import type { IntakeSessionOutputs } from "./inputs";
import { isRecord } from "./policy";

/** The one input (and the snapshot output) property of a stored session. */
export const STORED_ARGS = "args";

/** What the dynamic provider stores as a session's outputs (the host adds `__provider`). */
export interface StoredSessionOutputs {
  args: IntakeSessionOutputs["request"];
  signedUrl: string;
  status: IntakeSessionOutputs["status"];
  expiresAt: string;
}

/**
 * The flat inputs the implementation checks and uses, from stored or
 * registered inputs of any version: `{ args: {...} }` now, the fields at top
 * level before. The serialized provider (`__provider`) is left out.
 */
export function flatInputs(props: Record<string, unknown>): Record<string, unknown> {
  if (isRecord(props[STORED_ARGS])) return { ...props[STORED_ARGS] };
  const { __provider: _provider, ...flat } = props;
  return flat;
}

/** The inputs to store for checked flat inputs. */
export function storedInputs(flat: Record<string, unknown>): Record<string, unknown> {
  return { [STORED_ARGS]: flat };
}

/** The outputs to store for what the implementation answered. */
export function storedOutputs(outs: IntakeSessionOutputs): StoredSessionOutputs {
  return { [STORED_ARGS]: outs.request, signedUrl: outs.signedUrl, status: outs.status, expiresAt: outs.expiresAt };
}

/**
 * Stored outputs of any version as the implementation reads them: the
 * snapshot where it expects it (`request`), the session id from the resource
 * id. State written before the snapshot existed keeps its top-level echoes,
 * which the diff reads as a snapshot of its own.
 */
export function fullOutputs(id: string, olds: Record<string, unknown>): Record<string, unknown> {
  const expanded: Record<string, unknown> = { sessionId: id, ...olds };
  if (isRecord(olds[STORED_ARGS])) expanded.request = olds[STORED_ARGS];
  return expanded;
}
