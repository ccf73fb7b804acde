import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { intakeLinkPolicies, POLICY_NAMES, POLICY_PACK_NAME } from "../../policy/src/pack";

// The pack's resource policies run by @pulumi/policy's own Analyze handler
// (what the engine's gRPC call reaches), on a request built as the engine
// builds it during a preview: no socket, no process. What this proves beyond
// the rule tests: a value the engine marks unknown does not hide the other
// fields of the same resource from the policies.
const load = createRequire(require.resolve("@pulumi/policy/package.json"));
const server = load("./server.js") as {
  makeAnalyzeRpcFun(name: string, version: string, level: string, policies: unknown[]): (call: { request: unknown }, callback: (err: unknown, res?: AnalyzeResponse) => void) => Promise<void>;
};
const pb = load("@pulumi/pulumi/proto/analyzer_pb") as {
  AnalyzeRequest: new () => AnalyzeRequest;
  AnalyzerResourceOptions: new () => unknown;
};
const { Struct } = load("google-protobuf/google/protobuf/struct_pb") as { Struct: { fromJavaScript(value: unknown): unknown } };

interface AnalyzeRequest {
  setType(type: string): void;
  setName(name: string): void;
  setUrn(urn: string): void;
  setProperties(props: unknown): void;
  setOptions(opts: unknown): void;
}
interface AnalyzeResponse {
  getDiagnosticsList(): { getPolicyname(): string; getMessage(): string }[];
  getNotApplicableList(): { getPolicyName?(): string }[];
}

const UNKNOWN_MARKER = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const NOW = Date.parse("2027-01-01T00:00:00Z");

async function analyze(type: string, name: string, props: Record<string, unknown>): Promise<{ policy: string; message: string }[]> {
  const request = new pb.AnalyzeRequest();
  request.setType(type);
  request.setName(name);
  request.setUrn(`urn:pulumi:dev::p::${type}::${name}`);
  request.setProperties(Struct.fromJavaScript(props));
  request.setOptions(new pb.AnalyzerResourceOptions());
  const rpc = server.makeAnalyzeRpcFun(POLICY_PACK_NAME, "0.1.0", "advisory", intakeLinkPolicies(() => NOW).resources);
  const response = await new Promise<AnalyzeResponse>((resolve, reject) => {
    void rpc({ request }, (err, res) => (err || !res ? reject(err ?? new Error("no response")) : resolve(res)));
  });
  return response.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), message: d.getMessage() }));
}

describe("the pack's policies behind @pulumi/policy's Analyze handler", () => {
  it("judges a dynamic session's expiry during a preview where its trace id is not known yet", async () => {
    const found = await analyze("pulumi-nodejs:dynamic/klarefi:IntakeSession", "claim-1", {
      __provider: "exports.handler = …",
      args: { caseTypeId: "motor_claim", externalCaseId: "c1", externalApplicantId: "a1", traceId: UNKNOWN_MARKER, expiresAt: "2027-07-20T00:00:00Z", keyScope: "p/dev/claim-1" },
    });
    expect(found).toEqual([{ policy: POLICY_NAMES.expiry, message: expect.stringContaining('IntakeSession "claim-1": expiresAt 2027-07-20T00:00:00Z is 200 days ahead') }]);
  });

  it("judges a plugin campaign's known rows when one row's return URL is not known yet", async () => {
    const found = await analyze("klarefi:index:IntakeCampaignLinks", "hail", {
      caseTypeId: "hail_damage",
      expiresAt: UNKNOWN_MARKER,
      reissue: "allow",
      rows: { a: { applicant: "1", returnUrl: UNKNOWN_MARKER }, b: { applicant: "2", returnUrl: "http://x.example/" } },
    });
    expect(found.map((f) => f.policy).sort()).toEqual([POLICY_NAMES.reissue, POLICY_NAMES.returnUrl]);
    expect(found.find((f) => f.policy === POLICY_NAMES.returnUrl)?.message).toContain('IntakeCampaignLinks "hail", row b: rows.b.returnUrl http://x.example/ is not https');
  });

  it("leaves other resources alone", async () => {
    expect(await analyze("aws:s3/bucket:Bucket", "b", { expiresAt: "2030-01-01T00:00:00Z", returnUrl: "http://x/" })).toEqual([]);
  });
});
