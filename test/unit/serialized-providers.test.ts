import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SERIALIZED_CAMPAIGN_LINKS_PROVIDER } from "../../provider/campaign/links/resource";
import { SERIALIZED_PROVIDER } from "../../provider/intake-session/resource";

/**
 * Every stack's state loads the provider by package name:
 * `require("@klarefi/pulumi/intake-session").intakeSessionProvider` and
 * `require("@klarefi/pulumi/campaign-links").campaignLinksProvider`. These
 * names are in state files already written, so they must keep working
 * whatever moves inside the package. Checked against the serialized
 * providers of the stored state fixtures (test/fixtures/*\/state.json) and of
 * today's resources, resolved the way the dynamic-provider host resolves
 * them: by package name, from the installed package (dist/).
 */

const repoRoot = path.resolve(__dirname, "../..");
const fixtures = path.join(repoRoot, "test", "fixtures");
const fromProject = createRequire(path.join(repoRoot, "package.json"));

const INTAKE_SESSION = `exports.handler = () => require("@klarefi/pulumi/intake-session").intakeSessionProvider;\n`;
const CAMPAIGN_LINKS = `exports.handler = () => require("@klarefi/pulumi/campaign-links").campaignLinksProvider;\n`;

/** Every `__provider` text of every stored state fixture, with the resource type that holds it. */
function storedProviders(): { fixture: string; type: string; text: string }[] {
  const found: { fixture: string; type: string; text: string }[] = [];
  for (const dir of readdirSync(fixtures, { withFileTypes: true })) {
    const file = path.join(fixtures, dir.name, "state.json");
    let state: { deployment?: { resources?: { type: string; outputs?: Record<string, unknown>; inputs?: Record<string, unknown> }[] } };
    try {
      state = JSON.parse(readFileSync(file, "utf8")) as typeof state;
    } catch {
      continue;
    }
    for (const r of state.deployment?.resources ?? []) {
      for (const props of [r.inputs, r.outputs]) {
        const text = props?.__provider;
        if (typeof text === "string") found.push({ fixture: dir.name, type: r.type, text });
      }
    }
  }
  return found;
}

/** What the dynamic-provider host does with a serialized provider: run it as a CommonJS module and call its handler. */
function load(text: string): unknown {
  const module = { exports: {} as { handler?: () => unknown } };
  new Function("exports", "require", "module", text)(module.exports, fromProject, module);
  return module.exports.handler?.();
}

const METHODS = ["configure", "check", "diff", "create", "read", "update", "delete"];

describe("the serialized providers in state", () => {
  it("are the exact texts today's resources write", () => {
    expect(SERIALIZED_PROVIDER).toBe(INTAKE_SESSION);
    expect(SERIALIZED_CAMPAIGN_LINKS_PROVIDER).toBe(CAMPAIGN_LINKS);
  });

  it("include the IntakeSession provider's text in the stored release state, unchanged", () => {
    const stored = storedProviders().filter((p) => p.type === "pulumi-nodejs:dynamic/klarefi:IntakeSession");
    expect(stored.length).toBeGreaterThan(0);
    for (const p of stored) expect(p.text, `${p.fixture}`).toBe(INTAKE_SESSION);
  });

  it.each([
    ["@klarefi/pulumi/intake-session", "intakeSessionProvider", INTAKE_SESSION],
    ["@klarefi/pulumi/campaign-links", "campaignLinksProvider", CAMPAIGN_LINKS],
  ])("load %s's %s, with every method the engine calls", (subpath, name, text) => {
    const provider = load(text) as Record<string, unknown>;
    expect(provider).toBe((fromProject(subpath) as Record<string, unknown>)[name]);
    for (const method of METHODS) expect(typeof provider[method], `${name}.${method}`).toBe("function");
  });

  it("load a provider for every serialized provider stored in the fixtures", () => {
    for (const p of storedProviders()) {
      const provider = load(p.text) as Record<string, unknown>;
      for (const method of METHODS) expect(typeof provider[method], `${p.fixture} ${p.type} ${method}`).toBe("function");
    }
  });
});
