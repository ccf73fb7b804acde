"use strict";
// Entry of the Klarefi intake-link policy pack (PulumiPolicy.yaml beside it).
// The policies live in the package itself, resolved by name so that this
// folder, inside an installed @klarefi/pulumi or published on its own with the
// dependencies of package.json, always runs the package version it ships with.
let pack;
try {
  pack = require("@klarefi/pulumi/policy");
} catch (err) {
  // @pulumi/policy is an optional peer dependency: only projects that run the pack install it.
  if (err && err.code === "MODULE_NOT_FOUND" && /'@pulumi\/policy'/.test(String(err.message))) {
    console.error(
      "The Klarefi policy pack needs @pulumi/policy (1.21 or newer) installed beside @klarefi/pulumi: " +
        "run `npm install --save-dev @pulumi/policy` in the project, then run pulumi again.",
    );
    process.exit(1);
  }
  throw err;
}
pack.servePolicyPack();
