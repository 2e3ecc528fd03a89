'use strict';
/**
 * Where the built components are. `LEDGERLINK_COMPONENT` / `LEDGERLINK_TEST_GUEST` name files
 * directly; otherwise the cargo target directory (`CARGO_TARGET_DIR`, default `<repo>/target`) is
 * searched: first `plugin-component/` (what `cargo build`/`cargo test` of the host builds), then the
 * plain `cargo build -p ledgerlink-plugin --target wasm32-wasip2 --release` output.
 */
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');

function findComponent(file, envVar) {
  if (process.env[envVar]) return path.resolve(process.env[envVar]);
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
  const candidates = [
    path.join(target, 'plugin-component', 'wasm32-wasip2', 'release', file),
    path.join(target, 'wasm32-wasip2', 'release', file),
  ];
  const found = candidates.filter((c) => fs.existsSync(c)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (found.length === 0) {
    throw new Error(`${file} not found (looked in ${candidates.join(', ')}); build it with \`cargo build -p ${file.replace('.wasm', '').replace(/_/g, '-')} --target wasm32-wasip2 --release\` or set ${envVar}`);
  }
  return found[0];
}

module.exports = {
  REPO,
  pluginComponent: () => findComponent('ledgerlink_plugin.wasm', 'LEDGERLINK_COMPONENT'),
  testGuestComponent: () => findComponent('ledgerlink_test_guest.wasm', 'LEDGERLINK_TEST_GUEST'),
  cliScheduleComponent: () => findComponent('ledgerlink_cli_schedule.wasm', 'LEDGERLINK_CLI_SCHEDULE'),
};
