'use strict';
// Version discipline: the component imports exactly the interfaces, at exactly the versions, that
// the README's "Versions" section documents (between the `component-imports` markers). Adding a
// capability, or a toolchain that moves a WASI version, must update the README in the same change.
// The component's own world is read with `jco wit` (no Rust build needed).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const REPO = path.resolve(__dirname, '..', '..');
const PKG = path.join(REPO, 'host', 'n8n-nodes-ledgerlink');
const { pluginComponent } = require(path.join(PKG, 'scripts', 'component-path'));

/** `[interface, version]` rows of the README table between the markers. */
function documented() {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const m = /<!-- component-imports:begin -->([\s\S]*?)<!-- component-imports:end -->/.exec(readme);
  assert.ok(m, 'README.md has a component-imports table');
  const rows = [];
  for (const line of m[1].split('\n')) {
    const cells = line.split('|').map((c) => c.trim().replace(/`/g, ''));
    if (cells.length < 4 || !/^[a-z-]+:[a-z-]+\//.test(cells[1])) continue;
    for (const iface of cells[1].split(',').map((s) => s.trim())) rows.push(`${iface}@${cells[2]}`);
  }
  return rows.sort();
}

/** `ns:pkg/interface@version` of every import of the built component. */
function imported(wasm) {
  const jco = path.join(PKG, 'node_modules', '.bin', 'jco');
  const wit = execFileSync(jco, ['wit', wasm], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return [...wit.matchAll(/^\s*import\s+([a-z0-9-]+:[a-z0-9-]+\/[a-z0-9-]+@[0-9A-Za-z.+-]+);/gm)].map((m) => m[1]).sort();
}

test('the component imports exactly the documented interfaces and versions', () => {
  const wasm = pluginComponent();
  const docs = documented();
  const actual = imported(wasm);
  const missing = actual.filter((i) => !docs.includes(i));
  const extra = docs.filter((i) => !actual.includes(i));
  assert.deepEqual({ undocumented: missing, 'documented but not imported': extra }, { undocumented: [], 'documented but not imported': [] },
    `${wasm}: update README.md "Versions" (component-imports table) with what the component imports now`);
});

test('every imported WASI package is one the WIT pins or the Rust standard library brings', () => {
  const pinned = fs.readdirSync(path.join(REPO, 'wit', 'deps'));
  for (const i of imported(pluginComponent())) {
    const [, ns, pkg, version] = /^([a-z-]+):([a-z-]+)\/[a-z-]+@(.+)$/.exec(i);
    if (ns === 'ledgerlink') { assert.equal(version, '0.1.0', i); continue; }
    const pin = pinned.find((d) => d.startsWith(`${pkg}@`));
    assert.ok(pin, `${i}: no wit/deps/${pkg}@<version>`);
    const pinVersion = pin.split('@')[1];
    // WIT unifies 0.2.x imports to the newest one linked in (the Rust std's wasi:cli/io/random).
    const series = (v) => v.split('.').slice(0, 2).join('.');
    assert.equal(series(version), series(pinVersion), `${i} is not in the series of wit/deps/${pin}`);
    if (pinVersion.includes('-')) assert.equal(version, pinVersion, `${i}: a pre-release is pinned exactly`);
  }
});
