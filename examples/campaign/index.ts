import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as klarefi from "@klarefi/pulumi";

// One intake link per applicant in applicants.csv. Resource names come from
// external_case_id, so adding, removing or editing a row touches only that
// row's link; `pulumi destroy` revokes them all.
const config = new pulumi.Config();

/** Optional: write external_case_id,external_applicant_id,session_id,signed_url here after `pulumi up` (mode 0600). */
const mailMergeFile = config.get("mailMergeFile");
/** Optional: change to reissue every link (the old ones are revoked once the new ones exist). */
const rotation = config.get("rotation");
/** Optional: "bulk" keeps every link in one engine resource (for thousands of applicants). */
const mode = config.get("mode") === "bulk" ? "bulk" : "per-link";

const campaign = new klarefi.IntakeCampaign("hail", {
  caseTypeId: "hail_damage",
  csvFile: path.join(__dirname, "applicants.csv"),
  // Rows without their own locale / return_url get these.
  defaults: { locale: "nl", returnUrl: "https://claims.example.com/hail" },
  rotation,
  mode,
  mailMergeFile: mailMergeFile === undefined ? undefined : path.resolve(__dirname, mailMergeFile),
});

/** external_case_id -> { sessionId, signedUrl }. Secret: `pulumi stack output --show-secrets links`. */
export const links = campaign.links;
/** How many links the campaign holds. */
export const size = campaign.size;
/** Counts per status (open, completed, revoked, expired). */
export const summary = campaign.summary;
