'use strict';
// The Ledgerlink Sync node inside n8n's own engine (`engine.js`) against the QuickBooks and
// Salesforce emulators: n8n's QuickBooks and Salesforce OAuth2 credentials supply the connections,
// a Closed Won opportunity is invoiced once through the workflow, a second execution (after the QBO
// access token expired, so n8n refreshes it) invoices nothing more, and a record the flow refuses
// goes where each On Error setting sends it.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runWorkflow, outputs, stopEngine, TestCredentialsHelper } = require('./engine');
const { startEmulator, seedClosedWon, qboQuery } = require('./support');
const { createLedgerlink } = require('../lib/host');
const { LedgerlinkSync, JOBS } = require('../nodes/LedgerlinkSync/LedgerlinkSync.node');

test.after(stopEngine);

/** n8n's stored credentials as the two OAuth2 credential types hold them after "Connect". */
function credentialsFor(qbo, salesforce) {
  return new TestCredentialsHelper({
    qbo: {
      grantType: 'authorizationCode',
      authUrl: `${qbo.url}/connect/oauth2`,
      accessTokenUrl: `${qbo.url}/oauth2/v1/tokens/bearer`,
      clientId: qbo.client_id,
      clientSecret: qbo.client_secret,
      scope: 'com.intuit.quickbooks.accounting',
      authentication: 'header',
      environment: 'sandbox',
      oauthTokenData: {
        token_type: 'bearer', access_token: qbo.access_token, refresh_token: qbo.refresh_token, expires_in: 3600,
        callbackQueryString: { code: 'x', state: 'y', realmId: qbo.realm_id },
      },
    },
    sf: {
      grantType: 'authorizationCode',
      accessTokenUrl: `${salesforce.url}/services/oauth2/token`,
      clientId: salesforce.client_id,
      clientSecret: salesforce.client_secret,
      scope: 'full refresh_token',
      authentication: 'header',
      environment: 'production',
      oauthTokenData: { token_type: 'Bearer', access_token: salesforce.access_token, instance_url: salesforce.url },
    },
  });
}

/** Items -> Ledgerlink Sync, aimed at the QBO emulator (the Salesforce one is the credential's instance_url). */
function syncWorkflow(qbo, { job = 'sync-invoices', storeDirectory, onError, output, records, input = [{}] }) {
  return [
    { name: 'Trigger', type: 'test.items', parameters: { items: JSON.stringify(input) } },
    {
      name: 'Ledgerlink Sync',
      type: 'n8n-nodes-ledgerlink.ledgerlinkSync',
      parameters: {
        job,
        settings: '{"income-account": "1"}',
        ...(records ? { records } : {}),
        ...(output ? { output } : {}),
        options: { quickbooksBaseUrl: qbo.url, storeDirectory },
      },
      credentials: { quickBooksOAuth2Api: { id: 'qbo', name: 'QuickBooks' }, salesforceOAuth2Api: { id: 'sf', name: 'Salesforce' } },
      ...(onError ? { onError } : {}),
    },
  ];
}

test('the Sync node offers the jobs the component describes, with n8n\'s own credentials', async () => {
  const ll = await createLedgerlink();
  assert.deepEqual(JOBS.map((j) => j.value).sort(), ll.describe().map((j) => j.name).sort());
  const node = new LedgerlinkSync();
  assert.deepEqual(node.description.credentials.map((c) => c.name), ['quickBooksOAuth2Api', 'salesforceOAuth2Api']);
  assert.ok(require('../package.json').n8n.nodes.includes('nodes/LedgerlinkSync/LedgerlinkSync.node.js'));
});

test('Closed Won -> invoice through an n8n workflow: invoiced once, not again after a token refresh', async (t) => {
  const qbo = await startEmulator('quickbooks', '--no-rate-limits');
  t.after(qbo.stop);
  const salesforce = await startEmulator('salesforce');
  t.after(salesforce.stop);
  const { opportunity, amount } = await seedClosedWon(salesforce.info);
  const storeDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerlink-store-'));
  t.after(() => fs.rmSync(storeDirectory, { recursive: true, force: true }));
  const credentialsHelper = credentialsFor(qbo.info, salesforce.info);
  const workflow = syncWorkflow(qbo.info, { storeDirectory, onError: 'continueErrorOutput' });

  const first = await runWorkflow(workflow, { credentialsHelper });
  assert.equal(first.status, 'success', JSON.stringify(first.data.resultData.error));
  const [done, failed] = outputs(first, 'Ledgerlink Sync');
  assert.deepEqual(failed, [], 'nothing in the error output');
  const mine = done.find((i) => i.json['record-id'] === opportunity);
  assert.ok(mine, `an item for Opportunity ${opportunity}: ${JSON.stringify(done.map((i) => i.json))}`);
  assert.equal(mine.json.job, 'sync-invoices');
  assert.equal(mine.json.outcome, 'created', JSON.stringify(mine.json));
  const invoices = await qboQuery(qbo.info, qbo.info.access_token, `select * from Invoice where DocNumber = 'SF-${opportunity}'`);
  assert.equal(invoices.length, 1);
  assert.equal(invoices[0].Id, mine.json['target-id']);
  assert.equal(Number(invoices[0].TotalAmt).toFixed(2), amount);
  assert.ok(fs.readdirSync(storeDirectory).some((f) => f.endsWith('.kv')), 'the flows\' state is on disk');

  // An hour later the QBO access token has expired: n8n refreshes it through the credential, and the
  // store on disk (read afresh by this execution) knows the invoice.
  const advanced = await fetch(`${qbo.info.url}/_emulator/clock/advance`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 3700 }),
  });
  assert.equal(advanced.status, 200);
  const second = await runWorkflow(workflow, { credentialsHelper });
  assert.equal(second.status, 'success', JSON.stringify(second.data.resultData.error));
  assert.deepEqual(credentialsHelper.refreshed, ['quickBooksOAuth2Api'], 'n8n refreshed the expired QBO token');
  const refreshedToken = credentialsHelper.byId.qbo.oauthTokenData.access_token;
  assert.notEqual(refreshedToken, qbo.info.access_token);
  assert.equal(credentialsHelper.byId.qbo.oauthTokenData.callbackQueryString.realmId, qbo.info.realm_id);
  const [again, againFailed] = outputs(second, 'Ledgerlink Sync');
  assert.deepEqual(againFailed, []);
  // Not created again, and not even rewritten: the link on disk says it is invoiced and unchanged
  // (with the state lost, the flow would find the invoice by DocNumber and update it).
  const rerun = again.find((i) => i.json['record-id'] === opportunity);
  assert.ok(!rerun || rerun.json.outcome === 'skipped', `written again: ${JSON.stringify(rerun && rerun.json)}`);
  assert.ok(again.every((i) => i.json.outcome === 'skipped'), JSON.stringify(again.map((i) => i.json)));
  assert.equal((await qboQuery(qbo.info, refreshedToken, `select * from Invoice where DocNumber = 'SF-${opportunity}'`)).length, 1);
  assert.equal((await qboQuery(qbo.info, refreshedToken, 'select * from Invoice')).length, 1, 'no other invoice either');
});

test('a record the flow refuses: error output, regular output, or the run stops naming it', async (t) => {
  const qbo = await startEmulator('quickbooks', '--no-rate-limits');
  t.after(qbo.stop);
  const salesforce = await startEmulator('salesforce');
  t.after(salesforce.stop);
  const good = await seedClosedWon(salesforce.info, { name: 'Globex' });
  const orphan = await seedClosedWon(salesforce.info, { name: 'No Account Ltd', withAccount: false });
  const credentialsHelper = credentialsFor(qbo.info, salesforce.info);
  const store = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerlink-store-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  // The orphan is named through the Records field by the input item that carries it (item 1).
  const input = [{ Id: good.opportunity }, { Id: orphan.opportunity }];
  const records = '={{ $json.Id }}';

  const split = await runWorkflow(syncWorkflow(qbo.info, { storeDirectory: store(), onError: 'continueErrorOutput', input, records }), { credentialsHelper });
  assert.equal(split.status, 'success', JSON.stringify(split.data.resultData.error));
  const [done, failed] = outputs(split, 'Ledgerlink Sync');
  assert.ok(done.some((i) => i.json['record-id'] === good.opportunity && i.json.outcome === 'created'), JSON.stringify(done.map((i) => i.json)));
  assert.equal(failed.length, 1, JSON.stringify(failed.map((i) => i.json)));
  const [refused] = failed;
  assert.equal(refused.json.error['record-id'], orphan.opportunity);
  assert.equal(refused.json.error.outcome, 'failed');
  assert.equal(refused.json.error.job, 'sync-invoices');
  assert.match(refused.json.error.message, new RegExp(`^sync-invoices: Opportunity ${orphan.opportunity} failed: `));
  assert.equal(refused.pairedItem.item, 1);
  assert.equal(refused.json.Id, orphan.opportunity, 'n8n merged the input item that named it');

  const regular = await runWorkflow(syncWorkflow(qbo.info, { storeDirectory: store(), onError: 'continueRegularOutput', input, records }), { credentialsHelper });
  assert.equal(regular.status, 'success');
  const main = outputs(regular, 'Ledgerlink Sync');
  assert.equal(main.length, 1);
  const inMain = main[0].find((i) => i.json['record-id'] === orphan.opportunity);
  assert.equal(inMain.json.outcome, 'failed');
  assert.match(inMain.json.error, /failed: /);

  const stopped = await runWorkflow(syncWorkflow(qbo.info, { storeDirectory: store(), input, records }), { credentialsHelper });
  assert.equal(stopped.status, 'error');
  const { error } = stopped.data.resultData;
  assert.equal(error.node.name, 'Ledgerlink Sync');
  assert.equal(error.context.itemIndex, 1);
  assert.match(error.message, /^sync-invoices: 1 of \d+ records failed/);
  assert.match(error.description, new RegExp(`Opportunity ${orphan.opportunity} failed`));

  // The report as one item: the counts, and the failure counted rather than routed.
  const report = await runWorkflow(syncWorkflow(qbo.info, { storeDirectory: store(), onError: 'continueErrorOutput', input, records, output: 'report' }), { credentialsHelper });
  const [[whole], none] = outputs(report, 'Ledgerlink Sync');
  assert.deepEqual(none, []);
  assert.equal(whole.json.job, 'sync-invoices');
  assert.equal(whole.json.failed, 1);
  assert.equal(whole.json.records.length, whole.json.created + whole.json.updated + whole.json.skipped + whole.json.failed);
});

test('a job that cannot run is the node\'s error, by On Error mode', async (t) => {
  const qbo = await startEmulator('quickbooks', '--no-rate-limits');
  t.after(qbo.stop);
  const salesforce = await startEmulator('salesforce');
  t.after(salesforce.stop);
  const credentialsHelper = credentialsFor(qbo.info, salesforce.info);
  const storeDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerlink-store-'));
  t.after(() => fs.rmSync(storeDirectory, { recursive: true, force: true }));
  const nodes = syncWorkflow(qbo.info, { storeDirectory, onError: 'continueErrorOutput' });
  nodes[1].parameters.options.arguments = '{"only": ["a:b:c:"], "no-such-argument": 1}';

  const split = await runWorkflow(nodes, { credentialsHelper });
  assert.equal(split.status, 'success');
  const [ok, failed] = outputs(split, 'Ledgerlink Sync');
  assert.deepEqual(ok, []);
  assert.equal(failed.length, 1);
  assert.equal(failed[0].json.error.kind, 'invalid-args');
  assert.match(failed[0].json.error.message, /^sync-invoices did not run \(invalid-args\): /);

  delete nodes[1].onError;
  const stopped = await runWorkflow(nodes, { credentialsHelper });
  assert.equal(stopped.status, 'error');
  assert.match(stopped.data.resultData.error.message, /^sync-invoices did not run \(invalid-args\)/);
});
