#!/usr/bin/env bash
# Installs the stock wasmtime CLI (crate `wasmtime-cli`, the major version of the workspace's
# wasmtime) into .tools/bin when it is not there yet. The build takes about 10 minutes on two
# cores (measured: 40 min with one build job on a busy two-core machine, 20 min of CPU), so the
# binary is cached outside the clone, keyed by version (`$LEDGERLINK_CACHE`, default
# ~/.cache/ledgerlink/wasmtime-cli-<major>), and a fresh clone on the same machine only copies it.
set -euo pipefail
cd "$(dirname "$0")/../.."

major=$(sed -n 's/^wasmtime = { version = "\([0-9]*\)".*/\1/p' Cargo.toml)
bin=.tools/bin/wasmtime
if "$bin" --version 2>/dev/null | grep -q "^wasmtime $major\."; then
  "$bin" --version
  exit 0
fi
cache="${LEDGERLINK_CACHE:-$HOME/.cache/ledgerlink}/wasmtime-cli-$major"
if ! "$cache/bin/wasmtime" --version 2>/dev/null | grep -q "^wasmtime $major\."; then
  echo "installing wasmtime-cli $major.x into $cache (cargo install --locked)"
  start=$(date +%s)
  # Its own target directory: never the workspace's, and removed afterwards.
  build_dir=$(mktemp -d)
  trap 'rm -rf "$build_dir"' EXIT
  CARGO_TARGET_DIR="$build_dir" cargo install --locked wasmtime-cli --version "^$major" --root "$cache"
  echo "wasmtime-cli installed in $(( $(date +%s) - start )) s"
fi
mkdir -p .tools/bin
cp "$cache/bin/wasmtime" "$bin"
"$bin" --version
