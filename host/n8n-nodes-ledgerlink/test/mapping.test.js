'use strict';
// The component, transpiled by jco, gives the native JSON for every mapping fixture, and the
// fixture's expected outcome (ok or error).

const test = require('node:test');
const assert = require('node:assert/strict');
const { createLedgerlink } = require('../lib/host');
const { fixtures, nativeResults } = require('./support');

test('every mapping fixture gives the native JSON in Node through jco', async () => {
  const all = fixtures();
  const native = nativeResults();
  const ll = await createLedgerlink();
  const functions = new Set(all.map((f) => f.function));
  assert.deepEqual([...functions].sort(), ll.mappingFunctions().sort(), 'a fixture directory for every mapping function');
  for (const f of all) {
    const got = ll.call(f.function, f.input);
    assert.ok(f.key in native, `${f.key}: no native result`);
    assert.deepStrictEqual(got, native[f.key], `${f.key}: jco and native disagree`);
    assert.ok(f.expect === 'ok' ? 'ok' in got : 'err' in got, `${f.key}: expected ${f.expect}, got ${JSON.stringify(got).slice(0, 300)}`);
  }
});

test('an ill-typed input is refused by type with the path of the bad value', async () => {
  const ll = await createLedgerlink();
  const input = structuredClone(fixtures().find((f) => f.key === 'build-invoice/lines-1.json').input);
  input.opportunity['line-items'][0].quantity = 12.5;
  assert.throws(() => ll.call('build-invoice', input), /opportunity\.line-items\[0\]\.quantity: expected a string, found a number/);
  delete input.opportunity['line-items'];
  assert.throws(() => ll.call('build-invoice', input), /opportunity\.line-items: missing required field/);
  assert.throws(() => ll.call('build-invoices', input), /unknown function "build-invoices"/);
});

test('a bad decimal is the component\'s typed error naming the record and field', async () => {
  const ll = await createLedgerlink();
  const input = structuredClone(fixtures().find((f) => f.key === 'build-invoice/lines-1.json').input);
  input.opportunity['line-items'][0].quantity = '12,5';
  const out = ll.call('build-invoice', input);
  assert.equal(out.err.kind, 'invalid-input');
  assert.ok(out.err.errors.some((e) => e.field.endsWith('line-items[0].quantity')), JSON.stringify(out));
  assert.match(out.err.errors[0]['record-id'], /^Opportunity /);
});
