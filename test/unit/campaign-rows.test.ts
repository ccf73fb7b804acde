import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { parse } from "csv-parse/sync";
import { CampaignRowsError, campaignRows, logicalNameFor, parseCampaignCsv, validateCampaignRows, writeMailMerge } from "../../provider/campaign";
import { problemSentences, type RowProblem, scanCsvRecords } from "../../provider/campaign/rows";

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

const HEADER = "external_case_id,external_applicant_id,locale,return_url";

/** The CampaignRowsError a CSV raises (the test fails when it raises nothing). */
function refusal(csv: string): CampaignRowsError {
  try {
    parseCampaignCsv(csv, "applicants.csv");
  } catch (error) {
    if (error instanceof CampaignRowsError) return error;
    throw error;
  }
  throw new Error("the CSV was accepted");
}

describe("CSV layout problems", () => {
  it("reports every row with an extra cell, in our words, each on its line, with the rows' other problems", () => {
    const error = refusal([HEADER, "c1,a1,nl,", "c2,a2,nl,,x", "c3,,nl,", "c4,a4,fr,,y", "c5,a5"].join("\n"));
    expect(error.problems).toEqual([
      "line 3: 5 cells, the header has 4 columns",
      "line 4: external_applicant_id is required",
      "line 5: 5 cells, the header has 4 columns",
      "line 6: 2 cells, the header has 4 columns",
    ]);
    expect(error.message).toMatch(/^applicants.csv has 4 problems; nothing was sent to Klarefi:\n {2}- line 3: 5 cells/);
  });

  it("names an extra header column as an unknown column instead of counting the cells of line 2", () => {
    const error = refusal([`${HEADER},notes`, "c1,a1,nl,", "c2,a2,,"].join("\n"));
    expect(error.problems).toEqual(['line 1: unknown column "notes" (expected external_case_id, external_applicant_id, locale, return_url)']);
  });

  it("reports an unclosed quote at the line of its opening quote, not at the end of a 2001-line file, and reads on from the next line", () => {
    const body = Array.from({ length: 1997 }, (_, i) => `d${i},b${i},,`);
    const csv = [HEADER, "c1,a1,nl,", 'c2,"a2,nl,', "c3,,nl,", ...body].join("\n");
    expect(csv.split("\n")).toHaveLength(2001);
    expect(refusal(csv).problems).toEqual(["line 3: a quoted cell is not closed", "line 4: external_applicant_id is required"]);
  });

  it("reports text after a closing quote and a quote inside an unquoted cell on their own lines", () => {
    const error = refusal([HEADER, 'c1,"a1"x,,', "c2,a2,,", 'c3,a"3,,', 'c4,"a ""4""",,'].join("\n"));
    expect(error.problems).toEqual([
      'line 2: a quoted cell has text after its closing quote (inside quotes, write a quote as "")',
      'line 4: a quote inside an unquoted cell (put the whole cell in quotes and write the quote as "")',
    ]);
  });

  it("reports a bad row that spans lines at its first line, and counts the lines inside its quotes (CRLF too)", () => {
    const error = refusal([HEADER, 'c1,"a\r\n1",nl_NL,', "c2,a2,,", "c3,a3,,,"].join("\r\n"));
    expect(error.problems).toEqual(['line 2: locale must be a BCP 47 language tag such as "nl" or "nl-BE"', "line 5: 5 cells, the header has 4 columns"]);
  });

  it("reports a header with a column twice, and one without a required column", () => {
    expect(refusal("external_case_id,external_applicant_id,locale,Locale\nc1,a1,nl,fr\n").problems).toEqual(['line 1: column "Locale" appears twice']);
    expect(refusal("external_case_id,locale\nc1,nl\n").problems).toEqual(["line 1: the header has no external_applicant_id column"]);
  });

  it("gives every problem as data: line, column and message", () => {
    const error = refusal([HEADER, "c1,a1,,", "c2,,nl_NL,", "c3,a3,,,x", "c1,a4,,"].join("\n"));
    expect(error.details).toEqual([
      { line: 3, column: "external_applicant_id", message: "external_applicant_id is required" },
      { line: 3, column: "locale", message: 'locale must be a BCP 47 language tag such as "nl" or "nl-BE"' },
      { line: 4, message: "5 cells, the header has 4 columns" },
      { line: 5, column: "external_case_id", message: 'external_case_id "c1" duplicates line 2' },
    ]);
    expect(error.problems[0]).toBe('line 3: external_applicant_id is required; locale must be a BCP 47 language tag such as "nl" or "nl-BE"');
  });

  it("reads a valid file with quotes, blank lines, a BOM and CRLF as before", () => {
    const rows = parseCampaignCsv(`\uFEFF${HEADER}\r\n"c,1", "a ""x""" ,NL,\r\n\r\nc2,a2,,https://x.example/2\r\n`);
    expect(rows).toEqual([
      { externalCaseId: "c,1", externalApplicantId: 'a "x"', locale: "nl", line: 2 },
      { externalCaseId: "c2", externalApplicantId: "a2", returnUrl: "https://x.example/2", line: 4 },
    ]);
  });
});

describe("the CSV layout scan", () => {
  it.each([
    ["plain lines", "a,b\nc,d\n", [[1, "a,b"], [2, "c,d"]], []],
    ["blank lines skipped", "a,b\n\n  \nc,d", [[1, "a,b"], [4, "c,d"]], []],
    ["a quoted line break", 'a,"b\nc"\nd,e\n', [[1, 'a,"b\nc"'], [3, "d,e"]], []],
    ["an unclosed quote", 'a,b\n"c,d\ne,f\n', [[1, "a,b"], [3, "e,f"]], [{ line: 2, message: "a quoted cell is not closed" }]],
    ["a lone CR as line break", "a,b\rc,d", [[1, "a,b"], [2, "c,d"]], []],
  ] as const)("splits %s into records at their first lines", (_what, csv, records, problems) => {
    const scan = scanCsvRecords(csv);
    expect(scan.records.map((r) => [r.line, r.text])).toEqual(records);
    expect(scan.problems).toEqual(problems);
  });
});

describe("problem sentences", () => {
  it.each<[string, RowProblem[], string[]]>([
    ["one per line", [{ line: 2, message: "a" }, { line: 3, message: "b" }], ["line 2: a", "line 3: b"]],
    ["a line's problems joined", [{ line: 2, column: "x", message: "a" }, { line: 2, column: "y", message: "b" }], ["line 2: a; b"]],
    ["a problem without a line as it is", [{ column: "caseTypeId", message: "caseTypeId must be …" }, { line: 1, message: "c" }], ["caseTypeId must be …", "line 1: c"]],
  ])("are %s", (_what, problems, sentences) => {
    expect(problemSentences(problems)).toEqual(sentences);
  });
});

describe("a campaign row's locale", () => {
  it("is read into canonical case from a CSV and from the program's rows", () => {
    expect(parseCampaignCsv("external_case_id,external_applicant_id,locale\nc1,a1,NL\nc2,a2,nl-nl\n").map((r) => r.locale)).toEqual(["nl", "nl-NL"]);
    expect(validateCampaignRows([{ externalCaseId: "c1", externalApplicantId: "a1", locale: "ZH-hant-tw" }])[0]?.locale).toBe("zh-Hant-TW");
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
