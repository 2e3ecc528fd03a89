'use strict';
// The mapping node inside n8n's own engine (n8n-core's WorkflowExecute, see `engine.js`): every
// fixture gives the native result, and a refused item goes where each On Error setting sends it.

const test = require('node:test');
const assert = require('node:assert/strict');
const { runWorkflow, outputs, stopEngine } = require('./engine');
const { fixtures, nativeResults } = require('./support');

const byKey = Object.fromEntries(fixtures().map((f) => [f.key, f]));
const good = byKey['build-invoice/lines-1.json'].input;
const refused = byKey['build-invoice/error-not-won-unresolved-bad-lines.json'].input;
const illTyped = { opportunity: 'not a record' };

test.after(stopEngine);

/** Items -> Ledgerlink (`operation`, `onError`), run by WorkflowExecute. */
function mapInEngine(items, operation, onError) {
  return runWorkflow([
    { name: 'Items', type: 'test.items', parameters: { items: JSON.stringify(items) } },
    { name: 'Ledgerlink', type: 'n8n-nodes-ledgerlink.ledgerlink', parameters: { operation }, ...(onError ? { onError } : {}) },
  ]);
}

test('in the engine, every fixture gives the native result (regular output and error output)', async () => {
  const native = nativeResults();
  const byFunction = new Map();
  for (const f of fixtures()) byFunction.set(f.function, [...(byFunction.get(f.function) || []), f]);
  for (const [fn, all] of byFunction) {
    const regular = await mapInEngine(all.map((f) => f.input), fn, 'continueRegularOutput');
    assert.equal(regular.status, 'success', fn);
    const [main] = outputs(regular, 'Ledgerlink');
    assert.equal(main.length, all.length, fn);
    all.forEach((f, i) => {
      const want = native[f.key];
      assert.deepEqual(main[i].pairedItem, { item: i }, f.key);
      if ('ok' in want) assert.deepStrictEqual(main[i].json, want.ok, f.key);
      else {
        assert.match(main[i].json.error, new RegExp(`^${fn} refused item ${i} `), f.key);
        assert.deepStrictEqual({ kind: main[i].json.kind, errors: main[i].json.errors }, want.err, f.key);
      }
    });

    const split = await mapInEngine(all.map((f) => f.input), fn, 'continueErrorOutput');
    assert.equal(split.status, 'success', fn);
    const [ok, failed] = outputs(split, 'Ledgerlink');
    const wantOk = all.filter((f) => 'ok' in native[f.key]);
    const wantErr = all.filter((f) => 'err' in native[f.key]);
    assert.deepStrictEqual(ok.map((item) => item.json), wantOk.map((f) => native[f.key].ok), fn);
    assert.equal(failed.length, wantErr.length, `${fn}: one error-output item per refused fixture`);
    failed.forEach((item, n) => {
      const f = wantErr[n];
      assert.equal(item.pairedItem.item, all.indexOf(f), f.key);
      assert.deepStrictEqual({ kind: item.json.error.kind, errors: item.json.error.errors }, native[f.key].err, f.key);
    });
  }
});

test('Stop Workflow: a refused item fails the run, naming the node and the item', async () => {
  for (const onError of [undefined, 'stopWorkflow']) {
    const run = await mapInEngine([good, refused, good], 'build-invoice', onError);
    assert.equal(run.status, 'error');
    const { error } = run.data.resultData;
    assert.equal(error.node.name, 'Ledgerlink');
    assert.equal(error.context.itemIndex, 1);
    assert.match(error.message, /build-invoice refused item 1 \(invalid-input\)/);
    assert.match(error.description, /Opportunity 0065e00000AbCdEAAV: stage-name: /);
    assert.equal(run.data.resultData.lastNodeExecuted, 'Ledgerlink');
  }
  const run = await mapInEngine([good, illTyped], 'build-invoice', 'stopWorkflow');
  assert.equal(run.status, 'error');
  assert.equal(run.data.resultData.error.context.itemIndex, 1);
  assert.match(run.data.resultData.error.message, /item 1: opportunity: expected an object, found a string/);
});

test('Continue (regular output): refused items stay in the one output, describing the error', async () => {
  const run = await mapInEngine([good, refused, illTyped], 'build-invoice', 'continueRegularOutput');
  assert.equal(run.status, 'success');
  const main = outputs(run, 'Ledgerlink');
  assert.equal(main.length, 1, 'no error output');
  const [items] = main;
  assert.equal(items.length, 3);
  assert.ok(Array.isArray(items[0].json.lines));
  assert.match(items[1].json.error, /build-invoice refused item 1 \(invalid-input\)/);
  assert.ok(items[1].json.errors.some((e) => e.field === 'stage-name'));
  assert.equal(items[2].json.kind, 'invalid-input');
  assert.match(items[2].json.error, /expected an object/);
});

test('Continue (using error output): refused items go to the error output with their input', async () => {
  const run = await mapInEngine([good, refused, good, illTyped], 'build-invoice', 'continueErrorOutput');
  assert.equal(run.status, 'success');
  const [ok, failed] = outputs(run, 'Ledgerlink');
  assert.deepEqual(ok.map((i) => i.pairedItem.item), [0, 2]);
  assert.ok(ok.every((i) => Array.isArray(i.json.lines) && !('error' in i.json)));
  assert.deepEqual(failed.map((i) => i.pairedItem.item), [1, 3]);
  const [notWon, bad] = failed;
  assert.match(notWon.json.error.message, /build-invoice refused item 1 \(invalid-input\)/);
  assert.equal(notWon.json.error.kind, 'invalid-input');
  assert.ok(notWon.json.error.errors.some((e) => e.field === 'stage-name'));
  assert.match(notWon.json.error.description, /stage-name/);
  // n8n merges the failed item's input under the error: the Opportunity is there to report on.
  assert.equal(notWon.json.opportunity.id, refused.opportunity.id);
  assert.match(bad.json.error.message, /item 3: opportunity: expected an object/);
  assert.equal(bad.json.opportunity, 'not a record');
});
