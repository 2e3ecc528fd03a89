#!/usr/bin/env bash
# Every test of the project: Rust unit, component and end-to-end tests, then the conformance
# suites in which real third-party clients (python-quickbooks, simple-salesforce, Salesforce's
# Pub/Sub API client for Node) talk to the emulators. Run from anywhere; it works from the
# repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets --no-fail-fast

# The conformance suites start the emulator binary themselves.
cargo build -p ledgerlink-emulators --bin ledgerlink-emulate
export LEDGERLINK_EMULATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/ledgerlink-emulate"
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
  echo "conformance: creating .venv (python3 -m venv) and installing host/emulators/conformance/requirements.txt"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r host/emulators/conformance/requirements.txt
fi
"$PY" -m pytest -q host/emulators/conformance
# Salesforce's Pub/Sub API client for Node against the emulator's gRPC server.
if [ ! -d host/emulators/conformance/salesforce-pubsub/node_modules ]; then
  echo "conformance: installing host/emulators/conformance/salesforce-pubsub's dependencies (npm ci)"
  (cd host/emulators/conformance/salesforce-pubsub && npm ci --no-audit --no-fund)
fi
node --test host/emulators/conformance/salesforce-pubsub/pubsub.test.mjs

# The component in hosts no one here wrote: the stock wasmtime CLI and Node through jco (the n8n
# node). They run the release component `cargo test` built above (host/build.rs puts it in
# target/plugin-component; this is the same command, so it is up to date) against the native
# results of the same fixtures.
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --lib --release --target wasm32-wasip2 -p ledgerlink-plugin -p ledgerlink-test-guest \
  -p ledgerlink-cli-schedule --target-dir "$TARGET/plugin-component"
export LEDGERLINK_COMPONENT="$TARGET/plugin-component/wasm32-wasip2/release/ledgerlink_plugin.wasm"
export LEDGERLINK_TEST_GUEST="$TARGET/plugin-component/wasm32-wasip2/release/ledgerlink_test_guest.wasm"
export LEDGERLINK_CLI_SCHEDULE="$TARGET/plugin-component/wasm32-wasip2/release/ledgerlink_cli_schedule.wasm"
export LEDGERLINK_NATIVE_RESULTS="$TARGET/mapping-fixture-results.json"
cargo run -q -p ledgerlink-tests --example mapping_fixture_results > "$LEDGERLINK_NATIVE_RESULTS"

bash tests/wasmtime-cli/install.sh
export WASMTIME="$PWD/.tools/bin/wasmtime"
"$PY" -m pip install --quiet --disable-pip-version-check -r tests/wasmtime-cli/requirements.txt
export WASM_TOOLS="$PWD/.venv/bin/wasm-tools"
# (npm ci again when the lock file is newer than the install: n8n-core and n8n-workflow, the
# engine the node's tests run in, came with a lock file change.)
N8N_PKG=host/n8n-nodes-ledgerlink
if [ ! -f "$N8N_PKG/node_modules/.package-lock.json" ] || [ "$N8N_PKG/package-lock.json" -nt "$N8N_PKG/node_modules/.package-lock.json" ]; then
  echo "node: installing $N8N_PKG's dependencies (npm ci)"
  (cd "$N8N_PKG" && npm ci --no-audit --no-fund)
fi
(cd "$N8N_PKG" && npm run --silent build:test)
# The package's tests: the JS host, the nodes with a hand-made context, and the nodes inside n8n's
# own engine (n8n-core's WorkflowExecute): the mapping node in every On Error mode, and the Sync
# node's Closed Won -> invoice workflow against the emulators (LEDGERLINK_EMULATE_BIN, built at
# the top).
node --test "$N8N_PKG"/test/*.test.js tests/wasmtime-cli/*.test.js tests/versions/*.test.js

# A production build leaves the emulators out (`--no-default-features`): it builds, and offers no
# `demo` or `emulate`. (Last, as it replaces target/debug/ledgerlink; `cargo run` rebuilds it.)
cargo build -q -p ledgerlink --no-default-features --bin ledgerlink
if "${CARGO_TARGET_DIR:-$PWD/target}/debug/ledgerlink" --help | grep -Eq '^  (demo|emulate) '; then
  echo "the build without the emulators still offers demo or emulate" >&2
  exit 1
fi
if cargo tree -q -p ledgerlink --no-default-features -e normal | grep -q ledgerlink-emulators; then
  echo "the build without the emulators still depends on ledgerlink-emulators" >&2
  exit 1
fi
echo "production build without the emulators: ok"
