import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ProviderConnection } from "../../provider/settings";
import { describe, expect, it, onTestFinished } from "vitest";
import type { Session } from "../../contract/schemas";
import { CampaignLinksProviderImpl } from "../../provider/campaign/links/provider";
import { IntakeSessionProviderImpl } from "../../provider/intake-session/provider";
import { campaignInputProblems, campaignLinksHandler, rowsFromCsvAsset } from "../../provider/plugin/campaign";
import { importedInputs, intakeSessionHandler } from "../../provider/plugin/resources";
import { klarefiSchema } from "../../provider/plugin/schema";
import { plaintextKeyMessage } from "../../provider/plugin/server";
import { hasUnknowns, isSecret, keyScopeFromUrn, providerConfig, secret, UNKNOWN, unwrapSecrets, wireAsset, withSecrets } from "../../provider/plugin/values";

const repoRoot = path.resolve(__dirname, "../..");

describe("the plugin's key scope", () => {
  it.each([
    ["urn:pulumi:dev::claims::klarefi:index:IntakeSession::claim-48392", "claims/dev/claim-48392"],
    ["urn:pulumi:prod-eu::hail::klarefi:index:IntakeCampaignLinks::hail-2027", "hail/prod-eu/hail-2027"],
    // A child resource's type is qualified by its parent's; the name is still the last part.
    ["urn:pulumi:dev::claims::my:index:Parent$klarefi:index:IntakeSession::child", "claims/dev/child"],
  ])("is project/stack/name of %s, as the TypeScript resources make it", (urn, scope) => {
    expect(keyScopeFromUrn(urn)).toBe(scope);
  });

  it("refuses something that is not a resource URN", () => {
    expect(() => keyScopeFromUrn("claim-48392")).toThrow('Not a resource URN: "claim-48392".');
  });
});

describe("secret and unknown values on the wire", () => {
  it("wraps, recognises and unwraps secrets, deeply", () => {
    const wrapped = { a: secret("x"), b: [secret({ c: secret(1) })], d: "plain" };
    expect(isSecret(wrapped.a)).toBe(true);
    expect(isSecret("x")).toBe(false);
    expect(unwrapSecrets(wrapped)).toEqual({ a: "x", b: [{ c: 1 }], d: "plain" });
  });

  it("marks only the named outputs that are present, and never twice", () => {
    const out = withSecrets({ signedUrl: "https://x", sessionId: "ses_1", gone: undefined, already: secret("y") }, ["signedUrl", "gone", "already"]);
    expect(out).toEqual({ signedUrl: secret("https://x"), sessionId: "ses_1", gone: undefined, already: secret("y") });
  });

  it("finds an unknown anywhere in the inputs", () => {
    expect(hasUnknowns({ caseTypeId: "motor_claim", rows: { a: { applicant: UNKNOWN } } })).toBe(true);
    expect(hasUnknowns({ caseTypeId: "motor_claim", rows: { a: { applicant: "x" } } })).toBe(false);
  });
});

describe("provider config as the shared implementation reads it", () => {
  it.each([
    ["klarefi:apiKey", { apiKey: secret("sk_test_abc") }, "sk_test_abc"],
    ["klarefi:baseUrl", { baseUrl: "http://127.0.0.1:4010" }, "http://127.0.0.1:4010"],
    ["klarefi:maxConcurrentRequests", { maxConcurrentRequests: 4 }, "4"],
    ["klarefi:maxRetries", { maxRetries: "" }, undefined],
    ["klarefi:baseUrl", {}, undefined],
  ])("%s from %j is %s", (key, inputs, value) => {
    expect(providerConfig(inputs).get(key)).toBe(value);
  });
});

const session: Session = {
  object: "intake_session",
  session_id: "ses_abc",
  case_id: "ses_abc",
  signed_url: "https://intake.klarefi.local/s/ses_abc?sig=x",
  status: "open",
  case_type_id: "motor_claim",
  idempotency_key: "cli_1",
  external_case_id: "claim_48392",
  external_applicant_id: "applicant_789",
  return_url: "https://claims.example.com/claim_48392",
  locale: null,
  trace_id: "trace-1",
  expires_at: "2027-03-31T00:00:00Z",
  created_at: "2027-03-01T00:00:00Z",
  revoked_at: null,
};

describe("the inputs pulumi import records", () => {
  it("are the session's own fields and the key scope, without the API's null fields and without the expiry", () => {
    expect(importedInputs(session, "claims/dev/claim")).toEqual({
      caseTypeId: "motor_claim",
      externalCaseId: "claim_48392",
      externalApplicantId: "applicant_789",
      returnUrl: "https://claims.example.com/claim_48392",
      traceId: "trace-1",
      keyScope: "claims/dev/claim",
    });
  });
});

describe("a plugin campaign's rows and settings", () => {
  const inputs = (over: Record<string, unknown> = {}) => ({
    caseTypeId: "hail_damage",
    rows: { storm_1: { applicant: "applicant_1" }, storm_2: { applicant: "applicant_2", locale: "fr" } },
    keyScope: "hail/dev/storm",
    ...over,
  });

  it("has no problem when every row and setting follows the contract", () => {
    expect(campaignInputProblems({}, inputs())).toEqual([]);
  });

  it("names each bad row by its external case id, with the contract's words", () => {
    const problems = campaignInputProblems({}, inputs({ rows: { storm_1: { applicant: "" }, "storm 2": { applicant: "a", locale: "not a locale" } } }));
    expect(problems.map((p) => p.property)).toEqual(["rows.storm_1", "rows.storm 2"]);
    expect(problems[0]?.reason).toMatch(/^storm_1: externalApplicantId/);
    expect(problems[1]?.reason).toMatch(/^storm 2: locale/);
  });

  it("names a bad campaign-wide setting by the property the program sets", () => {
    const problems = campaignInputProblems({}, inputs({ locale: "not a locale", returnUrl: "http://claims.example.com" }));
    expect(problems.map((p) => p.property)).toEqual(["locale", "returnUrl"]);
    expect(problems.every((p) => !p.reason.includes("defaults."))).toBe(true);
  });

  it("refuses a new expiresAt in the past but keeps an unchanged one, so an expired campaign can still be destroyed", () => {
    const past = "2020-01-01T00:00:00Z";
    expect(campaignInputProblems({}, inputs({ expiresAt: past })).map((p) => p.property)).toEqual(["expiresAt"]);
    expect(campaignInputProblems({ expiresAt: past }, inputs({ expiresAt: past }))).toEqual([]);
  });
});

/** An asset as the engine sends it to a provider (Pulumi's wire signature of assets and archives). */
const SIG = "4dabf18193072939515e22adb298388d";
const fileAsset = (file: string) => ({ [SIG]: "c44067f5952c0a294b673a41bacd8c17", path: file, hash: "0".repeat(64) });
const stringAsset = (text: string) => ({ [SIG]: "c44067f5952c0a294b673a41bacd8c17", text, hash: "0".repeat(64) });

/** A project folder holding `applicants.csv` with `csv`. */
function projectWithCsv(csv: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "klarefi-csv-asset-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, "applicants.csv"), csv);
  return dir;
}

describe("a plugin campaign's CSV asset", () => {
  const CSV = "external_case_id,external_applicant_id,locale,return_url\nhail_1,applicant_1,,\nhail_2,applicant_2,NL,https://claims.example.com/2\n";

  it("reads an asset's path, hash and nothing else off the wire", () => {
    expect(wireAsset(fileAsset("applicants.csv"))).toEqual({ path: "applicants.csv", hash: "0".repeat(64) });
    expect(wireAsset({ [SIG]: "0def7320c3a5731c473e5ecbe6d01bc7", assets: {} })).toBe("archive");
    expect(wireAsset("applicants.csv")).toBeUndefined();
  });

  it("becomes the rows, in the form of the rows property, read from the project folder", () => {
    const dir = projectWithCsv(CSV);
    expect(rowsFromCsvAsset(fileAsset("applicants.csv"), dir)).toEqual({
      rows: { hail_1: { applicant: "applicant_1" }, hail_2: { applicant: "applicant_2", locale: "nl", returnUrl: "https://claims.example.com/2" } },
    });
    expect(rowsFromCsvAsset(stringAsset(CSV), dir)).toEqual(rowsFromCsvAsset(fileAsset("applicants.csv"), dir));
  });

  it("is refused with one failure per problem, naming the file and the line, in IntakeCampaign's words", () => {
    const dir = projectWithCsv("external_case_id,external_applicant_id,locale,return_url\nhail_1,applicant_1,,,x\nhail_2,,,\n");
    expect(rowsFromCsvAsset(fileAsset("applicants.csv"), dir)).toEqual({
      failures: [
        { property: "", reason: "applicants.csv: line 2: 5 cells, the header has 4 columns" },
        { property: "", reason: "applicants.csv: line 3: external_applicant_id is required" },
      ],
    });
    expect(rowsFromCsvAsset(fileAsset("missing.csv"), dir)).toEqual({ failures: [{ property: "", reason: `missing.csv: cannot read ${path.join(dir, "missing.csv")}: it does not exist (ENOENT)` }] });
  });

  it("must be a file or string asset", () => {
    for (const value of [{ [SIG]: "0def7320c3a5731c473e5ecbe6d01bc7", assets: {} }, { [SIG]: "c44067f5952c0a294b673a41bacd8c17", uri: "https://x.example/a.csv" }, "applicants.csv"]) {
      expect(rowsFromCsvAsset(value)).toEqual({ failures: [{ property: "", reason: expect.stringMatching(/^csvFile must be a file asset/) }] });
    }
  });

  it("is checked into rows that state keeps beside the asset, and refused together with rows", async () => {
    const handler = campaignLinksHandler(new CampaignLinksProviderImpl(new ProviderConnection(), () => ({ info: () => {} })));
    const urn = "urn:pulumi:dev::hail::klarefi:index:IntakeCampaignLinks::storm";
    const asset = stringAsset(CSV);
    const checked = await handler.check(urn, {}, { caseTypeId: "hail_damage", locale: "nl", csvFile: asset });
    expect(checked.failures).toEqual([]);
    expect(checked.inputs).toMatchObject({ caseTypeId: "hail_damage", keyScope: "hail/dev/storm", csvFile: asset, rows: { hail_2: { applicant: "applicant_2", locale: "nl" } } });
    const both = await handler.check(urn, {}, { caseTypeId: "hail_damage", csvFile: asset, rows: { a: { applicant: "b" } } });
    expect(both.failures).toEqual([{ property: "", reason: "give exactly one of rows or csvFile" }]);
    const neither = await handler.check(urn, {}, { caseTypeId: "hail_damage" });
    expect(neither.failures).toEqual([{ property: "", reason: "give exactly one of rows or csvFile" }]);
  });
});

describe("the state a failed create carries", () => {
  const failure = (properties: Record<string, unknown>) =>
    Object.assign(new Error("created, with problems"), { id: "x", properties, reasons: ["created, with problems"] });

  it("keeps a campaign's signed URLs secret when some rows failed", async () => {
    const impl = { create: () => Promise.reject(failure({ sessions: { a: { id: "ses_a" } }, signedUrls: { a: "https://x/a" } })) };
    const handler = campaignLinksHandler(impl as unknown as CampaignLinksProviderImpl);
    const error = (await handler.create("urn:pulumi:dev::p::klarefi:index:IntakeCampaignLinks::c", {}).catch((e: unknown) => e)) as {
      properties: Record<string, unknown>;
    };
    expect(error.properties).toEqual({ sessions: { a: { id: "ses_a" } }, signedUrls: secret({ a: "https://x/a" }) });
  });

  it("keeps a session's signed URL secret when it did not match the request", async () => {
    const impl = { create: () => Promise.reject(failure({ sessionId: "ses_a", signedUrl: "https://x/a" })) };
    const handler = intakeSessionHandler(impl as unknown as IntakeSessionProviderImpl);
    const error = (await handler.create("urn:pulumi:dev::p::klarefi:index:IntakeSession::s", {}).catch((e: unknown) => e)) as {
      properties: Record<string, unknown>;
    };
    expect(error.properties).toEqual({ sessionId: "ses_a", signedUrl: secret("https://x/a") });
  });
});

describe("the plaintext key refusal", () => {
  it("gives the command that fixes it, for the stack of the provider", () => {
    const message = plaintextKeyMessage("urn:pulumi:prod::claims::pulumi:providers:klarefi::default");
    expect(message).toContain("pulumi config set --secret klarefi:apiKey <your API key> --stack prod");
    expect(message).not.toMatch(/sk_(test|live)_/);
  });
});

describe("the package schema", () => {
  it("marks the signed URLs and the API key secret", () => {
    const schema = klarefiSchema("1.2.3") as {
      version: string;
      config: { variables: Record<string, { secret?: boolean }> };
      provider: { inputProperties: Record<string, { secret?: boolean }> };
      resources: Record<string, { properties: Record<string, { secret?: boolean }> }>;
    };
    expect(schema.version).toBe("1.2.3");
    expect(schema.config.variables.apiKey?.secret).toBe(true);
    expect(schema.provider.inputProperties.apiKey?.secret).toBe(true);
    expect(schema.resources["klarefi:index:IntakeSession"]?.properties.signedUrl?.secret).toBe(true);
    expect(schema.resources["klarefi:index:IntakeCampaignLinks"]?.properties.signedUrls?.secret).toBe(true);
  });

  it("is the one the committed Python SDK was generated from (run tools/pulumi-sdkgen/generate.sh after changing it)", () => {
    const version = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
    const generatedFrom = JSON.parse(readFileSync(path.join(repoRoot, "sdk", "schema.json"), "utf8")) as unknown;
    expect(generatedFrom).toEqual(klarefiSchema(version));
    const plugin = JSON.parse(readFileSync(path.join(repoRoot, "sdk", "python", "pulumi_klarefi", "pulumi-plugin.json"), "utf8")) as unknown;
    expect(plugin).toEqual({ resource: true, name: "klarefi", version });
  });

  it("is the one the committed Go SDK was generated from: module path, plugin version, every resource, property and description (run tools/pulumi-sdkgen/generate.sh after changing it)", () => {
    const version = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
    const schema = klarefiSchema(version) as {
      language: { go: { importBasePath: string } };
      provider: { inputProperties: Record<string, { description?: string }> };
      resources: Record<string, { properties: Record<string, { description?: string }>; inputProperties: Record<string, { description?: string }> }>;
      types: Record<string, { properties: Record<string, { description?: string }> }>;
    };
    // The module is sdk/go, the package its subfolder named by the import path's last element.
    const importPath = schema.language.go.importBasePath;
    const packageDir = path.join(repoRoot, "sdk", "go", path.posix.basename(importPath));
    const goMod = readFileSync(path.join(repoRoot, "sdk", "go", "go.mod"), "utf8");
    expect(goMod.split("\n")).toContain(`module ${path.posix.dirname(importPath)}`);
    const plugin = JSON.parse(readFileSync(path.join(packageDir, "pulumi-plugin.json"), "utf8")) as unknown;
    expect(plugin).toEqual({ resource: true, name: "klarefi", version });

    const source = readdirSync(packageDir)
      .filter((name) => name.endsWith(".go"))
      .map((name) => readFileSync(path.join(packageDir, name), "utf8"))
      .join("\n");
    const missing: string[] = [];
    const expectProperties = (owner: string, properties: Record<string, { description?: string }>) => {
      for (const [name, property] of Object.entries(properties)) {
        if (!source.includes(`\`pulumi:"${name}"\``)) missing.push(`${owner}.${name}`);
        if (property.description !== undefined && !source.includes(`// ${property.description}\n`)) missing.push(`${owner}.${name} (description)`);
      }
    };
    expectProperties("provider", schema.provider.inputProperties);
    for (const [token, resource] of Object.entries(schema.resources)) {
      if (!source.includes(`ctx.RegisterResource("${token}"`)) missing.push(token);
      expectProperties(token, { ...resource.inputProperties, ...resource.properties });
    }
    for (const [token, type] of Object.entries(schema.types)) expectProperties(token, type.properties);
    expect(missing).toEqual([]);
  });
});
