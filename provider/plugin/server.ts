/**
 * @module
 * `pulumi-resource-klarefi`: the provider plugin that serves the package's
 * resources to every Pulumi language (YAML, Python, …) and to
 * `pulumi import`, from the implementations the dynamic provider runs for
 * TypeScript programs.
 *
 * It serves `pulumirpc.ResourceProvider` itself, with the stubs and gRPC
 * library that ship inside `@pulumi/pulumi`, rather than through
 * `pulumi.provider.main`: that server never passes the provider's config to
 * `configure` (pulumi/pulumi#10915) and answers `CheckConfig` / `DiffConfig`
 * UNIMPLEMENTED, and the key must be read from config and kept secret.
 *
 * Protocol choices: `acceptSecrets: false`, so the engine hands over plain
 * values and keeps the secretness of inputs on its side; outputs the schema
 * marks secret (`signedUrl`, `signedUrls`) are returned wrapped as secrets.
 * `Configure`, which sees config with its secret marks, refuses an API key
 * that is not a secret (it would be stored unencrypted with the provider's
 * state), as TypeScript programs refuse it (provider/config-guard.ts);
 * `CheckConfig` reports a bad setting once, at the provider; `DiffConfig`
 * compares settings, so a no-op preview stays a no-op. Methods not written
 * here (Construct, Call, Invoke, Parameterize, Handshake, …) answer
 * UNIMPLEMENTED.
 */
import { createRequire } from "node:module";
import type * as grpcTypes from "@grpc/grpc-js";
import type * as providerPb from "@pulumi/pulumi/proto/provider_pb";
import { sharedIntakeSessionImpl } from "../intake-session/provider";
import { configProblemOf, secretApiKeyCommand, sharedProviderConnection } from "../settings";
import { intakeSessionHandler, type ResourceHandler } from "./resources";
import { CAMPAIGN_LINKS_TOKEN, INTAKE_SESSION_TOKEN, klarefiSchema } from "./schema";
import { isSecret, plain, providerConfig, unwrapSecrets } from "./values";

type Props = Record<string, unknown>;

interface StructLike {
  toJavaScript(): Props;
}
interface StructClass {
  fromJavaScript(value: Props): StructLike;
}

/** The gRPC pieces, from the `@pulumi/pulumi` this package runs with (its own dependencies). */
export function loadProtocol() {
  const fromSdk = createRequire(require.resolve("@pulumi/pulumi"));
  return {
    grpc: fromSdk("@grpc/grpc-js") as typeof grpcTypes,
    providerGrpc: fromSdk("@pulumi/pulumi/proto/provider_grpc_pb") as { ResourceProviderService: grpcTypes.ServiceDefinition },
    provider: fromSdk("@pulumi/pulumi/proto/provider_pb") as typeof providerPb,
    plugin: fromSdk("@pulumi/pulumi/proto/plugin_pb") as { PluginInfo: new () => { setVersion(v: string): unknown } },
    status: fromSdk("@pulumi/pulumi/proto/status_pb") as {
      Status: new () => { setCode(c: number): void; setMessage(m: string): void; addDetails(d: unknown): void; serializeBinary(): Uint8Array };
    },
    any: fromSdk("google-protobuf/google/protobuf/any_pb") as { Any: new () => { pack(bytes: Uint8Array, name: string): void } },
    empty: fromSdk("google-protobuf/google/protobuf/empty_pb") as { Empty: new () => unknown },
    struct: fromSdk("google-protobuf/google/protobuf/struct_pb") as { Struct: StructClass },
  };
}

type Protocol = ReturnType<typeof loadProtocol>;
type Callback = (error: unknown, value?: unknown, trailer?: unknown) => void;
type Call<R> = { request: R };

/** The package version (`package.json`), which is also the plugin's. */
export function pluginVersion(): string {
  return (require("@klarefi/pulumi/package.json") as { version: string }).version;
}

/** The resource type token of a URN (`urn:pulumi:stack::project::type::name`). */
function typeOf(urn: string): string {
  return urn.split("::")[2] ?? "";
}

/**
 * Why a plaintext key is refused, with the command that fixes it (the words
 * of the TypeScript programs' check, provider/config-guard.ts).
 */
export function plaintextKeyMessage(providerUrn: string): string {
  const stack = /^urn:pulumi:([^:]+)::/.exec(providerUrn)?.[1];
  return (
    "The Klarefi API key reached the provider in plaintext: stack config klarefi:apiKey was set without --secret " +
    "(or an explicit provider's apiKey is not a secret), and Pulumi would keep it unencrypted in state. " +
    "Store it encrypted instead, then run again:\n" +
    `    ${secretApiKeyCommand(stack)}`
  );
}

/** An error that carries a created resource (id, state): the engine records it as created with errors. */
interface InitFailure extends Error {
  id?: string;
  properties?: Props;
  reasons?: string[];
}

/**
 * The `pulumirpc.ResourceProvider` implementation. `handlers` maps type
 * tokens to makers of their resources (each made on first use);
 * `configure` hands the provider's config to the shared implementation.
 */
export function providerService(
  proto: Protocol,
  options: {
    version: string;
    handlers: Record<string, () => ResourceHandler>;
    configure(config: { get(key: string): string | undefined }): Promise<void>;
    /** The problem of a provider config (a refused setting, no key), in a sentence; undefined when usable. */
    checkConfig(config: { get(key: string): string | undefined }): string | undefined;
  },
) {
  const { provider: pb, struct } = proto;
  const toJs = (value: StructLike | undefined): Props => (value ? (unwrapSecrets(value.toJavaScript()) as Props) : {});
  const toStruct = (value: Props) => struct.Struct.fromJavaScript(plain(value));
  const made = new Map<string, ResourceHandler>();
  const handlerFor = (urn: string): ResourceHandler => {
    const type = typeOf(urn);
    let handler = made.get(type);
    if (handler === undefined) {
      const make = options.handlers[type];
      if (!make) throw new Error(`The klarefi provider has no resource type ${type}.`);
      handler = make();
      made.set(type, handler);
    }
    return handler;
  };

  /** Answers a unary call with what `run` returns, or with its error as the engine expects it. */
  const unary =
    <R>(run: (request: R) => Promise<unknown>) =>
    (call: Call<R>, callback: Callback) => {
      run(call.request).then(
        (value) => callback(null, value),
        (error: unknown) => callback(grpcError(proto, error)),
      );
    };

  return {
    getPluginInfo: unary(async () => {
      const info = new proto.plugin.PluginInfo();
      info.setVersion(options.version);
      return info;
    }),
    getSchema: unary(async (req: providerPb.GetSchemaRequest) => {
      if (req.getVersion() !== 0) throw new Error(`Unsupported schema version ${req.getVersion()}.`);
      return new pb.GetSchemaResponse().setSchema(JSON.stringify(klarefiSchema(options.version)));
    }),
    checkConfig: unary(async (req: providerPb.CheckRequest) => {
      // One clean failure for a bad setting, at the provider, before any resource is looked at.
      const news = req.getNews()?.toJavaScript() ?? {};
      const resp = new pb.CheckResponse().setInputs(struct.Struct.fromJavaScript(plain(news)) as never);
      const problem = options.checkConfig(providerConfig(news));
      if (problem !== undefined) resp.setFailuresList([new pb.CheckFailure().setProperty("").setReason(problem)]);
      return resp;
    }),
    diffConfig: unary(async (req: providerPb.DiffRequest) => {
      const olds = toJs(req.getOldInputs() ?? req.getOlds());
      const news = toJs(req.getNews());
      const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
      const changed = [...keys].filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
      const resp = new pb.DiffResponse();
      resp.setChanges(changed.length > 0 ? pb.DiffResponse.DiffChanges.DIFF_SOME : pb.DiffResponse.DiffChanges.DIFF_NONE);
      resp.setDiffsList(changed);
      return resp;
    }),
    configure: unary(async (req: providerPb.ConfigureRequest) => {
      const args = req.getArgs()?.toJavaScript() ?? {};
      // The engine passes config here with its secret marks: a key without one would sit unencrypted in state.
      if (args.apiKey !== undefined && args.apiKey !== null && args.apiKey !== "" && !isSecret(args.apiKey)) {
        throw new Error(plaintextKeyMessage(req.getUrn() ?? ""));
      }
      await options.configure(providerConfig(args));
      const resp = new pb.ConfigureResponse();
      resp.setAcceptsecrets(false);
      resp.setAcceptresources(false);
      resp.setSupportspreview(false);
      return resp;
    }),
    check: unary(async (req: providerPb.CheckRequest) => {
      const { inputs, failures } = await handlerFor(req.getUrn()).check(req.getUrn(), toJs(req.getOlds()), toJs(req.getNews()));
      const resp = new pb.CheckResponse().setInputs(toStruct(inputs) as never);
      resp.setFailuresList(failures.map((f) => new pb.CheckFailure().setProperty(f.property).setReason(f.reason)));
      return resp;
    }),
    diff: unary(async (req: providerPb.DiffRequest) => {
      const result = await handlerFor(req.getUrn()).diff(req.getId(), toJs(req.getOlds()), toJs(req.getNews()));
      const resp = new pb.DiffResponse();
      resp.setChanges(result.changes ? pb.DiffResponse.DiffChanges.DIFF_SOME : pb.DiffResponse.DiffChanges.DIFF_NONE);
      resp.setReplacesList(result.replaces);
      resp.setDeletebeforereplace(result.deleteBeforeReplace);
      return resp;
    }),
    create: unary(async (req: providerPb.CreateRequest) => {
      const { id, outs } = await handlerFor(req.getUrn()).create(req.getUrn(), toJs(req.getProperties()));
      return new pb.CreateResponse().setId(id).setProperties(toStruct(outs) as never);
    }),
    read: unary(async (req: providerPb.ReadRequest) => {
      const result = await handlerFor(req.getUrn()).read(req.getId(), req.getUrn(), toJs(req.getProperties()));
      const resp = new pb.ReadResponse().setId(result.id).setProperties(toStruct(result.props) as never);
      if (result.inputs !== undefined) resp.setInputs(toStruct(result.inputs) as never);
      return resp;
    }),
    update: unary(async (req: providerPb.UpdateRequest) => {
      const { outs } = await handlerFor(req.getUrn()).update(req.getId(), toJs(req.getOlds()), toJs(req.getNews()));
      return new pb.UpdateResponse().setProperties(toStruct(outs) as never);
    }),
    delete: unary(async (req: providerPb.DeleteRequest) => {
      await handlerFor(req.getUrn()).delete(req.getId(), toJs(req.getProperties()));
      return new proto.empty.Empty();
    }),
    // Ctrl-C: a bulk campaign in flight starts no more rows and returns what it finished, which the engine records.
    cancel: unary(async () => {
      for (const handler of made.values()) handler.cancel?.();
      return new proto.empty.Empty();
    }),
  };
}

/**
 * The gRPC error for a failed call. An error that carries the id of a
 * resource that was created anyway (`IntakeSessionProviderImpl` and the bulk
 * provider throw those) goes back as `ErrorResourceInitFailed`, so the engine
 * keeps the resource in state and a later destroy revokes it.
 */
function grpcError(proto: Protocol, error: unknown): Partial<grpcTypes.ServiceError> {
  const e = (error instanceof Error ? error : new Error(String(error))) as InitFailure;
  const metadata = new proto.grpc.Metadata();
  if (typeof e.id === "string" && e.id !== "") {
    const detail = new proto.provider.ErrorResourceInitFailed();
    detail.setId(e.id);
    detail.setProperties(proto.struct.Struct.fromJavaScript(plain(e.properties ?? {})) as never);
    detail.setReasonsList(e.reasons ?? [e.message]);
    const any = new proto.any.Any();
    any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
    const status = new proto.status.Status();
    status.setCode(proto.grpc.status.UNKNOWN);
    status.setMessage(e.message);
    status.addDetails(any);
    metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  }
  return { code: proto.grpc.status.UNKNOWN, details: e.message, message: e.message, metadata };
}

/**
 * Starts the plugin: serves on a free port of 127.0.0.1 and prints the port
 * as the first line of stdout, which is how the engine finds it. The engine's
 * address (the last argument) is only used for progress lines
 * (provider/engine-log.ts reads it from `process.argv`).
 */
export async function main(): Promise<void> {
  const proto = loadProtocol();
  const sessions = sharedIntakeSessionImpl();
  const service = providerService(proto, {
    version: pluginVersion(),
    handlers: {
      [INTAKE_SESSION_TOKEN]: () => intakeSessionHandler(sessions),
      // Loaded on first use: the campaign's modules load `@pulumi/pulumi` (about a second).
      [CAMPAIGN_LINKS_TOKEN]: () => (require("./campaign") as typeof import("./campaign")).campaignLinksHandler(),
    },
    configure: (config) => sharedProviderConnection().configureFrom(config),
    checkConfig: (config) => configProblemOf(config),
  });
  const server = new proto.grpc.Server({ "grpc.max_receive_message_length": 1 << 30, "grpc.max_send_message_length": 1 << 30 });
  server.addService(proto.providerGrpc.ResourceProviderService, service as unknown as grpcTypes.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", proto.grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  process.stdout.write(`${port}\n`);
}
