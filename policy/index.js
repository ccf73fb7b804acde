"use strict";
// Entry of the Klarefi intake-link policy pack (PulumiPolicy.yaml beside it).
// The policies live in the package itself, resolved by name so that this
// folder, inside an installed @klarefi/pulumi or published on its own with the
// dependencies of package.json, always runs the package version it ships with.
require("@klarefi/pulumi/policy").servePolicyPack();
