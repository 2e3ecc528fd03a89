'use strict';
// The JS host's capabilities, exercised by a real guest: the sandbox test guest
// (`host/test-guest`, transpiled by `npm run build:test`) whose jobs probe storage, config,
// schedule, HTTP, the environment and the filesystem.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const { createLedgerlink, MemoryStore, MemorySchedule, DIST } = require('../lib/host');
const { startChild } = require('./support');

const GUEST = path.join(DIST, 'test-guest');

function guest(options = {}) {
  if (!fs.existsSync(path.join(GUEST, 'guest.js'))) {
    throw new Error(`${GUEST} is missing: run \`npm run build:test\``);
  }
  return createLedgerlink({ componentDir: GUEST, name: 'guest', ...options });
}

function detail(out) {
  assert.ok('ok' in out, JSON.stringify(out));
  return out.ok.records[0].detail;
}

test('storage keeps bytes per bucket and refuses a bad bucket name', async () => {
  const store = new MemoryStore();
  const g = await guest({ store });
  assert.equal(detail(g.runJob('kv-set', JSON.stringify({ bucket: 'invoices', key: 'opp-1', value: 'INV-1' }))), 'ok');
  assert.equal(detail(g.runJob('kv-get', JSON.stringify({ bucket: 'invoices', key: 'opp-1' }))), 'INV-1');
  assert.equal(detail(g.runJob('kv-get', JSON.stringify({ bucket: 'other', key: 'opp-1' }))), '<none>');
  assert.equal(Buffer.from(store.bucket('invoices').get('opp-1')).toString(), 'INV-1');
  const bad = g.runJob('kv-get', JSON.stringify({ bucket: '../x', key: 'k' }));
  assert.match(bad.err.failed, /bucket name/);
  // A fresh instance over the same store sees the same data.
  const again = await guest({ store });
  assert.equal(detail(again.runJob('kv-get', JSON.stringify({ bucket: 'invoices', key: 'opp-1' }))), 'INV-1');
});

test('config gives the tenant settings and refuses secret-looking ones', async () => {
  const g = await guest({ settings: { 'realm-id': '9130', 'closed-won-stage': 'Closed Won' } });
  assert.equal(detail(g.runJob('config', JSON.stringify({ key: 'realm-id' }))), '9130');
  assert.equal(detail(g.runJob('config', JSON.stringify({ key: 'absent' }))), '<none>');
  await assert.rejects(guest({ settings: { 'client-secret': 'x' } }), /looks like a secret/);
});

test('schedule records the same run once and refuses a bad time', async () => {
  const schedule = new MemorySchedule('acme');
  const g = await guest({ schedule });
  const args = JSON.stringify({ job: 'poll', args: '{}', at: '2030-01-01T00:00:00Z' });
  const id = detail(g.runJob('schedule', args));
  assert.equal(detail(g.runJob('schedule', args)), id);
  assert.equal(schedule.due(new Date('2029-12-31T23:59:59Z')).length, 0);
  assert.deepEqual(schedule.due(new Date('2030-01-01T00:00:00Z')).map((r) => r.id), [id]);
  const bad = g.runJob('schedule', JSON.stringify({ job: 'poll', args: '{}', at: 'tomorrow' }));
  assert.match(bad.err.failed, /not an RFC 3339 time/);
});

test('HTTP goes only to the connections, with the host\'s credential instead of the guest\'s', async (t) => {
  const echo = await startChild(process.execPath, [path.join(__dirname, 'echo-server.js')]);
  t.after(echo.stop);
  let token = 'qbo-token-1';
  const g = await guest({
    connections: {
      quickbooks: { baseUrl: echo.info.url, token: () => token },
      notify: { baseUrl: `${echo.info.url}/hooks/T0/B0/X` },
    },
  });
  const fetch = (args) => g.runJob('fetch', JSON.stringify(args));
  const seen = (out) => JSON.parse(detail(out).replace(/^200 /, ''));

  const first = seen(fetch({ url: 'http://quickbooks/v3/company/9130/query?query=select', headers: { authorization: 'Bearer stolen', cookie: 'c=1', 'x-probe': 'kept' } }));
  assert.equal(first.path, '/v3/company/9130/query?query=select');
  assert.equal(first.headers.authorization, 'Bearer qbo-token-1');
  assert.equal(first.headers.cookie, undefined);
  assert.equal(first.headers['x-probe'], 'kept');
  token = 'qbo-token-2';
  assert.equal(seen(fetch({ url: 'http://quickbooks/v3/company/9130/invoice', method: 'POST', body: '{}' })).headers.authorization, 'Bearer qbo-token-2');

  const hook = seen(fetch({ url: 'http://notify/', method: 'POST', body: '{"text":"hi"}' }));
  assert.equal(hook.path, '/hooks/T0/B0/X');
  assert.equal(hook.body, '{"text":"hi"}');
  assert.equal(hook.headers.authorization, undefined);

  for (const url of ['http://salesforce/services/data', `${echo.info.url}/direct`, 'http://example.com/']) {
    const refused = fetch({ url });
    assert.ok('err' in refused, `${url} must be refused: ${JSON.stringify(refused)}`);
    assert.match(refused.err.failed, /HTTPRequestDenied|request-denied/i);
  }
  assert.deepEqual(g.egress.map((e) => [e.connection, e.refused]), [
    ['quickbooks', false], ['quickbooks', false], ['notify', false],
    ['salesforce', true], ['127.0.0.1', true], ['example.com', true],
  ]);
});

test('the guest sees no environment variable and no filesystem', async () => {
  process.env.LEDGERLINK_TEST_SECRET = 'must-not-leak';
  const g = await guest();
  assert.deepEqual(JSON.parse(detail(g.runJob('env', '{}'))), []);
  for (const dir of ['/', '.', process.cwd()]) {
    assert.match(detail(g.runJob('fs', JSON.stringify({ path: dir }))), /^err /, `${dir} must not be readable`);
  }
  assert.deepEqual(g.imports['wasi:filesystem/preopens'].getDirectories(), []);
  assert.equal(g.imports['wasi:cli/environment'].initialCwd(), undefined);
  assert.throws(() => g.imports['wasi:cli/exit'].exit({ tag: 'err' }), /the guest called exit/);
});
