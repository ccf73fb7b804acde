import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CampaignRowsError, logicalNameFor, parseCampaignCsv, validateCampaignRows, writeMailMerge } from "../../provider/campaign";

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
      "line 3: externalApplicantId is required",
      'line 4: external_case_id "c1" duplicates line 2',
      "line 5: externalCaseId is required",
    ]);
    expect((error as Error).message).toMatch(/^applicants.csv has 3 invalid rows; nothing was sent to Klarefi/);
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

describe("mail-merge export", () => {
  it("writes the links with owner-only permissions", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "klarefi-mm-")), "links.csv");
    writeMailMerge(file, { c1: { sessionId: "ses_1", signedUrl: "http://127.0.0.1/i/ses_1?sig=x" } }, { c1: "a1" });
    expect(readFileSync(file, "utf8")).toBe("external_case_id,external_applicant_id,session_id,signed_url\nc1,a1,ses_1,http://127.0.0.1/i/ses_1?sig=x\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
