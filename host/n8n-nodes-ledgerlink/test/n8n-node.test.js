'use strict';
// The n8n node's execute() with a hand-made context: items in, mapped items out, per-item errors
// by On Error mode. (`n8n-engine.test.js` runs the same node inside n8n's own engine.)

const test = require('node:test');
const assert = require('node:assert/strict');
const { Ledgerlink } = require('../nodes/Ledgerlink/Ledgerlink.node');
const { fixtures, nativeResults } = require('./support');

/** The part of n8n's IExecuteFunctions the node uses. */
function context(items, parameters, continueOnFail, onError) {
  return {
    getInputData: () => items.map((json) => ({ json })),
    getNodeParameter: (name, i, fallback) => {
      const v = typeof parameters === 'function' ? parameters(i)[name] : parameters[name];
      return v === undefined ? fallback : v;
    },
    continueOnFail: () => continueOnFail,
    getNode: () => ({ name: 'Ledgerlink', type: 'n8n-nodes-ledgerlink.ledgerlink', onError }),
  };
}

const byKey = Object.fromEntries(fixtures().map((f) => [f.key, f]));
const good = byKey['build-invoice/lines-1.json'].input;
const refused = byKey['build-invoice/error-not-won-unresolved-bad-lines.json'].input;
const illTyped = { opportunity: 'not a record' };

test('the node describes one operation per mapping function and follows n8n conventions', () => {
  const pkg = require('../package.json');
  assert.match(pkg.name, /^n8n-nodes-/);
  assert.ok(pkg.keywords.includes('n8n-community-node-package'));
  assert.ok(pkg.n8n.nodes.includes('nodes/Ledgerlink/Ledgerlink.node.js'));
  const node = new Ledgerlink();
  const ops = node.description.properties.find((p) => p.name === 'operation').options.map((o) => o.value);
  assert.deepEqual(ops.sort(), [...new Set(fixtures().map((f) => f.function))].sort());
  assert.equal(node.description.name, 'ledgerlink');
  assert.deepEqual(node.description.inputs, ['main']);
});

test('every fixture through execute() gives the native result, item by item', async () => {
  const native = nativeResults();
  const node = new Ledgerlink();
  const all = fixtures();
  const ctx = context(all.map((f) => f.input), (i) => ({ operation: all[i].function }), true);
  const [out] = await node.execute.call(ctx);
  assert.equal(out.length, all.length);
  out.forEach((item, i) => {
    const want = native[all[i].key];
    assert.deepEqual(item.pairedItem, { item: i });
    if ('ok' in want) assert.deepStrictEqual(item.json, want.ok, all[i].key);
    else assert.deepStrictEqual({ kind: item.json.kind, errors: item.json.errors }, want.err, all[i].key);
  });
});

test('with continueOnFail, bad items become error items and good items still map', async () => {
  const node = new Ledgerlink();
  const [out] = await node.execute.call(context([good, refused, illTyped, good], { operation: 'build-invoice' }, true));
  assert.equal(out.length, 4);
  assert.equal(out[0].json['total-amt'], out[3].json['total-amt']);
  assert.ok(Array.isArray(out[0].json.lines) && out[0].json.lines.length === 1);
  assert.match(out[1].json.error, /build-invoice refused item 1 \(invalid-input\)/);
  assert.ok(out[1].json.errors.some((e) => e.field === 'stage-name'), JSON.stringify(out[1].json));
  assert.match(out[2].json.error, /opportunity: expected an object, found a string/);
  assert.deepEqual(out.map((o) => o.pairedItem.item), [0, 1, 2, 3]);
});

test('without continueOnFail, the first bad item stops the node and is named', async () => {
  const node = new Ledgerlink();
  await assert.rejects(
    node.execute.call(context([good, refused, good], { operation: 'build-invoice' }, false)),
    (e) => e.context.itemIndex === 1 && /refused item 1/.test(e.message) && /stage-name/.test(e.description),
  );
  await assert.rejects(
    node.execute.call(context([illTyped], { operation: 'build-invoice' }, false)),
    (e) => e.context.itemIndex === 0 && /item 0: opportunity: expected an object/.test(e.message),
  );
});

test('with the error output, a refused item is one `error` object, as n8n routes it', async () => {
  const node = new Ledgerlink();
  const [out] = await node.execute.call(context([good, refused, illTyped], { operation: 'build-invoice' }, true, 'continueErrorOutput'));
  assert.equal(out.length, 3);
  assert.ok(Array.isArray(out[0].json.lines));
  for (const failed of [out[1], out[2]]) assert.deepEqual(Object.keys(failed.json), ['error'], JSON.stringify(failed.json));
  assert.match(out[1].json.error.message, /build-invoice refused item 1 \(invalid-input\)/);
  assert.equal(out[1].json.error.kind, 'invalid-input');
  assert.ok(out[1].json.error.errors.some((e) => e.field === 'stage-name'));
  assert.match(out[1].json.error.description, /stage-name/);
  assert.match(out[2].json.error.message, /item 2: opportunity: expected an object/);
});

test('the input can come from one field of the item', async () => {
  const node = new Ledgerlink();
  const [out] = await node.execute.call(context([{ payload: good, other: 1 }], { operation: 'build-invoice', inputField: 'payload' }, false));
  assert.equal(out[0].json['doc-number'], nativeResults()['build-invoice/lines-1.json'].ok['doc-number']);
});
