'use strict';
// The stock wasmtime CLI (`wasmtime-cli`, the major version of the workspace's wasmtime) runs
// every mapping function of the release component with `wasmtime run --invoke`: each fixture's
// input goes in as WAVE, the printed WAVE result must be exactly the native JSON and the
// fixture's expected outcome. The `-S` flags come from what the component imports.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile, execFileSync } = require('node:child_process');
const { promisify } = require('node:util');
const { toWave, fromWave } = require('./wave');

const REPO = path.resolve(__dirname, '..', '..');
const PKG = path.join(REPO, 'host', 'n8n-nodes-ledgerlink');
const { parseWit, func } = require(path.join(PKG, 'lib', 'wit'));
const { pluginComponent } = require(path.join(PKG, 'scripts', 'component-path'));
const { fixtures, nativeResults } = require(path.join(PKG, 'test', 'support'));
const run = promisify(execFile);

/** `WASMTIME`, else `.tools/bin/wasmtime` (where `.ci/run` installs it), else the PATH. */
function wasmtime() {
  if (process.env.WASMTIME) return process.env.WASMTIME;
  const local = path.join(REPO, '.tools', 'bin', 'wasmtime');
  return fs.existsSync(local) ? local : 'wasmtime';
}

/** The `-S` flags the component's imports need; an import the CLI cannot give is an error. */
function wasiFlags(wasm) {
  const jco = path.join(PKG, 'node_modules', '.bin', 'jco');
  const wit = execFileSync(jco, ['wit', wasm], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const imports = [...wit.matchAll(/^\s*import\s+([a-z0-9-]+:[a-z0-9-]+)\/([a-z0-9-]+)@/gm)].map((m) => `${m[1]}/${m[2]}`);
  const flags = new Set();
  for (const i of imports) {
    if (/^wasi:(cli|io|clocks|random|filesystem|sockets)\//.test(i) || i === 'ledgerlink:sync/types') continue;
    if (i.startsWith('wasi:http/')) flags.add('http');
    else if (i === 'wasi:keyvalue/store') flags.add('keyvalue');
    else if (i === 'wasi:config/store') flags.add('config');
    else throw new Error(`the wasmtime CLI cannot provide ${i}: see README "From the wasmtime CLI"`);
  }
  return [...flags].flatMap((f) => ['-S', f]);
}

test('every mapping fixture gives the native JSON through `wasmtime run --invoke`', async () => {
  const bin = wasmtime();
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  const wanted = /wasmtime = \{ version = "(\d+)"/.exec(fs.readFileSync(path.join(REPO, 'Cargo.toml'), 'utf8'))[1];
  assert.match(version, new RegExp(`^wasmtime ${wanted}\\.`), `the workspace uses wasmtime ${wanted}`);

  const wasm = pluginComponent();
  const flags = wasiFlags(wasm);
  // Compile once; each call then loads the precompiled component.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerlink-wasmtime-'));
  const cwasm = path.join(dir, 'ledgerlink_plugin.cwasm');
  execFileSync(bin, ['compile', wasm, '-o', cwasm]);

  const contract = parseWit(fs.readFileSync(path.join(REPO, 'wit', 'ledgerlink.wit'), 'utf8'));
  const native = nativeResults();
  const all = fixtures();
  assert.ok(all.length >= 8);
  const failures = [];
  const calls = all.map((f) => async () => {
    const fn = func(contract, 'mapping', f.function);
    const invoke = `ledgerlink:sync/mapping@0.1.0#${f.function}(${toWave(f.input, fn.params[0].type)})`;
    const { stdout } = await run(bin, ['run', ...flags, '--allow-precompiled', '--invoke', invoke, cwasm], { maxBuffer: 64 << 20 });
    const got = fromWave(stdout.trim(), fn.result);
    try {
      assert.deepStrictEqual(got, native[f.key], `${f.key}: the wasmtime CLI and native disagree`);
      assert.ok(f.expect === 'ok' ? 'ok' in got : 'err' in got, `${f.key}: expected ${f.expect}`);
    } catch (e) {
      failures.push(e);
    }
  });
  // Two at a time: CI machines have two cores.
  const queue = [...calls];
  await Promise.all([0, 1].map(async () => { while (queue.length) await queue.shift()(); }));
  fs.rmSync(dir, { recursive: true, force: true });
  if (failures.length) throw failures[0];
});

test('WAVE written for the CLI reads back to the same JSON', () => {
  const contract = parseWit(fs.readFileSync(path.join(REPO, 'wit', 'ledgerlink.wit'), 'utf8'));
  for (const f of fixtures()) {
    const ty = func(contract, 'mapping', f.function).params[0].type;
    const full = fromWave(toWave(f.input, ty), ty);
    // Fixtures may leave out option fields; the round trip gives every field, the same WAVE.
    assert.equal(toWave(full, ty), toWave(f.input, ty), f.key);
  }
  assert.equal(toWave('a"b\\c\n\u0001é', { kind: 'string' }), '"a\\"b\\\\c\\n\\u{1}é"');
  assert.equal(fromWave('"a\\"b\\\\c\\n\\u{1}é"', { kind: 'string' }), 'a"b\\c\n\u0001é');
});
