import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withCliStack, type PulumiCliStack } from "../../scripts/pulumi-cli";
import { DEFAULT_TEST_API_KEY } from "../../server";
import { headingAnchors, relativeLinks } from "../helpers/markdown-links";
import { installInto, linkStatus, packRepository, runCommand, startDevServer, userProjectEnv, type DevServer, type PackedPackage } from "../helpers/package";
import { repoRoot, TEST_PASSPHRASE } from "../helpers/pulumi";

// @klarefi/pulumi as users get it: `npm pack` of a fresh copy of the
// repository, installed into projects under the temp folder (outside the
// repository, so nothing resolves from it) next to @pulumi/pulumi, and driven
// with the Pulumi CLI against `klarefi dev` started from the installed
// package's own bin. The CLI of this repository brings our Node.js language
// host (tools/pulumi-language-nodejs); TypeScript is compiled by
// @pulumi/pulumi's own run entry point (ts-node), as with the official host.
//
// Each install layout is one project folder holding the dependencies, with
// two Pulumi projects in it: ts/ (runtime option typescript: true, the
// tsconfig of Pulumi's TypeScript template, a per-link campaign) and esm/
// (plain JavaScript with "type": "module", a bulk campaign). Both resolve
// packages from the folder above, and the dynamic-provider host, which runs
// with the Pulumi project as its working directory, has to find
// @klarefi/pulumi/intake-session and @klarefi/pulumi/campaign-links by name
// from there.

const repoManifest = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
/** The SDK the repository develops against: the top of the tested range. */
const TESTED_SDK = repoManifest.devDependencies["@pulumi/pulumi"] ?? "";
const TYPESCRIPT = repoManifest.devDependencies.typescript ?? "";
const TYPES_NODE = repoManifest.devDependencies["@types/node"] ?? "";

const CSV = "external_case_id,external_applicant_id,locale\nhail_1,applicant_1,\nhail_2,applicant_2,de\nhail_3,applicant_3,\n";
const CSV_ROWS = 3;
/** The program, with the campaign's mode: per-link in the TypeScript program, bulk in the ESM one, so both serialized providers load by name. */
const programBody = (mode: "per-link" | "bulk") => `
const session = new klarefi.IntakeSession("claim-48392", {
  caseTypeId: "motor_claim",
  externalCaseId: "claim_48392",
  externalApplicantId: "applicant_789",
  returnUrl: "https://claims.example.com/claim_48392",
  locale: "nl",
});
const campaign = new klarefi.IntakeCampaign("hail", {
  caseTypeId: "hail_damage",
  csvFile: "applicants.csv",
  defaults: { locale: "nl" },
  mode: "${mode}",
});
export const sessionId = session.sessionId;
export const signedUrl = session.signedUrl;
export const links = campaign.links;
export const size = campaign.size;
`;

/** The tsconfig.json of Pulumi's TypeScript template, plus esModuleInterop (zod's declarations need it under tsc). */
const TEMPLATE_TSCONFIG = {
  compilerOptions: {
    strict: true,
    outDir: "bin",
    target: "es2020",
    module: "commonjs",
    moduleResolution: "node",
    esModuleInterop: true,
    sourceMap: true,
    experimentalDecorators: true,
    pretty: true,
    noFallthroughCasesInSwitch: true,
    noImplicitReturns: true,
    forceConsistentCasingInFileNames: true,
  },
  files: ["index.ts"],
};

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The two Pulumi projects of a layout, in `root`. */
function writePrograms(root: string, tag: string): { ts: string; esm: string } {
  const ts = path.join(root, "ts");
  const esm = path.join(root, "esm");
  mkdirSync(ts);
  mkdirSync(esm);
  writeFileSync(path.join(ts, "Pulumi.yaml"), `name: pkg-${tag}-ts\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n`);
  writeJson(path.join(ts, "tsconfig.json"), TEMPLATE_TSCONFIG);
  writeFileSync(
    path.join(ts, "index.ts"),
    `import * as klarefi from "@klarefi/pulumi";\n// A subpath's types resolve too (typesVersions under moduleResolution node).\nimport type { Klarefi } from "@klarefi/pulumi/client";\nexport type Client = Klarefi;\n${programBody("per-link")}`,
  );
  writeFileSync(path.join(ts, "applicants.csv"), CSV);
  writeFileSync(path.join(esm, "Pulumi.yaml"), `name: pkg-${tag}-esm\nruntime: nodejs\n`);
  writeJson(path.join(esm, "package.json"), { name: `pkg-${tag}-esm`, private: true, type: "module", main: "index.js" });
  writeFileSync(path.join(esm, "index.js"), `import * as klarefi from "@klarefi/pulumi";\n${programBody("bulk")}`);
  writeFileSync(path.join(esm, "applicants.csv"), CSV);
  return { ts, esm };
}

/**
 * Runs one program through its whole life against `server`: up, a second up
 * with nothing to do, a preview, destroy; with the links opened before and
 * after. Failures name the layout and the program.
 */
async function lifeCycle(projectDir: string, server: DevServer, label: string): Promise<void> {
  const openBefore = (await server.sessions("open")).length;
  await withCliStack(
    {
      projectDir,
      passphrase: TEST_PASSPHRASE,
      baseEnv: userProjectEnv(),
      pathPrefix: [],
      timeoutMs: 120_000,
      config: { "klarefi:baseUrl": { value: server.url }, "klarefi:apiKey": { value: DEFAULT_TEST_API_KEY, secret: true } },
    },
    async (stack: PulumiCliStack) => {
      const calls0 = await server.apiCalls();
      await stack.up();
      const calls1 = await server.apiCalls();
      expect(calls1, `${label}: up calls the API`).toBeGreaterThan(calls0);

      const outputs = await stack.outputs(true);
      expect(outputs.size, label).toBe(CSV_ROWS);
      const links = outputs.links as Record<string, { sessionId: string; signedUrl: string }>;
      expect(Object.keys(links).sort(), label).toEqual(["hail_1", "hail_2", "hail_3"]);
      const signedUrl = String(outputs.signedUrl);
      const campaignUrl = links.hail_2?.signedUrl ?? "";
      expect((await stack.outputs(false)).signedUrl, `${label}: the link is a secret output`).toBe("[secret]");
      const open = await server.sessions("open");
      expect(open.length - openBefore, `${label}: one open session per link`).toBe(1 + CSV_ROWS);
      expect(await linkStatus(signedUrl), `${label}: the session's link opens`).toBe(200);
      expect(await linkStatus(campaignUrl), `${label}: a campaign link opens`).toBe(200);

      await stack.up();
      expect(await server.apiCalls(), `${label}: a second up with no changes calls nothing`).toBe(calls1);
      const preview = await stack.preview();
      expect(Object.keys(preview.changeSummary), `${label}: preview after up changes nothing`).toEqual(["same"]);
      expect(await server.apiCalls(), `${label}: preview makes no API call`).toBe(calls1);

      await stack.destroy();
      expect(await linkStatus(signedUrl), `${label}: the session's link after destroy`).toBe(410);
      expect(await linkStatus(campaignUrl), `${label}: a campaign link after destroy`).toBe(410);
      const left = (await server.sessions("open")).filter((s) => open.some((o) => o.session_id === s.session_id));
      expect(left, `${label}: destroy revokes every link`).toEqual([]);
    },
  );
}

interface Layout {
  title: string;
  tag: string;
  manager: "npm" | "pnpm";
  sdk: () => string;
  /** Also type-check the TypeScript program with moduleResolution nodenext (once is enough: the types are the same). */
  typeCheckExports: boolean;
}

describe("@klarefi/pulumi installed from its tarball into a user's own project", () => {
  let packed: PackedPackage;
  const scratch = mkdtempSync(path.join(tmpdir(), "klarefi-package-"));

  beforeAll(async () => {
    packed = await packRepository();
  }, 300_000);

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it("npm pack on a fresh copy builds the code and ships it with the bin, README, LICENSE, the docs pages and the policy pack's folder, and nothing of tests, tools, benchmarks, scripts, CI or source maps", () => {
    const files = packed.files;
    for (const needed of [
      "package.json",
      "README.md",
      "LICENSE",
      "docs/klarefi-api.md",
      "docs/README.md",
      "docs/getting-started.md",
      "bin/klarefi.js",
      "dist/provider/index.js",
      "dist/provider/index.d.ts",
      "dist/provider/intake-session/index.js",
      "dist/client/index.js",
      "dist/client/index.d.ts",
      "dist/server/index.js",
      "dist/contract/schemas.js",
      "dist/cli/main.js",
      "policy/PulumiPolicy.yaml",
      "policy/package.json",
      "policy/index.js",
      "dist/policy/src/pack.js",
    ]) {
      expect(files, `the tarball holds ${needed}`).toContain(needed);
    }
    const unexpected = files.filter(
      (f) =>
        !/^dist\/(contract|client|provider|server|cli|policy)\/.+\.(js|d\.ts)$/.test(f) &&
        !/^bin\/[^/]+$/.test(f) &&
        !/^docs\/[^/]+\.md$/.test(f) &&
        !["package.json", "README.md", "LICENSE", "policy/PulumiPolicy.yaml", "policy/package.json", "policy/index.js"].includes(f),
    );
    expect(unexpected, "files outside the compiled code, bin and docs").toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|tools|bench|scripts|\.ci)\//.test(f) || f.endsWith(".map") || f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    // every compiled module has its declarations
    const js = files.filter((f) => f.startsWith("dist/") && f.endsWith(".js"));
    expect(js.filter((f) => !files.includes(f.replace(/\.js$/, ".d.ts")))).toEqual([]);
  });

  it("ships every file and heading the packed README and docs pages link to", () => {
    const broken: string[] = [];
    for (const page of packed.files.filter((f) => f === "README.md" || /^docs\/[^/]+\.md$/.test(f))) {
      for (const link of relativeLinks(page, readFileSync(path.join(repoRoot, page), "utf8"))) {
        if (!packed.files.includes(link.file) && !packed.files.some((f) => f.startsWith(`${link.file}/`))) broken.push(`${page}: (${link.raw}) is not in the tarball`);
        else if (link.anchor !== undefined && !headingAnchors(readFileSync(path.join(repoRoot, link.file), "utf8")).has(link.anchor)) broken.push(`${page}: (${link.raw}) names no heading of ${link.file}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("declares @pulumi/pulumi as a peer range from 3.139.0 (and @pulumi/policy as an optional one), Node.js 22.19+, and types for every public subpath under both module resolutions", () => {
    const manifest = packed.manifest as {
      peerDependencies?: Record<string, string>;
      dependencies?: Record<string, string>;
      engines?: Record<string, string>;
      exports?: Record<string, string | { types?: string; default?: string }>;
      typesVersions?: Record<string, Record<string, string[]>>;
      scripts?: Record<string, string>;
    };
    expect(manifest.peerDependencies).toEqual({ "@pulumi/pulumi": "^3.139.0", "@pulumi/policy": "^1.21.0" });
    // Only projects that run the policy pack (docs/policy.md) install @pulumi/policy.
    expect((manifest as { peerDependenciesMeta?: Record<string, { optional?: boolean }> }).peerDependenciesMeta?.["@pulumi/policy"]?.optional).toBe(true);
    expect(Object.keys(manifest.dependencies ?? {})).not.toContain("@pulumi/pulumi");
    for (const dep of ["undici", "zod", "hono", "@hono/node-server", "csv-parse"]) expect(Object.keys(manifest.dependencies ?? {}), dep).toContain(dep);
    expect(manifest.engines?.node).toBe(">=22.19.0");

    const exports = manifest.exports ?? {};
    for (const subpath of [".", "./client", "./server", "./intake-session"]) expect(Object.keys(exports)).toContain(subpath);
    for (const [subpath, target] of Object.entries(exports)) {
      if (subpath === "./package.json") continue;
      expect(typeof target === "object" && Object.keys(target)[0], `${subpath}: "types" comes first`).toBe("types");
      const entry = target as { types: string; default: string };
      expect(packed.files, `${subpath} types`).toContain(entry.types.replace(/^\.\//, ""));
      expect(packed.files, `${subpath} code`).toContain(entry.default.replace(/^\.\//, ""));
      if (subpath !== ".") expect(manifest.typesVersions?.["*"]?.[subpath.slice(2)], `${subpath} in typesVersions`).toEqual([entry.types.replace(/^\.\//, "")]);
    }
  });

  const layouts: Layout[] = [
    { title: "npm, the SDK the repository pins", tag: "npm", manager: "npm", sdk: () => TESTED_SDK, typeCheckExports: true },
    { title: "npm, the lowest SDK of the peer range", tag: "low", manager: "npm", sdk: () => lowestOfRange(packed), typeCheckExports: false },
    { title: "pnpm (isolated node_modules)", tag: "pnpm", manager: "pnpm", sdk: () => TESTED_SDK, typeCheckExports: false },
  ];

  for (const layout of layouts) {
    it(
      `${layout.title}: a TypeScript and an ESM JavaScript program go up, stay unchanged on a second up, preview without API calls and destroy, their links answering 200 then 410`,
      async () => {
        const root = path.join(scratch, layout.tag);
        mkdirSync(root);
        writeJson(path.join(root, "package.json"), { name: `klarefi-package-test-${layout.tag}`, private: true });
        const { ts, esm } = writePrograms(root, layout.tag);
        const sdk = layout.sdk();
        await installInto(root, layout.manager, [packed.tarball, `@pulumi/pulumi@${sdk}`, `typescript@${TYPESCRIPT}`, `@types/node@${TYPES_NODE}`]);
        const installed = await runCommand(process.execPath, ["-p", 'require("@pulumi/pulumi/package.json").version'], { cwd: ts, env: userProjectEnv(), timeoutMs: 30_000 });
        expect(installed.stdout.trim(), "the SDK the project resolves").toBe(sdk);

        if (layout.typeCheckExports) {
          // The types resolve through "exports" too (moduleResolution nodenext), not only through typesVersions.
          await runCommand(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", ".", "--module", "nodenext", "--moduleResolution", "nodenext"], {
            cwd: ts,
            env: userProjectEnv(),
            timeoutMs: 60_000,
          });
        }

        // One server per program, so the two run side by side and each one's API calls are its own.
        const klarefi = path.join(root, "node_modules", ".bin", "klarefi");
        const servers: DevServer[] = [];
        try {
          for (const name of ["ts", "esm"]) {
            const dbDir = path.join(root, `db-${name}`);
            mkdirSync(dbDir);
            servers.push(await startDevServer(klarefi, { cwd: root, dbDir, env: userProjectEnv() }));
          }
          const [tsServer, esmServer] = servers as [DevServer, DevServer];
          const results = await Promise.allSettled([lifeCycle(ts, tsServer, `${layout.tag}/ts`), lifeCycle(esm, esmServer, `${layout.tag}/esm`)]);
          for (const result of results) if (result.status === "rejected") throw withLayoutHint(result.reason, layout);
        } finally {
          await Promise.all(servers.map((s) => s.stop()));
        }
      },
      240_000,
    );
  }
});

/** The version the peer range starts at: "^3.139.0" gives "3.139.0". */
function lowestOfRange(packed: PackedPackage): string {
  const range = (packed.manifest.peerDependencies as Record<string, string> | undefined)?.["@pulumi/pulumi"] ?? "";
  const match = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (match?.[1] === undefined) throw new Error(`the @pulumi/pulumi peer range "${range}" is not of the form ^x.y.z; teach lowestOfRange() the new form.`);
  return match[1];
}

/** Adds what to do when the dynamic-provider host cannot load the package in a layout. */
function withLayoutHint(error: unknown, layout: Layout): unknown {
  if (!(error instanceof Error) || !/Cannot find module '@klarefi\/pulumi/.test(error.message)) return error;
  error.message =
    `In the ${layout.title} layout the dynamic-provider host could not load @klarefi/pulumi by name from the Pulumi project folder. ` +
    `The serialized provider in state is require("@klarefi/pulumi/intake-session"), resolved from the project's working directory: ` +
    `@klarefi/pulumi must be a direct dependency of the project (or of a folder above it), linked into its node_modules.\n${error.message}`;
  return error;
}
