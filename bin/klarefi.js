#!/usr/bin/env node
"use strict";
// The `klarefi` command: a shim over the compiled CLI (dist/cli/main.js, built by `npm run build`).
// package.json "engines" only warns at install time; say it plainly before a dependency fails obscurely.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`klarefi: Node.js 22.19 or newer is needed (package.json "engines"); this is ${process.version}\n`);
  process.exitCode = 1;
  return;
}
let cli;
try {
  cli = require("../dist/cli/main.js");
} catch (error) {
  if (error && error.code === "MODULE_NOT_FOUND" && String(error.message).includes("dist")) {
    process.stderr.write("klarefi: the compiled CLI is missing (dist/cli/main.js); run `npm run build` first\n");
    process.exitCode = 1;
    return;
  }
  throw error;
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`klarefi: ${error && error.message ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
