import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as klarefi from "@klarefi/pulumi";

// The repository's own Pulumi project (`klarefi-intake`): one intake campaign
// whose every setting comes from stack config, so the same program serves any
// CSV without code changes:
//
//   pulumi config set csvFile path/to/applicants.csv
//   pulumi config set caseTypeId hail_damage
//   pulumi config set locale nl
//   pulumi up
//
// Relative paths are taken from the project folder (where Pulumi.yaml is).
const projectDir = path.resolve(__dirname, "..");
const config = new pulumi.Config();
const fromProject = (file: string) => path.resolve(projectDir, file);

const mailMergeFile = config.get("mailMergeFile");
const mode = config.get("mode");
if (mode !== undefined && mode !== "per-link" && mode !== "bulk") {
  throw new pulumi.RunError(`Stack config klarefi-intake:mode must be "per-link" or "bulk", got "${mode}".`);
}
const reissue = config.get("reissue");
if (reissue !== undefined && reissue !== "allow") {
  throw new pulumi.RunError(`Stack config klarefi-intake:reissue must be "allow" or unset, got "${reissue}".`);
}

const campaign = new klarefi.IntakeCampaign(config.get("campaignName") ?? "campaign", {
  caseTypeId: config.get("caseTypeId") ?? "hail_damage",
  csvFile: fromProject(config.get("csvFile") ?? "examples/campaign/applicants.csv"),
  defaults: {
    locale: config.get("locale"),
    returnUrl: config.get("returnUrl"),
    expiresAt: config.get("expiresAt"),
    traceId: config.get("traceId"),
  },
  rotation: config.get("rotation"),
  mode,
  reissue,
  retainOnDelete: config.getBoolean("retainOnDelete"),
  mailMergeFile: mailMergeFile === undefined ? undefined : fromProject(mailMergeFile),
});

/** external_case_id -> { sessionId, signedUrl }. Secret: `pulumi stack output --show-secrets links`. */
export const links = campaign.links;
/** How many links the campaign holds. */
export const size = campaign.size;
/** Counts per status (open, completed, revoked, expired); `pulumi refresh --run-program` updates it. */
export const summary = campaign.summary;
