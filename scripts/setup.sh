#!/usr/bin/env bash
# Prepares a clone for the demo, the tests and the benchmarks; safe to run again
# (each step is skipped when its result is already there). npm runs it before
# `npm test` (with --for test), `npm run demo` and `npm run bench`.
#
#   1. npm dependencies, including the project's own Node.js 24 (npm package
#      `node`), which npm scripts then find first on PATH;
#   2. links in node_modules: the package itself (so programs in examples/ and
#      the dynamic provider resolve `@klarefi/pulumi` by name), the `klarefi` CLI;
#   3. the Pulumi CLI: the one on PATH when it is new enough, otherwise built
#      from the Go module proxy once and cached outside the repository, plus the
#      two plugins the CLI needs for this project (the Node.js language host and
#      the dynamic-provider plugin), linked into node_modules/.bin;
#   4. the TypeScript build (dist/);
#   5. the provider plugin `pulumi-resource-klarefi`, linked beside the CLI.
#
# That is all the demo, the bench and `npm run pulumi` need. The extras below
# are for tests: `--for test` (what `npm test` runs) sets up all of them, and
# `--with <name>` one (the bench asks for `s3` itself when run with
# `--backend s3`):
#
#   s3       the S3-compatible server of the team-backend tests (moto's server
#            from PyPI, in a virtual environment made with the machine's python3
#            and cached outside the repository), linked as
#            node_modules/.klarefi-pulumi/s3-server;
#   yaml     the YAML language host (built from the Go module proxy once,
#            cached outside the repository), placed beside the CLI;
#   python   the Python environment of the Python SDK test (Pulumi's Python SDK
#            from PyPI, cached outside the repository, plus the generated
#            sdk/python), linked as node_modules/.klarefi-pulumi/python;
#   go       the Go SDK test's program (test/fixtures/go-automation on sdk/go
#            and Pulumi's Go SDK from the Go module proxy), built once per SDK
#            and cached outside the repository, linked as
#            node_modules/.klarefi-pulumi/go-automation;
#   browser  Debian's chromium for the browser test, when it is missing.
#
# A new step that only tests need is an extra too: add its name to
# `test_extras` and guard it with `wants <name>`.
#
# Options: --for demo (the default) or --for test; --with <name> (repeatable:
#   s3, yaml, python, go, browser); --quiet prints only errors.
# Environment: KLAREFI_CACHE_DIR (default ~/.cache/klarefi-pulumi) holds built
# CLIs by version and the S3 server's virtual environment; KLAREFI_FORCE_PULUMI_BUILD=1
# ignores a pulumi on PATH; KLAREFI_PYTHON (default python3) makes that environment.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
quiet=0
test_extras="s3 yaml python go browser"
extras=" "
usage() { printf 'setup: %s (usage: scripts/setup.sh [--for demo|test] [--with s3|yaml|python|go|browser]... [--quiet])\n' "$*" >&2; exit 2; }
while (( $# )); do
  case "$1" in
    --quiet) quiet=1 ;;
    --for)
      case "${2:-}" in
        demo) ;;
        test) extras+="$test_extras " ;;
        *) usage "--for takes demo or test, not '${2:-}'" ;;
      esac
      shift ;;
    --with)
      [[ " $test_extras " == *" ${2:-} "* ]] || usage "--with takes one of $test_extras, not '${2:-}'"
      extras+="$2 "
      shift ;;
    *) usage "unknown option $1" ;;
  esac
  shift
done
# Whether this run sets up the extra named $1.
wants() { [[ "$extras" == *" $1 "* ]]; }
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
# Extra browser: the browser test drives Debian's Chromium (browser downloads
# cannot work here). As root with apt-get, install it; otherwise say how.
if wants browser && [[ ! -x "${KLAREFI_CHROMIUM:-/usr/bin/chromium}" ]]; then
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

# 5. Provider plugin ------------------------------------------------------------
# `pulumi-resource-klarefi` (bin/, the package's provider plugin for YAML, Python
# and `pulumi import`) goes on PATH beside the CLI, where the engine finds it.
plugin_dir="$root/node_modules/.klarefi-pulumi/bin"
mkdir -p "$plugin_dir"
ln -sfn ../../../bin/pulumi-resource-klarefi "$plugin_dir/pulumi-resource-klarefi"
ln -sfn ../../bin/pulumi-resource-klarefi "$bin/pulumi-resource-klarefi"

# Extra s3: S3-compatible server -------------------------------------------------
# The team-backend tests (test/e2e/s3-backend.test.ts) and `npm run bench --
# --backend s3` keep Pulumi state in a bucket on moto's S3 server (why moto:
# docs/development.md, "The S3 server of the tests"). It is installed once from PyPI with the
# pinned versions of scripts/s3-server-requirements.txt into a virtual
# environment named after a hash of that file, so editing it installs anew.
# A failure here is not fatal: everything else works, and the S3 tests say what
# is missing.
s3_requirements="scripts/s3-server-requirements.txt"
s3_venv="${KLAREFI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/klarefi-pulumi}/moto-server-$(sha256sum "$s3_requirements" | cut -c1-12)"
s3_failed() {
  printf 'setup: %s. The S3 backend tests and `npm run bench -- --backend s3` fail until this is fixed; everything else works.\n' "$*" >&2
}
install_s3_server() {
  local py="${KLAREFI_PYTHON:-python3}" started=$SECONDS
  if ! command -v "$py" >/dev/null 2>&1; then
    s3_failed "no $py on PATH: moto's S3 server needs Python 3.10 or newer (Debian: apt-get install python3 python3-venv; or set KLAREFI_PYTHON)"
    return 1
  fi
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    s3_failed "$("$py" --version 2>&1) is too old: moto's S3 server needs Python 3.10 or newer (set KLAREFI_PYTHON to a newer one)"
    return 1
  fi
  say "installing moto's S3 server from PyPI into $s3_venv (once)"
  rm -rf "$s3_venv"
  if ! "$py" -m venv "$s3_venv" >&2; then
    rm -rf "$s3_venv"
    s3_failed "'$py -m venv' could not make a virtual environment (Debian: apt-get install python3-venv)"
    return 1
  fi
  if ! "$s3_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$s3_requirements" >&2; then
    rm -rf "$s3_venv"
    s3_failed "pip could not install $s3_requirements (see pip's message above; PyPI must be reachable)"
    return 1
  fi
  # Written last: a folder without it is a broken install and is made again.
  touch "$s3_venv/klarefi-complete"
  say "installed moto's S3 server in $((SECONDS - started))s ($(du -sh "$s3_venv" | cut -f1))"
}
if wants s3 && { [[ -f "$s3_venv/klarefi-complete" ]] || install_s3_server; }; then
  mkdir -p node_modules/.klarefi-pulumi
  ln -sfn "$s3_venv" node_modules/.klarefi-pulumi/s3-server
fi

# Extra yaml: YAML language host -------------------------------------------------
# The YAML language host is built from the Go module proxy by the tools module
# tools/pulumi-language-yaml (pulumi-yaml's own pinned Pulumi libraries) once,
# cached in $KLAREFI_CACHE_DIR/pulumi-language-yaml-v<version>/, and placed
# beside the CLI (the engine looks for language hosts there). A user's CLI that
# already has one beside it keeps its own. A failure here is not fatal: only the
# YAML tests need it, and they say what is missing.
yaml_version=$(sed -n 's#^require github.com/pulumi/pulumi-yaml v\(.*\)$#\1#p' tools/pulumi-language-yaml/go.mod)
yaml_host="${KLAREFI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/klarefi-pulumi}/pulumi-language-yaml-v$yaml_version/bin/pulumi-language-yaml"
yaml_failed() {
  printf 'setup: %s. The YAML example and its tests fail until this is fixed; everything else works.\n' "$*" >&2
}
build_yaml_host() {
  local started=$SECONDS tmp="$yaml_host.tmp.$$"
  if ! command -v go >/dev/null 2>&1; then
    yaml_failed "no Go toolchain to build pulumi-language-yaml v$yaml_version (install Go 1.26+, or a Pulumi CLI that ships pulumi-language-yaml)"
    return 1
  fi
  say "building pulumi-language-yaml v$yaml_version from the Go module proxy (once; a few minutes cold)"
  mkdir -p "$(dirname "$yaml_host")"
  if ! (cd tools/pulumi-language-yaml && GOTOOLCHAIN=local go build -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=v$yaml_version" \
      -o "$tmp" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml) >&2; then
    rm -f "$tmp"
    yaml_failed "building pulumi-language-yaml failed (see the Go output above)"
    return 1
  fi
  mv -f "$tmp" "$yaml_host"
  say "built pulumi-language-yaml v$yaml_version in $((SECONDS - started))s"
}
if ! wants yaml; then
  : # not needed by this command
elif [[ -n "$ambient" && -x "$(dirname "$ambient")/pulumi-language-yaml" ]]; then
  : # the user's CLI brings its own YAML host
elif [[ -x "$yaml_host" ]] || build_yaml_host; then
  if [[ -n "$ambient" ]]; then
    ln -sfn "$yaml_host" "$bin/pulumi-language-yaml"
  else
    ln -sfn "$yaml_host" "$plugin_dir/pulumi-language-yaml"
  fi
fi

# Extra python: Python SDK environment ---------------------------------------------
# The Python SDK test (test/e2e/plugin-python.test.ts) drives a Python program
# through Pulumi's Python Automation API (an inline program: no Python language
# host needed). Pulumi's Python SDK from PyPI and the generated SDK's other
# requirements (sdk/python-requirements.txt, every version pinned) go into a
# virtual environment cached outside the repository, named after a hash of that
# file; the generated SDK itself (sdk/python) is installed into it again whenever
# its files change. Linked as node_modules/.klarefi-pulumi/python. Not fatal:
# only that test needs it, and it says what is missing.
py_requirements="sdk/python-requirements.txt"
py_venv="${KLAREFI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/klarefi-pulumi}/python-sdk-$(sha256sum "$py_requirements" | cut -c1-12)"
py_failed() {
  printf 'setup: %s. The Python SDK test fails until this is fixed; everything else works.\n' "$*" >&2
}
make_python_env() {
  local py="${KLAREFI_PYTHON:-python3}" started=$SECONDS
  if ! command -v "$py" >/dev/null 2>&1 || ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
    py_failed "no Python 3.9 or newer ($py): Pulumi's Python SDK needs it (Debian: apt-get install python3 python3-venv; or set KLAREFI_PYTHON)"
    return 1
  fi
  say "installing Pulumi's Python SDK from PyPI into $py_venv (once)"
  rm -rf "$py_venv"
  if ! { "$py" -m venv "$py_venv" && "$py_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$py_requirements"; } >&2; then
    rm -rf "$py_venv"
    py_failed "could not make the Python environment from $py_requirements (see the message above; PyPI must be reachable)"
    return 1
  fi
  # Written last: a folder without it is a broken install and is made again.
  touch "$py_venv/klarefi-complete"
  say "installed Pulumi's Python SDK in $((SECONDS - started))s ($(du -sh "$py_venv" | cut -f1))"
}
if wants python && { [[ -f "$py_venv/klarefi-complete" ]] || make_python_env; }; then
  sdk_hash=$(find sdk/python -type f ! -path '*/build/*' ! -path '*.egg-info/*' ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
  if [[ ! -f "$py_venv/klarefi-sdk-$sdk_hash" ]]; then
    say "installing the Python SDK (sdk/python) into $py_venv"
    # From a copy: building in place would leave build/ and *.egg-info in the checkout.
    sdk_copy=$(mktemp -d)
    cp -R sdk/python/. "$sdk_copy"
    if "$py_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --no-deps --no-build-isolation --force-reinstall "$sdk_copy" >&2; then
      rm -f "$py_venv"/klarefi-sdk-*
      touch "$py_venv/klarefi-sdk-$sdk_hash"
    else
      py_failed "pip could not install sdk/python (see pip's message above)"
    fi
    rm -rf "$sdk_copy"
  fi
  mkdir -p node_modules/.klarefi-pulumi
  ln -sfn "$py_venv" node_modules/.klarefi-pulumi/python
fi

# Go SDK test program (extra "go") -------------------------------------------------------------
# The Go SDK test (test/e2e/plugin-go.test.ts) runs test/fixtures/go-automation, a
# Go program on the generated sdk/go that drives Pulumi's Go Automation API (an
# inline program: no Go language host needed). It is built once from the Go module
# proxy (modules in GOMODCACHE, compiled packages in GOCACHE, Go's own caches) into
# $KLAREFI_CACHE_DIR/go-automation-<hash of the program and sdk/go>/, so a changed
# SDK is built anew, and linked as node_modules/.klarefi-pulumi/go-automation.
# Not fatal: only that test needs it, and it says what is missing.
if wants go; then
  go_program_hash=$(find test/fixtures/go-automation sdk/go -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
  go_program_cache="${KLAREFI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/klarefi-pulumi}"
  go_program="$go_program_cache/go-automation-$go_program_hash/go-automation"
  build_go_program() {
    local started=$SECONDS tmp="$go_program.tmp.$$"
    if ! command -v go >/dev/null 2>&1; then
      printf 'setup: no Go toolchain to build the Go SDK test program (install Go 1.26+). The Go SDK test fails until then; everything else works.\n' >&2
      return 1
    fi
    say "building the Go SDK test program (test/fixtures/go-automation) from the Go module proxy (once per SDK; minutes cold)"
    mkdir -p "$(dirname "$go_program")"
    if ! (cd test/fixtures/go-automation && GOTOOLCHAIN=local go build -mod=readonly -buildvcs=false -trimpath -ldflags "-s -w" -o "$tmp" .) >&2; then
      rm -f "$tmp"
      printf 'setup: building test/fixtures/go-automation failed (see the Go output above). The Go SDK test fails until this is fixed; everything else works.\n' >&2
      return 1
    fi
    mv -f "$tmp" "$go_program"
    # Builds of earlier SDKs are not needed again.
    find "$go_program_cache" -maxdepth 1 -name 'go-automation-*' ! -name "go-automation-$go_program_hash" -exec rm -rf {} +
    say "built the Go SDK test program in $((SECONDS - started))s"
  }
  if [[ -x "$go_program" ]] || build_go_program; then
    mkdir -p node_modules/.klarefi-pulumi
    ln -sfn "$go_program" node_modules/.klarefi-pulumi/go-automation
  fi
fi

skipped=""
for extra in $test_extras; do wants "$extra" || skipped+=" $extra"; done
[[ -z "$skipped" ]] || say "not set up (tests only; --for test or --with <name>):$skipped"
say "ready: Node.js $(node --version), @pulumi/pulumi $sdk, Pulumi CLI $("$bin/pulumi" version 2>/dev/null || "$cli" version)"
