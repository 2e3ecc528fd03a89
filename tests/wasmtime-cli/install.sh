#!/usr/bin/env bash
# Installs the stock wasmtime CLI (crate `wasmtime-cli`, the major version of the workspace's
# wasmtime) into .tools/bin when it is not there yet. Takes about 10 minutes on two cores the first
# time (measured: 40 min with one build job on a busy two-core machine, 20 min of CPU);
# afterwards it is a version check.
set -euo pipefail
cd "$(dirname "$0")/../.."

major=$(sed -n 's/^wasmtime = { version = "\([0-9]*\)".*/\1/p' Cargo.toml)
bin=.tools/bin/wasmtime
if "$bin" --version 2>/dev/null | grep -q "^wasmtime $major\."; then
  "$bin" --version
  exit 0
fi
echo "installing wasmtime-cli $major.x into .tools (cargo install --locked)"
start=$(date +%s)
# Its own target directory: never the workspace's, and removed afterwards.
build_dir=$(mktemp -d)
trap 'rm -rf "$build_dir"' EXIT
CARGO_TARGET_DIR="$build_dir" cargo install --locked wasmtime-cli --version "^$major" --root .tools
"$bin" --version
echo "wasmtime-cli installed in $(( $(date +%s) - start )) s"
