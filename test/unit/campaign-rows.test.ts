import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { parse } from "csv-parse/sync";
import { CampaignRowsError, campaignRows, logicalNameFor, parseCampaignCsv, validateCampaignRows, writeMailMerge } from "../../provider/campaign";

const parseCsvLine = (line: string): string[] => (parse(line) as string[][])[0] ?? [];

describe("campaign CSV parsing", () => {
  it("reads rows with their line numbers and per-row overrides", () => {
    const rows = parseCampaignCsv("external_case_id,external_applicant_id,locale,return_url\nc1,a1,nl,\n\nc2,a2,,https://x.example/2\n");
    expect(rows).toEqual([
      { externalCaseId: "c1", externalApplicantId: "a1", locale: "nl", line: 2 },
      { externalCaseId: "c2", externalApplicantId: "a2", returnUrl: "https://x.example/2", line: 4 },
    ]);
  });

  it("accepts quoted fields with commas", () => {
    const rows = parseCampaignCsv('external_case_id,external_applicant_id\n"c,1","a ""x"""\n');
    expect(rows[0]).toMatchObject({ externalCaseId: "c,1", externalApplicantId: 'a "x"' });
  });

  it("reports every invalid and duplicated row with its line number before anything else happens", () => {
    const csv = "external_case_id,external_applicant_id\nc1,a1\nc2,\nc1,a3\n,a4\n";
    let error: unknown;
    try {
      parseCampaignCsv(csv, "applicants.csv");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CampaignRowsError);
    const problems = (error as CampaignRowsError).problems;
    expect(problems).toEqual([
      "line 3: external_applicant_id is required",
      'line 4: external_case_id "c1" duplicates line 2',
      "line 5: external_case_id is required",
    ]);
    expect((error as Error).message).toMatch(/^applicants.csv has 3 problems; nothing was sent to Klarefi/);
  });

  it("refuses an unknown column so a typo does not drop data", () => {
    expect(() => parseCampaignCsv("external_case_id,external_applicant_id,lcoale\nc1,a1,nl\n")).toThrow(/line 1: unknown column "lcoale"/);
  });

  it("refuses a header without the required columns", () => {
    expect(() => parseCampaignCsv("case,applicant\n")).toThrow(/unknown column "case"/);
    expect(() => parseCampaignCsv("")).toThrow(/the file is empty/);
  });

  it("refuses two case ids that would share a resource name", () => {
    expect(() => validateCampaignRows([{ externalCaseId: "a/b", externalApplicantId: "1" }, { externalCaseId: "a:b", externalApplicantId: "2" }])).toThrow(
      /line 2: external_case_id "a:b" maps to the same resource name as line 1/,
    );
  });

  it.each([
    ["claim_48392", "claim_48392"],
    ["HAIL-2027.001", "HAIL-2027.001"],
    ["a/b c", "a_b_c"],
  ])("names the resource for case %s with suffix %s", (caseId, expected) => {
    expect(logicalNameFor(caseId)).toBe(expected);
  });
});

describe("a campaign CSV that cannot be read", () => {
  it("is reported with its full path and why, so a relative path's working directory is no guess", () => {
    const error = (() => {
      try {
        campaignRows({ caseTypeId: "hail_damage", csvFile: "no-such-applicants.csv" });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CampaignRowsError);
    expect((error as Error).message).toBe(
      `no-such-applicants.csv has 1 problem; nothing was sent to Klarefi:\n  - cannot read ${path.resolve("no-such-applicants.csv")}: it does not exist (ENOENT)`,
    );
  });
});

describe("mail-merge export", () => {
  it("writes the links with owner-only permissions", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "klarefi-mm-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, "links.csv");
    writeMailMerge(file, [{ externalCaseId: "c1", externalApplicantId: "a1", sessionId: "ses_1", signedUrl: "http://127.0.0.1/i/ses_1?sig=x", locale: "nl", expiresAt: "2027-06-30T00:00:00Z" }]);
    expect(readFileSync(file, "utf8")).toBe(
      "external_case_id,external_applicant_id,session_id,signed_url,locale,expires_at\nc1,a1,ses_1,http://127.0.0.1/i/ses_1?sig=x,nl,2027-06-30T00:00:00Z\n",
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it.each(["=HYPERLINK(\"http://evil.example\")", "+1+1", "-2+3", "@SUM(A1)"])(
    "neutralises a cell a spreadsheet would run as a formula: %s",
    (cell) => {
      const dir = mkdtempSync(path.join(tmpdir(), "klarefi-mm-"));
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      const file = path.join(dir, "links.csv");
      writeMailMerge(file, [{ externalCaseId: cell, externalApplicantId: "a1", sessionId: "ses_1", signedUrl: "https://x.example/i/ses_1" }]);
      const line = readFileSync(file, "utf8").split("\n")[1] ?? "";
      const parsed = parseCsvLine(line);
      expect(parsed[0]).toBe(`'${cell}`);
      expect(parsed.slice(1, 4)).toEqual(["a1", "ses_1", "https://x.example/i/ses_1"]);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    },
  );
});
