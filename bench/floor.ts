/**
 * @module
 * The floor: what the engine itself costs for N resources. N no-op
 * `pulumi.dynamic.Resource`s, each with a minimal provider (a `create` that
 * returns at once, nothing else), through the same engine, backend and
 * settings as the campaign. A campaign's `up` or `destroy` can approach this
 * figure but not go below it; the ratio to it is the per-link overhead.
 */
import * as pulumi from "@pulumi/pulumi";
import { cpuResult, type FloorResult, round } from "./report";
import { type BenchBackend, BenchStack, type EngineSettings, assertNoChange, engineCpu } from "./stack";

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

/** A resource that does nothing: the engine's own cost of one resource. */
class NoopResource extends pulumi.dynamic.Resource {
  constructor(name: string) {
    super(noopProvider, name, {}, undefined, "klarefi-bench", "Noop");
  }
}

/** Measures `up`, a no-change `preview` and `destroy` of N no-op resources. */
export async function measureFloor(links: number, backend: BenchBackend, settings: EngineSettings, log: (line: string) => void): Promise<FloorResult> {
  const program = async () => {
    for (let i = 0; i < links; i++) new NoopResource(`noop-${i}`);
  };
  const stack = await BenchStack.create({ backend, settings, projectName: "klarefi-bench", stackName: "floor", program });
  try {
    const up = await stack.up(`floor: up of ${links} no-op resources`);
    log(`floor     up        ${up.seconds.toFixed(2)} s${engineCpu(up)}`);
    const stored = await stack.checkpoint();
    const preview = await stack.preview("floor: no-change preview");
    assertNoChange("floor: no-change preview", preview.changes);
    log(`floor     preview   ${preview.seconds.toFixed(2)} s${engineCpu(preview)}`);
    const destroy = await stack.destroy("floor: destroy");
    log(`floor     destroy   ${destroy.seconds.toFixed(2)} s${engineCpu(destroy)}`);
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
