import { describe, expect, it } from "vitest";
import { loadProtocol, providerService } from "../../provider/plugin/server";
import { secret } from "../../provider/plugin/values";

// The plugin's gRPC methods called directly, with the protocol's own
// messages (no server, no socket): what the engine sends, what comes back.

const proto = loadProtocol();
const pb = proto.provider;
const struct = (value: Record<string, unknown>) => proto.struct.Struct.fromJavaScript(value) as never;

function service(overrides: { checkConfig?: (c: { get(k: string): string | undefined }) => string | undefined } = {}) {
  const configured: { get(key: string): string | undefined }[] = [];
  const svc = providerService(proto, {
    version: "9.9.9",
    handlers: {},
    configure: async (config) => {
      configured.push(config);
    },
    checkConfig: overrides.checkConfig ?? (() => undefined),
  });
  return { svc, configured };
}

/** Calls a unary method the way grpc-js does and resolves with its answer (or rejects with its error). */
function call<R>(method: (call: { request: R }, callback: (error: unknown, value?: unknown) => void) => void, request: R): Promise<unknown> {
  return new Promise((resolve, reject) => method({ request }, (error, value) => (error ? reject(error) : resolve(value))));
}

describe("the plugin's provider config methods", () => {
  it("answers DiffConfig with no change for the same settings and an in-place change for new ones, never a replacement", async () => {
    const { svc } = service();
    const same = new pb.DiffRequest().setOlds(struct({ baseUrl: "http://a", apiKey: "k" })).setNews(struct({ baseUrl: "http://a", apiKey: "k" }));
    const none = (await call(svc.diffConfig, same)) as InstanceType<typeof pb.DiffResponse>;
    expect(none.getChanges()).toBe(pb.DiffResponse.DiffChanges.DIFF_NONE);
    const moved = new pb.DiffRequest().setOlds(struct({ baseUrl: "http://a", apiKey: "k" })).setNews(struct({ baseUrl: "http://b", apiKey: "k" }));
    const some = (await call(svc.diffConfig, moved)) as InstanceType<typeof pb.DiffResponse>;
    expect(some.getChanges()).toBe(pb.DiffResponse.DiffChanges.DIFF_SOME);
    expect(some.getDiffsList()).toEqual(["baseUrl"]);
    expect(some.getReplacesList()).toEqual([]);
  });

  it("hands a secret key and the other settings to the shared implementation on Configure", async () => {
    const { svc, configured } = service();
    const request = new pb.ConfigureRequest().setArgs(struct({ apiKey: secret("sk_test_abcdefgh"), baseUrl: "http://127.0.0.1:4010", maxRetries: 2 }));
    const response = (await call(svc.configure, request)) as InstanceType<typeof pb.ConfigureResponse>;
    expect(response.getAcceptsecrets()).toBe(false);
    expect(configured[0]?.get("klarefi:apiKey")).toBe("sk_test_abcdefgh");
    expect(configured[0]?.get("klarefi:baseUrl")).toBe("http://127.0.0.1:4010");
    expect(configured[0]?.get("klarefi:maxRetries")).toBe("2");
  });

  it("refuses a key that is not a secret on Configure, before the implementation sees it", async () => {
    const { svc, configured } = service();
    const request = new pb.ConfigureRequest()
      .setArgs(struct({ apiKey: "sk_test_abcdefgh" }))
      .setUrn("urn:pulumi:dev::claims::pulumi:providers:klarefi::default");
    await expect(call(svc.configure, request)).rejects.toMatchObject({
      details: expect.stringContaining("pulumi config set --secret klarefi:apiKey <your API key> --stack dev"),
    });
    expect(configured).toEqual([]);
  });

  it("reports a refused setting once on CheckConfig, and returns the settings as they came", async () => {
    const { svc } = service({ checkConfig: (c) => (c.get("klarefi:maxConcurrentRequests") === "0" ? "maxConcurrentRequests must be 1 or more" : undefined) });
    const bad = (await call(svc.checkConfig, new pb.CheckRequest().setNews(struct({ maxConcurrentRequests: "0" })))) as InstanceType<typeof pb.CheckResponse>;
    expect(bad.getFailuresList().map((f) => f.getReason())).toEqual(["maxConcurrentRequests must be 1 or more"]);
    const good = (await call(svc.checkConfig, new pb.CheckRequest().setNews(struct({ maxConcurrentRequests: "4" })))) as InstanceType<typeof pb.CheckResponse>;
    expect(good.getFailuresList()).toEqual([]);
    expect(good.getInputs()?.toJavaScript()).toEqual({ maxConcurrentRequests: "4" });
  });

  it("serves the schema and the version it was given", async () => {
    const { svc } = service();
    const schema = (await call(svc.getSchema, new pb.GetSchemaRequest())) as InstanceType<typeof pb.GetSchemaResponse>;
    expect(JSON.parse(schema.getSchema())).toMatchObject({ name: "klarefi", version: "9.9.9" });
  });

  it("names a resource type it does not serve", async () => {
    const { svc } = service();
    const request = new pb.CheckRequest().setUrn("urn:pulumi:dev::claims::klarefi:index:Nope::x").setNews(struct({}));
    await expect(call(svc.check, request)).rejects.toMatchObject({ details: "The klarefi provider has no resource type klarefi:index:Nope." });
  });
});
