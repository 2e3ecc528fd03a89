#!/usr/bin/env bash
# Every test of the project: Rust unit, component and end-to-end tests, then the conformance
# suites in which real third-party clients (python-quickbooks, simple-salesforce) talk to the
# emulators. Run from anywhere; it works from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets

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
