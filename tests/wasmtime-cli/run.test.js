'use strict';
// The stock wasmtime CLI (`wasmtime-cli`, the major version of the workspace's wasmtime) runs
// every mapping function of the release component with `wasmtime run --invoke`: each fixture's
// input goes in as WAVE, the printed WAVE result must be exactly the native JSON and the
// fixture's expected outcome. The `-S` flags come from what the component imports; our own
// `ledgerlink:sync/schedule`, which no stock CLI has, is given by composing in
// `host/cli-schedule` (a provider that truthfully refuses: the CLI runs nothing later).

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
const { pluginComponent, testGuestComponent, cliScheduleComponent } = require(path.join(PKG, 'scripts', 'component-path'));
const { fixtures, nativeResults } = require(path.join(PKG, 'test', 'support'));
const run = promisify(execFile);

/** `WASMTIME`, else `.tools/bin/wasmtime` (where `.ci/run` installs it), else the PATH. */
function wasmtime() {
  if (process.env.WASMTIME) return process.env.WASMTIME;
  const local = path.join(REPO, '.tools', 'bin', 'wasmtime');
  return fs.existsSync(local) ? local : 'wasmtime';
}

/** `WASM_TOOLS`, else the one `.ci/run` installs into `.venv`, else the PATH. */
function wasmTools() {
  if (process.env.WASM_TOOLS) return process.env.WASM_TOOLS;
  const local = path.join(REPO, '.venv', 'bin', 'wasm-tools');
  return fs.existsSync(local) ? local : 'wasm-tools';
}

function importsOf(wasm) {
  const jco = path.join(PKG, 'node_modules', '.bin', 'jco');
  const wit = execFileSync(jco, ['wit', wasm], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return [...wit.matchAll(/^\s*import\s+([a-z0-9-]+:[a-z0-9-]+)\/([a-z0-9-]+)@/gm)].map((m) => `${m[1]}/${m[2]}`);
}

/**
 * What the CLI runs for `wasm`, in `dir`: the component itself, or, when it imports
 * `ledgerlink:sync/schedule`, the component with `host/cli-schedule` composed in; and the `-S`
 * flags its other imports need. An import nothing here can give is an error.
 */
function forTheCli(wasm, dir) {
  const imports = importsOf(wasm);
  let runnable = wasm;
  if (imports.includes('ledgerlink:sync/schedule')) {
    // `wasm-tools compose` matches the provider by its file name, which must be kebab-case.
    const provider = path.join(dir, 'cli-schedule.wasm');
    fs.copyFileSync(cliScheduleComponent(), provider);
    runnable = path.join(dir, `composed-${path.basename(wasm)}`);
    execFileSync(wasmTools(), ['compose', wasm, '-d', provider, '-o', runnable], { stdio: ['ignore', 'ignore', 'inherit'] });
    assert.ok(!importsOf(runnable).includes('ledgerlink:sync/schedule'), 'the composed component still imports schedule');
  }
  const flags = new Set();
  for (const i of importsOf(runnable)) {
    if (/^wasi:(cli|io|clocks|random|filesystem|sockets)\//.test(i) || i === 'ledgerlink:sync/types') continue;
    if (i.startsWith('wasi:http/')) flags.add('http');
    else if (i === 'wasi:keyvalue/store') flags.add('keyvalue');
    else if (i === 'wasi:config/store') flags.add('config');
    else throw new Error(`the wasmtime CLI cannot provide ${i}: see README "From the wasmtime CLI"`);
  }
  return { runnable, flags: [...flags].flatMap((f) => ['-S', f]) };
}

/** `wasmtime run` of one call, the result parsed as type `ty`. */
async function invoke(bin, wasm, flags, call, ty) {
  const { stdout } = await run(bin, ['run', ...flags, '--allow-precompiled', '--invoke', call, wasm], { maxBuffer: 64 << 20 });
  return fromWave(stdout.trim(), ty);
}

function checkVersion(bin) {
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  const wanted = /wasmtime = \{ version = "(\d+)"/.exec(fs.readFileSync(path.join(REPO, 'Cargo.toml'), 'utf8'))[1];
  assert.match(version, new RegExp(`^wasmtime ${wanted}\\.`), `the workspace uses wasmtime ${wanted}`);
}

test('every mapping fixture gives the native JSON through `wasmtime run --invoke`', async () => {
  const bin = wasmtime();
  checkVersion(bin);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerlink-wasmtime-'));
  const { runnable, flags } = forTheCli(pluginComponent(), dir);
  // Compile once; each call then loads the precompiled component.
  const cwasm = path.join(dir, 'ledgerlink_plugin.cwasm');
  execFileSync(bin, ['compile', runnable, '-o', cwasm]);

  const contract = parseWit(fs.readFileSync(path.join(REPO, 'wit', 'ledgerlink.wit'), 'utf8'));
  const native = nativeResults();
  const all = fixtures();
  assert.ok(all.length >= 8);
  const failures = [];
  const calls = all.map((f) => async () => {
    const fn = func(contract, 'mapping', f.function);
    const call = `ledgerlink:sync/mapping.${f.function}@0.1.0(${toWave(f.input, fn.params[0].type)})`;
    const got = await invoke(bin, cwasm, flags, call, fn.result);
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

test('the whole plugin world runs in the CLI: keyvalue and config from -S flags, schedule composed in', async () => {
  // The sandbox test guest imports everything the `plugin` world declares, as the component
  // will once its flows land.
  const bin = wasmtime();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerlink-wasmtime-'));
  const { runnable, flags } = forTheCli(testGuestComponent(), dir);
  assert.deepEqual(flags, ['-S', 'keyvalue', '-S', 'config', '-S', 'http']);
  const cwasm = path.join(dir, 'guest.cwasm');
  execFileSync(bin, ['compile', runnable, '-o', cwasm]);
  const contract = parseWit(fs.readFileSync(path.join(REPO, 'wit', 'ledgerlink.wit'), 'utf8'));
  const runJob = func(contract, 'flows', 'run-job');
  const job = (name, args, extra = []) => invoke(bin, cwasm, [...flags, ...extra],
    `ledgerlink:sync/flows.run-job@0.1.0(${toWave(name, { kind: 'string' })}, ${toWave(JSON.stringify(args), { kind: 'string' })})`, runJob.result);

  // The CLI's key-value store is one unnamed in-memory bucket, filled by -S keyvalue-in-memory-data.
  const kv = await job('kv-get', { bucket: '', key: 'opp-1' }, ['-S', 'keyvalue-in-memory-data=opp-1=INV-1']);
  assert.equal(kv.ok.records[0].detail, 'INV-1');
  const named = await job('kv-get', { bucket: 'invoices', key: 'opp-1' });
  assert.match(named.err.failed, /NoSuchStore/);
  const config = await job('config', { key: 'realm-id' }, ['-S', 'config-var=realm-id=9130']);
  assert.equal(config.ok.records[0].detail, '9130');
  const later = await job('schedule', { job: 'poll', args: '{}', at: '2030-01-01T00:00:00Z' });
  assert.match(later.err.failed, /this host has no scheduler: job "poll" at 2030-01-01T00:00:00Z was not scheduled/);
  // No environment variable and no directory unless asked for.
  process.env.LEDGERLINK_TEST_SECRET = 'must-not-leak';
  assert.deepEqual(JSON.parse((await job('env', {})).ok.records[0].detail), []);
  assert.match((await job('fs', { path: '/' })).ok.records[0].detail, /^err /);
  fs.rmSync(dir, { recursive: true, force: true });
});
