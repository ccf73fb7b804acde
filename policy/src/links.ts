/**
 * @module
 * The package's link resources as the policies see them, whatever the
 * program's language: an `IntakeSession` or an `IntakeCampaignLinks` of the
 * dynamic provider (TypeScript and JavaScript programs) or of the provider
 * plugin (YAML, Python, generated SDKs). Their inputs differ in shape: the
 * dynamic `IntakeSession` keeps its arguments in one input,
 * `{ __provider, args: {…} }`, the plugin's are flat, and the campaign's
 * rows are read by rows.ts alone. Stored shapes are decoded with the
 * package's own helpers, so a new shape needs no change here.
 */
import { INTAKE_SESSION_TYPE } from "../../provider/intake-session/resource";
import { flatInputs, STORED_ARGS } from "../../provider/intake-session/stored";
import { CAMPAIGN_LINKS_TYPE } from "../../provider/campaign/links/resource";
import { CAMPAIGN_LINKS_TOKEN, INTAKE_SESSION_TOKEN } from "../../provider/plugin/schema";
import { type CampaignRowView, campaignRowsOf } from "./rows";
import { isObject, type Plain, textOf, UNKNOWN, type Unknown } from "./values";

/** Type tokens of one link each: the dynamic provider's and the plugin's. */
export const SESSION_TYPES: readonly string[] = [INTAKE_SESSION_TYPE, INTAKE_SESSION_TOKEN];
/** Type tokens of a whole bulk campaign: the dynamic provider's and the plugin's. */
export const CAMPAIGN_LINKS_TYPES: readonly string[] = [CAMPAIGN_LINKS_TYPE, CAMPAIGN_LINKS_TOKEN];
/** The component of `IntakeCampaign` (TypeScript programs); in per-link mode, the parent of its sessions. */
export const CAMPAIGN_COMPONENT_TYPE = "klarefi:index:IntakeCampaign";

/** The fields the policies judge, as the user writes them; {@link UNKNOWN} until known. */
export interface LinkFields {
  expiresAt: string | Unknown | undefined;
  returnUrl: string | Unknown | undefined;
  reissue: string | Unknown | undefined;
}

/** A link resource of this package, read from its inputs. */
export type LinkResource =
  | ({ kind: "session"; label: string } & LinkFields)
  | ({ kind: "campaign"; label: string; rows: CampaignRowView[] | Unknown } & LinkFields);

function fieldsOf(flat: { [key: string]: Plain }): LinkFields {
  return { expiresAt: textOf(flat.expiresAt), returnUrl: textOf(flat.returnUrl), reissue: textOf(flat.reissue) };
}

const ALL_UNKNOWN: LinkFields = { expiresAt: UNKNOWN, returnUrl: UNKNOWN, reissue: UNKNOWN };

/**
 * The link resource a resource of type `type` named `name` with inputs
 * `inputs` is, or undefined for any other resource. `label` names it in
 * messages: `IntakeSession "claim-48392"`.
 */
export function linkResourceOf(type: string, name: string, inputs: Plain): LinkResource | undefined {
  const props = isObject(inputs) ? inputs : {};
  if (SESSION_TYPES.includes(type)) {
    const label = `IntakeSession "${name}"`;
    // The dynamic provider's arguments, not known as a whole yet: nothing can be judged.
    if (props[STORED_ARGS] === UNKNOWN) return { kind: "session", label, ...ALL_UNKNOWN };
    return { kind: "session", label, ...fieldsOf(flatInputs(props) as { [key: string]: Plain }) };
  }
  if (CAMPAIGN_LINKS_TYPES.includes(type)) {
    return { kind: "campaign", label: `IntakeCampaignLinks "${name}"`, rows: campaignRowsOf(props), ...fieldsOf(props) };
  }
  return undefined;
}
