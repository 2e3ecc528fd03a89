'use strict';
// The file-backed store the Sync node keeps a tenant's state in, and its one-run-at-a-time lock.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { FileStore, lockStore } = require('../lib/caps/storage');
const { createLedgerlink, DIST } = require('../lib/host');

function scratch(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerlink-filestore-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
const text = (bytes) => (bytes === undefined ? undefined : Buffer.from(bytes).toString());

test('values outlive the store object; deletes too; a torn last line is skipped', (t) => {
  const dir = scratch(t);
  const first = new FileStore(dir);
  first.bucket('links').set('opp-1', Buffer.from('INV-1'));
  first.bucket('links').set('opp-2', Buffer.from('INV-2'));
  first.bucket('links').set('opp-1', Buffer.from('INV-1b'));
  first.bucket('links').delete('opp-2');
  first.bucket('cursors').set('sf-modstamp/Opportunity', Buffer.from('2025-03-31T00:00:00Z'));
  first.close();
  fs.appendFileSync(path.join(dir, 'links.kv'), '{"k":"opp-3","v":"SU5');

  const again = new FileStore(dir);
  assert.equal(text(again.bucket('links').get('opp-1')), 'INV-1b');
  assert.equal(again.bucket('links').has('opp-2'), false);
  assert.equal(again.bucket('links').has('opp-3'), false);
  assert.deepEqual([...again.bucket('links').keys()], ['opp-1']);
  assert.equal(text(again.bucket('cursors').get('sf-modstamp/Opportunity')), '2025-03-31T00:00:00Z');
  assert.equal(fs.statSync(path.join(dir, 'links.kv')).mode & 0o077, 0, 'not readable by others');
  assert.throws(() => again.bucket('../x'), /not a file name/);
  again.bucket('links').set('opp-4', Buffer.from('INV-4'));
  again.close();
  assert.equal(text(new FileStore(dir).bucket('links').get('opp-4')), 'INV-4', 'a write after a torn line is kept');
});

test('a log of mostly superseded lines is compacted on close, keeping every value', (t) => {
  const dir = scratch(t);
  const store = new FileStore(dir);
  for (let i = 0; i < 500; i++) store.bucket('progress').set('step', Buffer.from(String(i)));
  store.bucket('progress').set('other', Buffer.from('x'));
  store.close();
  const lines = fs.readFileSync(path.join(dir, 'progress.kv'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  const again = new FileStore(dir);
  assert.equal(text(again.bucket('progress').get('step')), '499');
  assert.equal(text(again.bucket('progress').get('other')), 'x');
});

test('one run at a time per store: a second waits, then fails naming the holder; a dead holder is taken over', async (t) => {
  const dir = scratch(t);
  const release = await lockStore(dir);
  await assert.rejects(lockStore(dir, { waitMs: 300 }), new RegExp(`in use by ${os.hostname()} pid ${process.pid} since `));
  release();
  const again = await lockStore(dir, { waitMs: 0 });
  again();

  // A lock left by a process that is gone (same host) does not hold anyone up.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ host: os.hostname(), pid: Number(dead.stdout), since: new Date().toISOString() }));
  const taken = await lockStore(dir, { waitMs: 0 });
  taken();
  assert.equal(fs.existsSync(path.join(dir, '.lock')), false);
});

test('the component reads back through a fresh instance what it wrote to a FileStore', async (t) => {
  const dir = scratch(t);
  const guest = (store) => createLedgerlink({ componentDir: path.join(DIST, 'test-guest'), name: 'guest', store });
  const writer = new FileStore(dir);
  const one = await guest(writer);
  assert.equal(one.runJob('kv-set', JSON.stringify({ bucket: 'invoices', key: 'opp-1', value: 'INV-1' })).ok.records[0].detail, 'ok');
  writer.close();
  const two = await guest(new FileStore(dir));
  assert.equal(two.runJob('kv-get', JSON.stringify({ bucket: 'invoices', key: 'opp-1' })).ok.records[0].detail, 'INV-1');
});
