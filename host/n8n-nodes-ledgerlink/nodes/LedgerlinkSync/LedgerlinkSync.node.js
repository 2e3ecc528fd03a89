'use strict';
/**
 * The Ledgerlink Sync n8n node: runs one of the component's flows jobs (`run-job`: Closed Won ->
 * invoice, payments -> status, aging, reconciliation, ...) with n8n's own QuickBooks Online and
 * Salesforce OAuth2 credentials as the connections, and gives the job's report as items.
 *
 * - Connections: the QBO base URL from the credential's environment, the realm from its token data
 *   (`callbackQueryString.realmId`), the Salesforce instance from `instance_url`; each access token
 *   from `oauthTokenData.access_token`, after one request through n8n's OAuth2 helper, which
 *   refreshes an expired token (and stores it) as n8n's QuickBooks and Salesforce nodes do.
 * - State: the flows' links, cursors and ledgers live in a directory per realm (`lib/run-job.js`),
 *   so a second execution does not invoice twice.
 * - Errors, by the node's On Error setting: a job that does not run, or a record that fails, stops
 *   the workflow naming it; or comes out in the main output with `error` set; or goes to the error
 *   output as `{error: {message, ...}}` (see `lib/n8n.js`).
 */

const os = require('node:os');
const path = require('node:path');
const { runJob } = require('../../lib/run-job');
const { errorMode, nodeError, failedItem } = require('../../lib/n8n');

/** The jobs of the component's `describe()` (a test checks the two agree). */
const JOBS = [
  ['sync-invoices', 'Sync Invoices', 'Closed Won Opportunity -> QBO Invoice, with the invoice written back'],
  ['sync-accounts', 'Sync Accounts', 'Salesforce Account -> QBO Customer (matching ladder before any create)'],
  ['sync-products', 'Sync Products', 'Product2 / PricebookEntry -> QBO Item'],
  ['sync-orders', 'Sync Orders', 'Activated Order -> QBO JournalEntry (reversed on change or cancellation)'],
  ['sync-payments', 'Sync Payments', 'QBO Payments (by id) -> Opportunity payment status'],
  ['sync-quickbooks', 'Sync QuickBooks Records', 'QBO records by id (Customer:<id>, Invoice:<id>, Payment:<id>) -> Salesforce'],
  ['poll', 'Poll', 'Salesforce and QBO changes since the last run, then every flow they touch'],
  ['poll-salesforce', 'Poll Salesforce', 'Salesforce changes since the last covered time'],
  ['poll-quickbooks', 'Poll QuickBooks', 'QBO CDC since the cursor: payments, customers and invoices to Salesforce'],
  ['backfill', 'Backfill', 'Every existing account, product, Closed Won opportunity and activated order, then the QBO side'],
  ['aging', 'Aging', 'Invoice aging: Days Outstanding on the Opportunity, newly crossed 30/60/90 days'],
  ['reconcile', 'Reconcile', 'Closed Won vs invoiced for a period (default: last month)'],
  ['audit', 'Audit', 'Pre-launch audit of both systems: duplicates, matches, ambiguous accounts, refusals; writes nothing'],
  ['review', 'Review', 'The review queue of ambiguous accounts: Job Arguments {"action": "list"} or a decision (link, create, skip)'],
].map(([value, name, description]) => ({ name, value, description, action: description }));

/** What n8n's QuickBooks node calls for each environment of the credential. */
const QBO_BASE = { production: 'https://quickbooks.api.intuit.com', sandbox: 'https://sandbox-quickbooks.api.intuit.com' };

/** Settings are strings to the component; a JSON settings field may hold numbers, flags or objects. */
function settingsFrom(value) {
  const parsed = typeof value === 'string' ? JSON.parse(value.trim() || '{}') : value || {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('Settings must be a JSON object');
  const out = {};
  for (const [key, v] of Object.entries(parsed)) {
    if (v === null || v === undefined || v === '') continue;
    out[key] = typeof v === 'string' ? v : (typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return out;
}

function jsonObject(value, what) {
  const parsed = typeof value === 'string' ? JSON.parse(value.trim() || '{}') : value || {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${what} must be a JSON object`);
  return parsed;
}

/** `~/.n8n/ledgerlink` (n8n's user folder, `N8N_USER_FOLDER` as n8n reads it), or `LEDGERLINK_STORE_DIR`. */
function defaultStoreRoot() {
  if (process.env.LEDGERLINK_STORE_DIR) return process.env.LEDGERLINK_STORE_DIR;
  return path.join(process.env.N8N_USER_FOLDER || os.homedir(), '.n8n', 'ledgerlink');
}

function flowErrorText(err) {
  const [kind, detail] = Object.entries(err)[0] || ['failed', ''];
  return { kind, detail: String(detail) };
}

/** @implements {import('../Ledgerlink/n8n-workflow').INodeType} */
class LedgerlinkSync {
  constructor() {
    this.description = {
      displayName: 'Ledgerlink Sync',
      name: 'ledgerlinkSync',
      icon: 'file:ledgerlink.svg',
      group: ['transform'],
      version: 1,
      subtitle: '={{$parameter["job"]}}',
      description: 'Runs Ledgerlink\'s Salesforce <-> QuickBooks Online flows: Closed Won -> invoice, payments, aging, reconciliation',
      defaults: { name: 'Ledgerlink Sync' },
      inputs: ['main'],
      outputs: ['main'],
      credentials: [
        { name: 'quickBooksOAuth2Api', required: true },
        { name: 'salesforceOAuth2Api', required: true },
      ],
      properties: [
        { displayName: 'Job', name: 'job', type: 'options', noDataExpression: true, options: JOBS, default: 'sync-invoices' },
        {
          displayName: 'Records',
          name: 'records',
          type: 'string',
          default: '',
          placeholder: 'e.g. {{ $json.Id }}',
          description: 'Only these records: Salesforce or QBO ids, or <entity>:<id>, comma-separated, collected from every input item. Empty: what the job selects itself (changes since its last run).',
        },
        {
          displayName: 'Settings',
          name: 'settings',
          type: 'json',
          default: '{\n  "income-account": "1"\n}',
          description: 'The flows\' settings (income-account, terms-id, doc-number-prefix, paid-stage, ...; see the README). realm-id comes from the QuickBooks credential.',
        },
        {
          displayName: 'Output',
          name: 'output',
          type: 'options',
          options: [
            { name: 'One Item per Record', value: 'records', description: 'Each record\'s outcome; failed records follow the On Error setting' },
            { name: 'The Report', value: 'report', description: 'One item: the counts and every record\'s outcome' },
          ],
          default: 'records',
        },
        {
          displayName: 'Options',
          name: 'options',
          type: 'collection',
          placeholder: 'Add Option',
          default: {},
          options: [
            { displayName: 'Job Arguments', name: 'arguments', type: 'json', default: '{}', description: 'e.g. {"dry-run": true}, {"full": true}, {"period-start": "2025-01-01", "period-end": "2025-01-31"}' },
            { displayName: 'QuickBooks Base URL', name: 'quickbooksBaseUrl', type: 'string', default: '', description: 'Instead of the credential environment\'s (e.g. a `ledgerlink emulate` URL)' },
            { displayName: 'Salesforce Instance URL', name: 'salesforceBaseUrl', type: 'string', default: '', description: 'Instead of the credential\'s instance_url' },
            { displayName: 'Notify Webhook URL', name: 'notifyUrl', type: 'string', typeOptions: { password: true }, default: '', description: 'A Slack-style incoming webhook for the flows\' own notices (aging thresholds, field conflicts)' },
            { displayName: 'Store Directory', name: 'storeDirectory', type: 'string', default: '', description: 'Where the flows keep links and cursors. Default: ~/.n8n/ledgerlink/<realm id> (or $LEDGERLINK_STORE_DIR/<realm id>).' },
            { displayName: 'Wait for Another Run (Seconds)', name: 'lockWaitSeconds', type: 'number', default: 120, description: 'How long to wait while another run holds the same store' },
          ],
        },
      ],
    };
  }

  async execute() {
    const items = this.getInputData();
    const mode = errorMode(this);
    const job = /** @type {string} */ (this.getNodeParameter('job', 0));
    const output = /** @type {string} */ (this.getNodeParameter('output', 0, 'records'));
    const options = /** @type {Record<string, any>} */ (this.getNodeParameter('options', 0, {}));

    // A job-level failure: one error for the whole run, paired with the first input item.
    const jobFailed = (message, details = {}) => {
      if (mode === 'stop') throw nodeError(this, message, 0);
      return [[failedItem(mode, { message, details: { job, ...details }, itemIndex: 0 })]];
    };

    let args;
    let settings;
    /** `only` entry -> the input item that named it. */
    const namedBy = new Map();
    try {
      args = jsonObject(options.arguments, 'Job Arguments');
      settings = settingsFrom(this.getNodeParameter('settings', 0, '{}'));
      for (let i = 0; i < items.length; i++) {
        const ids = String(this.getNodeParameter('records', i, '') || '').split(/[\s,]+/).filter(Boolean);
        for (const id of ids) if (!namedBy.has(id)) namedBy.set(id, i);
      }
    } catch (e) {
      return jobFailed(`${job}: ${e.message}`, { kind: 'invalid-args' });
    }
    if (namedBy.size > 0) args.only = [...new Set([...(args.only || []), ...namedBy.keys()])];

    const qbo = await this.getCredentials('quickBooksOAuth2Api');
    const realm = qbo.oauthTokenData && qbo.oauthTokenData.callbackQueryString && qbo.oauthTokenData.callbackQueryString.realmId;
    if (!settings['realm-id']) settings['realm-id'] = realm;
    if (!settings['realm-id']) return jobFailed(`${job}: the QuickBooks credential has no realm id (connect it again) and the settings name none`, { kind: 'invalid-args' });
    if (realm && settings['realm-id'] !== String(realm)) {
      return jobFailed(`${job}: the settings' realm-id ${settings['realm-id']} is not the QuickBooks credential's company (${realm})`, { kind: 'invalid-args' });
    }
    const sf = await this.getCredentials('salesforceOAuth2Api');
    const qboBase = (options.quickbooksBaseUrl || QBO_BASE[qbo.environment] || QBO_BASE.production).replace(/\/+$/, '');
    const sfBase = (options.salesforceBaseUrl || (sf.oauthTokenData && sf.oauthTokenData.instance_url) || '').replace(/\/+$/, '');
    if (!sfBase) return jobFailed(`${job}: the Salesforce credential has no instance_url (connect it again) and no Salesforce Instance URL is set`, { kind: 'invalid-args' });

    // One request each through n8n's OAuth2 helper: an expired token is refreshed (and stored) by
    // n8n here, since the component's own requests do not go through n8n.
    try {
      await this.helpers.httpRequestWithAuthentication.call(this, 'quickBooksOAuth2Api', {
        method: 'GET', url: `${qboBase}/v3/company/${encodeURIComponent(settings['realm-id'])}/companyinfo/${encodeURIComponent(settings['realm-id'])}`, headers: { Accept: 'application/json' }, json: true,
      });
      await this.helpers.httpRequestWithAuthentication.call(this, 'salesforceOAuth2Api', {
        method: 'GET', url: `${sfBase}/services/oauth2/userinfo`, headers: { Accept: 'application/json' }, json: true,
      });
    } catch (e) {
      return jobFailed(`${job}: a connection is not usable: ${e.message}`, { kind: 'connection', detail: e.description || '' });
    }
    const token = async (type) => {
      const data = (await this.getCredentials(type)).oauthTokenData || {};
      return data.access_token;
    };
    const connections = {
      quickbooks: { baseUrl: qboBase, token: await token('quickBooksOAuth2Api') },
      salesforce: { baseUrl: sfBase, token: await token('salesforceOAuth2Api') },
    };
    if (options.notifyUrl) connections.notify = { baseUrl: options.notifyUrl };

    const storeDir = options.storeDirectory || path.join(defaultStoreRoot(), String(settings['realm-id']));
    let run;
    try {
      run = await runJob({
        job, args: JSON.stringify(args), settings, connections, storeDir, tenant: settings['realm-id'],
        lockWaitMs: (options.lockWaitSeconds === undefined ? 120 : Number(options.lockWaitSeconds)) * 1000,
      });
    } catch (e) {
      return jobFailed(`${job}: ${e.message}`, { kind: 'failed' });
    }
    if ('err' in run.result) {
      const { kind, detail } = flowErrorText(run.result.err);
      return jobFailed(`${job} did not run (${kind}): ${detail}`, { kind, detail, 'run-later': run.runLater });
    }
    const report = run.result.ok;
    if (output === 'report') {
      return [[{ json: { ...report, 'run-later': run.runLater }, pairedItem: { item: 0 } }]];
    }

    const pairOf = (record) => {
      for (const key of [record['record-id'], `${record.entity}:${record['record-id']}`]) if (namedBy.has(key)) return namedBy.get(key);
      return 0;
    };
    const out = [];
    const failed = [];
    for (const record of report.records) {
      const itemIndex = pairOf(record);
      if (record.outcome !== 'failed') {
        out.push({ json: { job, ...record }, pairedItem: { item: itemIndex } });
        continue;
      }
      const reason = `${record.detail}${record.code ? ` (${record.code}${record.retryable ? ', retryable' : ''})` : ''}`;
      const message = `${job}: ${record.entity} ${record['record-id']} failed: ${reason}`;
      failed.push({ message, itemIndex });
      if (mode !== 'stop') out.push(failedItem(mode, { message, details: { job, ...record }, itemIndex }));
    }
    if (mode === 'stop' && failed.length > 0) {
      throw nodeError(this, `${job}: ${failed.length} of ${report.records.length} records failed`, failed[0].itemIndex,
        failed.map((f) => f.message).join('\n'));
    }
    return [out];
  }
}

module.exports = { LedgerlinkSync, JOBS };
