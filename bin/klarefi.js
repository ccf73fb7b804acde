#!/usr/bin/env node
"use strict";
// The `klarefi` command: a shim over the compiled CLI (dist/cli/main.js, built by `npm run build`).
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
