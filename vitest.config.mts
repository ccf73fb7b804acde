import { defineConfig } from "vitest/config";

// e2e tests drive the real Pulumi engine, which is slow and CPU-bound on two
// cores: run test files one at a time in forks and give them room. They run
// the compiled package, so the global setup rebuilds dist/ first when any
// output is older than its source.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/helpers/fresh-build.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
  },
});
