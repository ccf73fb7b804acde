/**
 * @module
 * The one rule both campaign modes and `IntakeSession` share about mailed
 * links: a change that needs a new link is refused, with the count, unless the
 * user asked for it. The sentence lives here so both modes say the same thing.
 */

import { programName } from "../contract/request-fields";

/**
 * The sentence shown when a change would revoke and reissue live links.
 * `fields` are API names (shown as program names) or names already as the
 * user wrote them; empty when unknown.
 */
export function reissueMessage(caseIds: readonly string[], fields: readonly string[]): string {
  const n = caseIds.length;
  const shown = caseIds.slice(0, 5).join(", ") + (n > 5 ? `, and ${(n - 5).toLocaleString("en-US")} more` : "");
  const names = fields.map(programName).join(", ");
  const cause = names === "" ? "a changed field that is sent to the API needs a new link" : `a new ${names} needs a new link`;
  return (
    `This change would revoke and reissue ${n.toLocaleString("en-US")} live link${n === 1 ? "" : "s"} (${shown}): ${cause}, ` +
    `and the link${n === 1 ? "" : "s"} already mailed would stop working. A new expiresAt alone keeps every link. ` +
    `To reissue on purpose, set reissue: "allow" (applicants who completed keep their sessions) or change rotation; otherwise undo the change.`
  );
}
