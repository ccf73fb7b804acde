/**
 * @module
 * The opt-in mail-merge export: the campaign's live links in a CSV file that
 * only its owner can read.
 */
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import type { CampaignLink } from "./component";

/** Writes the mail-merge CSV atomically with mode 0600 and returns its path. */
export function writeMailMerge(file: string, links: Record<string, CampaignLink>, applicants: Record<string, string>): string {
  const cell = (value: string) => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  const lines = ["external_case_id,external_applicant_id,session_id,signed_url"];
  for (const [caseId, link] of Object.entries(links)) {
    lines.push([caseId, applicants[caseId] ?? "", link.sessionId, link.signedUrl].map(cell).join(","));
  }
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, lines.join("\n") + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}
