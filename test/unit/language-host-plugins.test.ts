import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The pure helpers behind RunPlugin in tools/pulumi-language-nodejs (plain
// JavaScript, loaded as the host loads them).
interface HostLogic {
  ANALYZER_KIND: string;
  policyPackArguments(r: { runPath: string; nodeArgs: string[]; args: string[]; programDirectory: string }): { argv: string[]; cwd: string };
  pluginEnvironment(entries: string[], fallback: Record<string, string | undefined>, options: { typescript: boolean; tsconfig: string }): Record<string, string>;
}
const logic = createRequire(__filename)(path.join(__dirname, "..", "..", "tools", "pulumi-language-nodejs", "logic.js")) as HostLogic;

describe("starting a policy pack through RunPlugin", () => {
  it("runs run-policy-pack with the engine's arguments and the pack folder last, in the pack folder, node options first", () => {
    expect(
      logic.policyPackArguments({ runPath: "/p/node_modules/@pulumi/pulumi/cmd/run-policy-pack/index.js", nodeArgs: ["--max-old-space-size=4096"], args: ["127.0.0.1:4000"], programDirectory: "/p/policy" }),
    ).toEqual({
      argv: ["--max-old-space-size=4096", "/p/node_modules/@pulumi/pulumi/cmd/run-policy-pack/index.js", "127.0.0.1:4000", "/p/policy"],
      cwd: "/p/policy",
    });
  });

  it("answers to the engine's plugin kind for policy packs", () => {
    expect(logic.ANALYZER_KIND).toBe("analyzer");
  });

  it("gives the pack the engine's environment, not the host's, plus the TypeScript settings", () => {
    const env = logic.pluginEnvironment(["PATH=/bin", "A=1=2", "broken"], { HOST_ONLY: "x" }, { typescript: true, tsconfig: "tsconfig.policy.json" });
    expect(env).toEqual({ PATH: "/bin", A: "1=2", PULUMI_NODEJS_TYPESCRIPT: "true", PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.policy.json" });
  });

  it("falls back to the host's environment when the engine sent none", () => {
    expect(logic.pluginEnvironment([], { HOST_ONLY: "x", UNSET: undefined }, { typescript: false, tsconfig: "" })).toEqual({ HOST_ONLY: "x" });
  });
});
