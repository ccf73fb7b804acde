import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { withInlineStack } from "../helpers/pulumi";

// The smallest dynamic resource there is: it proves the real engine, the
// dynamic-provider plugin and the file backend work together on this machine.
const echoProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { word: string }) {
    return { id: `echo-${inputs.word}`, outs: { word: inputs.word, shouted: inputs.word.toUpperCase() } };
  },
};

class Echo extends pulumi.dynamic.Resource {
  declare readonly shouted: pulumi.Output<string>;
  constructor(name: string, word: string) {
    super(echoProvider, name, { word, shouted: undefined }, {});
  }
}

describe("the real Pulumi engine", () => {
  it("creates a dynamic resource on up, previews no changes after, and removes it on destroy", async () => {
    await withInlineStack(
      {
        program: async () => {
          const echo = new Echo("echo", "hello");
          return { shouted: echo.shouted, id: echo.id };
        },
      },
      async ({ stack }) => {
        const up = await stack.up();
        expect(up.summary.result).toBe("succeeded");
        expect(up.summary.resourceChanges?.create).toBe(2); // the stack and the echo resource
        expect(up.outputs.shouted?.value).toBe("HELLO");
        expect(up.outputs.id?.value).toBe("echo-hello");

        const preview = await stack.preview();
        expect(preview.changeSummary.same).toBe(2);
        expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);

        const destroy = await stack.destroy();
        expect(destroy.summary.resourceChanges?.delete).toBe(2);
        const state = await stack.exportStack();
        expect(state.deployment.resources ?? []).toEqual([]);
      },
    );
  });
});
