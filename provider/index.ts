/**
 * `@klarefi/pulumi`: Klarefi intake sessions as Pulumi resources.
 *
 * - {@link IntakeSession}: one applicant's signed intake link.
 * - {@link IntakeCampaign}: the links of a fixed campaign, from rows or a CSV file,
 *   one resource per link or all of them in one {@link IntakeCampaignLinks}.
 * - The typed API client: `@klarefi/pulumi/client` (also re-exported here as `Klarefi`).
 */
export { IntakeSession, type IntakeSessionArgs, type IntakeSessionOutputs } from "./intake-session";
export {
  IntakeCampaign,
  IntakeCampaignLinks,
  CampaignRowsError,
  parseCampaignCsv,
  validateCampaignRows,
  readablePacked,
  unpackLinks,
  unpackRows,
  unpackUrls,
  type IntakeCampaignArgs,
  type IntakeCampaignLinksArgs,
  type StatusSummary,
  type CampaignLink,
  type CampaignRow,
} from "./campaign";
export { Klarefi } from "../client/klarefi";
