/**
 * @module
 * The floor: what the engine itself costs for N resources. N no-op
 * `pulumi.dynamic.Resource`s, each with a minimal provider (a `create` that
 * returns at once, nothing else), through the same engine, backend and
 * settings as the campaign. A campaign's `up` or `destroy` can approach this
 * figure but not go below it; the ratio to it is the per-link overhead.
 *
 * The secret floor is the same with one secret output per resource, a string
 * as long as a signed link: the least any resource that keeps its link in
 * state (encrypted, as every link must be) can cost. The distance between the
 * two floors is the engine's handling of secrets at each checkpoint rewrite,
 * which no provider can remove.
 */
import * as pulumi from "@pulumi/pulumi";
import { cpuResult, type FloorResult, round } from "./report";
import { type BenchBackend, BenchStack, type EngineSettings, assertNoChange, engineCpu, type Timed } from "./stack";

/**
 * The minimal provider. `pulumi.dynamic.Resource` stores it, serialized by
 * Pulumi's closure serialization (about 500 bytes), with every resource, as
 * a user's own dynamic resource would. No `diff` (the host compares inputs),
 * no `delete` (nothing to remove), no `read` (refresh keeps the state).
 */
const noopProvider: pulumi.dynamic.ResourceProvider = {
  async create() {
    return { id: "0", outs: {} };
  },
};

/**
 * The same with one output, as long as a signed link of the local server
 * (`<base>/i/<session id>?exp=<seconds>&sig=<64 hex>`, about 145
 * characters), made secret by the resource as `IntakeSession` makes its
 * `signedUrl`. Built in the function so that the serialized provider stays
 * within a few bytes of the floor's.
 */
const LINK_LENGTH = 145;
const secretOutputProvider: pulumi.dynamic.ResourceProvider = {
  async create() {
    // LINK_LENGTH written out: a captured constant would be serialized with every resource.
    return { id: "0", outs: { link: "l".repeat(145) } };
  },
};

/** Which floor: no outputs, or one secret output. */
export type FloorKind = "plain" | "secret";

/** A resource that does nothing: the engine's own cost of one resource (with one secret output, for the secret floor). */
class NoopResource extends pulumi.dynamic.Resource {
  constructor(name: string, kind: FloorKind) {
    if (kind === "plain") super(noopProvider, name, {}, undefined, "klarefi-bench", "Noop");
    else super(secretOutputProvider, name, { link: undefined }, { additionalSecretOutputs: ["link"] }, "klarefi-bench", "NoopSecret");
  }
}

/** Measures `up`, a no-change `preview` and `destroy` of N no-op resources. */
export async function measureFloor(
  links: number,
  backend: BenchBackend,
  settings: EngineSettings,
  log: (line: string) => void,
  kind: FloorKind = "plain",
): Promise<FloorResult> {
  const name = kind === "plain" ? "floor" : "secret-floor";
  const program = async () => {
    for (let i = 0; i < links; i++) new NoopResource(`noop-${i}`, kind);
  };
  const stack = await BenchStack.create({ backend, settings, projectName: "klarefi-bench", stackName: name, program });
  const line = (step: string, timed: Timed) => log(`${name.padEnd(12)} ${step.padEnd(9)} ${timed.seconds.toFixed(2)} s${engineCpu(timed)}`);
  try {
    const up = await stack.up(`${name}: up of ${links} no-op resources`);
    line("up", up);
    const stored = await stack.checkpoint();
    if (kind === "secret") assertLinksEncrypted(stored.text, links);
    const preview = await stack.preview(`${name}: no-change preview`);
    assertNoChange(`${name}: no-change preview`, preview.changes);
    line("preview", preview);
    const destroy = await stack.destroy(`${name}: destroy`);
    line("destroy", destroy);
    return {
      up_s: round(up.seconds),
      preview_s: round(preview.seconds),
      destroy_s: round(destroy.seconds),
      state_bytes_per_link: Math.round(stored.bytes / links),
      cpu_s: { up: cpuResult(up.cpu), preview: cpuResult(preview.cpu), destroy: cpuResult(destroy.cpu) },
    };
  } finally {
    await stack.remove();
  }
}

/** The secret floor measures what it claims only if every resource's output is stored encrypted. */
function assertLinksEncrypted(checkpoint: string, links: number): void {
  const ciphertexts = checkpoint.match(/"ciphertext"/g)?.length ?? 0;
  const plaintext = checkpoint.includes("l".repeat(LINK_LENGTH));
  if (plaintext || ciphertexts < links) {
    throw new Error(`secret-floor: expected ${links} encrypted outputs in the checkpoint, found ${ciphertexts}${plaintext ? " and a link in plaintext" : ""}.`);
  }
}
