#!/usr/bin/env bash
# Regenerates the Python and Go SDKs of the provider plugin from its schema:
#   sdk/schema.json   the schema `pulumi-resource-klarefi` serves (GetSchema),
#                     written from provider/plugin/schema.ts (the compiled dist/);
#   sdk/python/       Pulumi's Python code generator run on it (this folder's
#                     Go tool, built once into $KLAREFI_CACHE_DIR);
#   sdk/go/           Pulumi's Go code generator run on it (the same tool): the
#                     package in sdk/go/klarefi, go.mod beside it requiring the
#                     Pulumi Go SDK of the CLI's version, go.sum by `go mod tidy`.
# Run it after changing provider/plugin/schema.ts or the package version;
# test/unit/plugin-values.test.ts fails while they are out of step.
# The Go tool requires the same github.com/pulumi/pulumi/pkg/v3 as
# tools/pulumi-cli, so it reuses that build's Go module and build caches
# (a few seconds once the CLI has been built).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"
command -v go >/dev/null 2>&1 || { echo "generate.sh: Go 1.26+ is needed to build tools/pulumi-sdkgen" >&2; exit 1; }

tsc -p tsconfig.json
node -e '
  const { klarefiSchema } = require("./dist/provider/plugin/schema.js");
  const { version } = require("./package.json");
  process.stdout.write(JSON.stringify(klarefiSchema(version), null, 2) + "\n");
' > sdk/schema.json

hash=$(cat tools/pulumi-sdkgen/go.mod tools/pulumi-sdkgen/go.sum tools/pulumi-sdkgen/main.go | sha256sum | cut -c1-12)
tool="${KLAREFI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/klarefi-pulumi}/pulumi-sdkgen-$hash/pulumi-sdkgen"
if [[ ! -x "$tool" ]]; then
  mkdir -p "$(dirname "$tool")"
  (cd tools/pulumi-sdkgen && GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w" -o "$tool.tmp.$$" .)
  mv -f "$tool.tmp.$$" "$tool"
fi
"$tool" python sdk/schema.json sdk/python
pulumi_sdk=$(sed -n 's#^require github.com/pulumi/pulumi/pkg/v3 \(v.*\)$#\1#p' tools/pulumi-cli/go.mod)
"$tool" -pulumi-sdk "$pulumi_sdk" go sdk/schema.json sdk/go
(cd sdk/go && GOTOOLCHAIN=local go mod tidy)
