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

const SF_API = '/services/data/v61.0';

async function sf(base, token, method, path, body) {
  const res = await fetch(`${base}${SF_API}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`Salesforce ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * A Closed Won Opportunity with two lines, created through the Salesforce emulator's REST API
 * (`withAccount: false` leaves out its Account, which the invoice flow refuses).
 */
async function seedClosedWon(salesforce, { name = 'Acme Node Corp', withAccount = true } = {}) {
  const { url, access_token: token } = salesforce;
  const account = withAccount ? (await sf(url, token, 'POST', '/sobjects/Account', { Name: name })).id : null;
  const pricebook = (await sf(url, token, 'GET', `/query?q=${encodeURIComponent('SELECT Id FROM Pricebook2 WHERE IsStandard = true')}`)).records[0].Id;
  const lines = [];
  for (const [code, price, qty] of [['CONS-1', 150, 3], ['LIC-1', 1200.5, 1]]) {
    const product = (await sf(url, token, 'POST', '/sobjects/Product2', { Name: `${name} ${code}`, ProductCode: code, IsActive: true })).id;
    const entry = (await sf(url, token, 'POST', '/sobjects/PricebookEntry', { Pricebook2Id: pricebook, Product2Id: product, UnitPrice: price, IsActive: true })).id;
    lines.push({ entry, price, qty });
  }
  const opportunity = (await sf(url, token, 'POST', '/sobjects/Opportunity', {
    Name: `${name} - 2 lines`, ...(account ? { AccountId: account } : {}), StageName: 'Closed Won', CloseDate: '2025-03-31', Pricebook2Id: pricebook,
  })).id;
  for (const l of lines) {
    await sf(url, token, 'POST', '/sobjects/OpportunityLineItem', { OpportunityId: opportunity, PricebookEntryId: l.entry, Quantity: l.qty, UnitPrice: l.price });
  }
  const amount = lines.reduce((sum, l) => sum + l.price * l.qty, 0).toFixed(2);
  return { opportunity, amount };
}

/** A QBO query over the emulator's REST API: the entity's rows. */
async function qboQuery(qbo, token, query) {
  const url = `${qbo.url}/v3/company/${qbo.realm_id}/query?query=${encodeURIComponent(query)}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
  const text = await res.text();
  if (!res.ok) throw new Error(`QBO query ${query}: ${res.status} ${text}`);
  const answer = JSON.parse(text).QueryResponse;
  const entity = Object.keys(answer).find((k) => Array.isArray(answer[k]));
  return entity ? answer[entity] : [];
}

module.exports = { REPO, fixtures, nativeResults, startChild, startEmulator, sf, seedClosedWon, qboQuery };
