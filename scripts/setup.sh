#!/usr/bin/env bash
# Prepares a clone for the demo, the tests and the benchmarks; safe to run again
# (each step is skipped when its result is already there). npm runs it before
# `npm test`, `npm run demo` and `npm run bench`.
#
#   1. npm dependencies, including the project's own Node.js 24 (npm package
#      `node`), which npm scripts then find first on PATH;
#   2. links in node_modules: the package itself (so programs in examples/ and
#      the dynamic provider resolve `@klarefi/pulumi` by name), the `klarefi` CLI;
#   3. the Pulumi CLI: the one on PATH when it is new enough, otherwise built
#      from the Go module proxy once and cached outside the repository, plus the
#      two plugins the CLI needs for this project (the Node.js language host and
#      the dynamic-provider plugin), linked into node_modules/.bin;
#   4. the TypeScript build (dist/).
#
# Options: --quiet prints only errors; --with-browser (used by `npm test`) also
# installs Debian's chromium for the browser test when it is missing.
# Environment: KLAREFI_CACHE_DIR (default ~/.cache/klarefi-pulumi) holds built
# CLIs by version; KLAREFI_FORCE_PULUMI_BUILD=1 ignores a pulumi on PATH.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
quiet=0
browser=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --with-browser) browser=1 ;;
    *) printf 'setup: unknown option %s (expected --quiet or --with-browser)\n' "$arg" >&2; exit 2 ;;
  esac
done
say() { [[ $quiet == 1 ]] || printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }
bin="$root/node_modules/.bin"

# 1. Dependencies. npm writes node_modules/.package-lock.json on every install;
# when it is older than package-lock.json the tree is stale.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm dependencies (npm ci)"
  started=$SECONDS
  npm ci --no-audit --no-fund --loglevel=error >&2
  say "npm ci took $((SECONDS - started))s"
fi
[[ -x "$bin/node" ]] || die "node_modules/.bin/node is missing: the npm package 'node' did not install its binary (is 'node@<version>' listed in package.json allowScripts?)"
export PATH="$bin:$PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 22 )) || die "Node.js $(node --version) is too old: @pulumi/pulumi needs 22 or newer"

# 2. Links.
mkdir -p node_modules/@klarefi
ln -sfn ../.. node_modules/@klarefi/pulumi
ln -sfn ../../bin/klarefi.js "$bin/klarefi"

# 3. Pulumi CLI.
want=$(node -p 'require("./package.json").config.pulumiCliVersion')
sdk=$(node -p 'require("@pulumi/pulumi/package.json").version')
gomod_version=$(sed -n 's#^require github.com/pulumi/pulumi/pkg/v3 v\(.*\)$#\1#p' tools/pulumi-cli/go.mod)
[[ "$gomod_version" == "$want" ]] || die "tools/pulumi-cli/go.mod pins pkg/v3 v$gomod_version but package.json config.pulumiCliVersion is $want: keep them equal"

version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

ambient=""
if [[ "${KLAREFI_FORCE_PULUMI_BUILD:-0}" != 1 ]]; then
  # Look on PATH without our own link, which points at a cached build.
  ambient=$(PATH="${PATH//$bin:/}" command -v pulumi || true)
  if [[ -n "$ambient" ]]; then
    have=$("$ambient" version 2>/dev/null | sed 's/^v//' || true)
    if [[ -z "$have" ]] || ! version_ge "$have" "$sdk"; then
      say "ignoring $ambient (version '${have:-unknown}'): @pulumi/pulumi $sdk needs a CLI at least as new"
      ambient=""
    fi
  fi
fi

if [[ -n "$ambient" ]]; then
  cli="$ambient"
  rm -f "$bin/pulumi"
  say "using Pulumi CLI $("$cli" version) from $cli"
else
  cache="${KLAREFI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/klarefi-pulumi}/pulumi-v$want"
  cli="$cache/bin/pulumi"
  if [[ ! -x "$cli" ]]; then
    if ! command -v go >/dev/null 2>&1; then
      die "no Pulumi CLI found. Install Pulumi CLI v$want or newer (https://www.pulumi.com/docs/install/, e.g. 'curl -fsSL https://get.pulumi.com | sh' or 'brew install pulumi'), or install Go 1.26+ so this script can build it from the Go module proxy."
    fi
    say "building Pulumi CLI v$want from the Go module proxy into $cache (the first time takes several minutes)"
    started=$SECONDS
    mkdir -p "$cache/bin"
    tmp="$cache/bin/pulumi.tmp.$$"
    (
      cd tools/pulumi-cli
      GOTOOLCHAIN=local go build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$want" \
        -o "$tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    ) || { rm -f "$tmp"; die "building the Pulumi CLI failed (see the Go output above)"; }
    mv -f "$tmp" "$cli"
    say "built Pulumi CLI v$want in $((SECONDS - started))s ($(du -sh "$cli" | cut -f1) binary)"
  fi
  # The CLI looks for plugins beside its own executable, symlinks resolved; a
  # hard link (a copy across file systems) gives it a folder of its own where
  # the plugins below can sit, so it does not warn about plugins from $PATH.
  cli_dir="$root/node_modules/.klarefi-pulumi/bin"
  mkdir -p "$cli_dir"
  if [[ ! "$cli_dir/pulumi" -ef "$cli" ]]; then
    ln -f "$cli" "$cli_dir/pulumi" 2>/dev/null || cp -f "$cli" "$cli_dir/pulumi"
  fi
  # The dynamic-provider plugin ships inside @pulumi/pulumi but npm does not link it.
  ln -sfn ../../@pulumi/pulumi/pulumi-resource-pulumi-nodejs "$cli_dir/pulumi-resource-pulumi-nodejs"
  # The official language host cannot be fetched from the Go module proxy; ours
  # (tools/pulumi-language-nodejs) speaks the same protocol.
  ln -sfn ../../../tools/pulumi-language-nodejs/pulumi-language-nodejs "$cli_dir/pulumi-language-nodejs"
  ln -sfn ../.klarefi-pulumi/bin/pulumi "$bin/pulumi"
  rm -f "$bin/pulumi-resource-pulumi-nodejs" "$bin/pulumi-language-nodejs"
  cli="$cli_dir/pulumi"
fi

if [[ -n "$ambient" ]]; then
  # A user's own CLI brings its own language host; the dynamic-provider plugin
  # still has to be on PATH.
  ln -sfn ../@pulumi/pulumi/pulumi-resource-pulumi-nodejs "$bin/pulumi-resource-pulumi-nodejs"
  [[ -x "$(dirname "$ambient")/pulumi-language-nodejs" ]] ||
    ln -sfn ../../tools/pulumi-language-nodejs/pulumi-language-nodejs "$bin/pulumi-language-nodejs"
fi
# The browser test drives Debian's Chromium (browser downloads cannot work
# here). As root with apt-get, install it; otherwise say how.
if [[ $browser == 1 && ! -x "${KLAREFI_CHROMIUM:-/usr/bin/chromium}" ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser test (apt-get)"
    started=$SECONDS
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >&2; then
      say "chromium installed in $((SECONDS - started))s"
    else
      # Not fatal: every other test still runs, and the browser test says what is missing.
      printf 'setup: apt-get install chromium failed; the browser test will fail until /usr/bin/chromium exists\n' >&2
    fi
  else
    say "no /usr/bin/chromium: the browser test will fail. Install it with 'sudo apt-get install chromium' (or set KLAREFI_CHROMIUM to a Chromium binary)."
  fi
fi

# 4. Build. tsc is incremental through tsBuildInfo, so an unchanged tree is quick.
say "building TypeScript (tsc)"
# tsc never deletes the output of a source that was removed; do it here so a
# stale module cannot be loaded by name.
if [[ -d dist ]]; then
  while IFS= read -r -d '' out; do
    rel=${out#dist/}
    [[ -f "${rel%.js}.ts" ]] || rm -f "$out" "${out%.js}.d.ts" "$out.map"
  done < <(find dist -name '*.js' -print0)
fi
# The incremental record is only good while its output exists.
[[ -f dist/provider/index.js ]] || rm -f node_modules/.cache/tsbuildinfo
tsc -p tsconfig.json --incremental --tsBuildInfoFile node_modules/.cache/tsbuildinfo

say "ready: Node.js $(node --version), @pulumi/pulumi $sdk, Pulumi CLI $("$bin/pulumi" version 2>/dev/null || "$cli" version)"
