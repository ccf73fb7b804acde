import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { MAIL_MERGE_COLUMNS, mailMergeWritten, readMailMerge, writeMailMerge } from "../../contract/mail-merge";

function scratch(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "klarefi-mm-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("the mail-merge file, written and read by one module", () => {
  it("reads back what the writer wrote: every session with its line and case references, never the signed URL", () => {
    const file = path.join(scratch(), "links.csv");
    writeMailMerge(file, [
      { externalCaseId: "c1", externalApplicantId: "a1", sessionId: "ses_1", signedUrl: "https://x.example/i/ses_1?sig=secret", locale: "nl", expiresAt: "2027-06-30T00:00:00Z" },
      { externalCaseId: "=SUM(A1)", externalApplicantId: "a2", sessionId: "ses_2", signedUrl: "https://x.example/i/ses_2?sig=secret" },
    ]);
    const read = readMailMerge(file);
    expect(read).toEqual({
      ok: true,
      rows: [
        { line: 2, sessionId: "ses_1", externalCaseId: "c1", externalApplicantId: "a1" },
        { line: 3, sessionId: "ses_2", externalCaseId: "'=SUM(A1)", externalApplicantId: "a2" },
      ],
    });
    expect(JSON.stringify(read)).not.toContain("sig=");
    expect(MAIL_MERGE_COLUMNS).toContain("session_id");
  });

  it("names a file it cannot read by its full path, and says why", () => {
    const dir = scratch();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(readMailMerge("missing.csv")).toEqual({ ok: false, problem: `cannot read ${path.join(dir, "missing.csv")}: it does not exist (ENOENT)` });
    } finally {
      process.chdir(cwd);
    }
  });

  it("refuses a file without a session_id column, with its full path", () => {
    const file = path.join(scratch(), "other.csv");
    writeFileSync(file, "external_case_id,signed_url\nc1,x\n");
    expect(readMailMerge(file)).toEqual({ ok: false, problem: `${file} has no session_id column: give the mail-merge file a campaign wrote (mailMergeFile)` });
  });

  it.each([
    [2000, "/abs/links.csv", "Wrote 2,000 links to /abs/links.csv (mode 0600: it holds live links)"],
    [1, "/abs/one.csv", "Wrote 1 link to /abs/one.csv (mode 0600: it holds live links)"],
  ])("after writing %i rows to %s, up says %s", (rows, file, line) => {
    expect(mailMergeWritten(file, rows)).toBe(line);
  });
});
