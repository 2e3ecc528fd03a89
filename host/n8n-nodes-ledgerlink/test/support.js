'use strict';
/** Shared by the tests: the fixtures, the native reference results, child-process servers. */

const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const readline = require('node:readline');
const { REPO } = require('../scripts/component-path');

const FIXTURES = path.join(REPO, 'tests', 'fixtures', 'mapping');

/** Every mapping fixture: `{function, file, key, input, expect}`, sorted. */
function fixtures() {
  const out = [];
  for (const fn of fs.readdirSync(FIXTURES).sort()) {
    const dir = path.join(FIXTURES, fn);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const fixture = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      out.push({ function: fn, file, key: `${fn}/${file}`, input: fixture.input, expect: fixture.expect });
    }
  }
  return out;
}

/**
 * What the native Rust mapping code answers for every fixture (`<function>/<file>` -> JSON): read
 * from `LEDGERLINK_NATIVE_RESULTS` when `tests/run-all.sh` made it, else computed with cargo.
 */
function nativeResults() {
  const file = process.env.LEDGERLINK_NATIVE_RESULTS;
  if (file) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const out = execFileSync('cargo', ['run', '-q', '-p', 'ledgerlink-tests', '--example', 'mapping_fixture_results'], {
    cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out);
}

/**
 * Starts `command args` in a child process and resolves with the first line it prints, parsed as
 * JSON, and a `stop()`. The guest's HTTP blocks this thread, so servers it talks to live elsewhere.
 */
function startChild(command, args, { env } = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const stop = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); };
  process.on('exit', stop);
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => { stop(); reject(new Error(`${command} printed nothing in 30 s`)); }, 30000);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${command} exited (${code}) before it was ready`)); });
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ info: JSON.parse(line), stop });
    });
  });
}

/** The emulator binary: `LEDGERLINK_EMULATE_BIN` (as the conformance tests use), else the debug build. */
function emulatorBinary() {
  if (process.env.LEDGERLINK_EMULATE_BIN) return process.env.LEDGERLINK_EMULATE_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
  const bin = path.join(target, 'debug', 'ledgerlink-emulate');
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: cargo build -p ledgerlink-emulators --bin ledgerlink-emulate (or set LEDGERLINK_EMULATE_BIN)`);
  }
  return bin;
}

/** Starts one emulator (`quickbooks` or `salesforce`) in a child process. */
function startEmulator(service, ...flags) {
  return startChild(emulatorBinary(), [service, ...flags]);
}

module.exports = { REPO, fixtures, nativeResults, startChild, startEmulator };
