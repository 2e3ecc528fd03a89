'use strict';
/**
 * The Ledgerlink n8n node: one operation per mapping function of the component
 * (`ledgerlink:sync/mapping`). Each input item is one call: the item's JSON (or one field of it) is
 * the function's input in WIT-JSON, the mapped value is the output item's JSON. A refusal (the
 * component's `mapping-error`, or input that does not fit the function's type) is that item's
 * error, by the node's "On Error" setting: "Stop Workflow" fails the run naming the item;
 * "Continue (regular output)" gives `{error, kind, errors}` in the main output; "Continue (using
 * error output)" sends `{error: {message, description, kind, errors}}` (merged by n8n with the
 * input item) to the error output. The other items go on either way (see `lib/n8n.js`).
 *
 * Written in plain JavaScript against n8n's `INodeType` contract (see `n8n-workflow.d.ts`).
 */

const { createLedgerlink } = require('../../lib/host');
const { InputError } = require('../../lib/values');
const { errorMode, nodeError, failedItem } = require('../../lib/n8n');

/** @type {Array<{name: string, value: string, description: string, action: string}>} */
const OPERATIONS = [
  ['map-account', 'Map Account', 'Salesforce Account to a QBO Customer create or sparse update'],
  ['map-customer', 'Map Customer', 'QBO Customer to Salesforce Account fields'],
  ['map-product', 'Map Product', 'Product2 and PricebookEntry to a QBO Item create or sparse update'],
  ['build-invoice', 'Build Invoice', 'Closed Won Opportunity with its lines to a QBO Invoice'],
  ['apply-payment', 'Apply Payment', 'QBO Payment to Opportunity payment-status updates'],
  ['build-journal-entry', 'Build Journal Entry', 'Salesforce Order to a balanced QBO JournalEntry'],
  ['age-invoices', 'Age Invoices', 'Open invoices to aging buckets and newly crossed thresholds'],
  ['reconcile', 'Reconcile', 'Closed Won against invoiced for a period'],
].map(([value, name, description]) => ({ name, value, description, action: description }));

/** One component instance per process: the mapping functions are pure. */
let instance = null;
function ledgerlink() {
  if (!instance) instance = createLedgerlink();
  return instance;
}

/** @implements {import('./n8n-workflow').INodeType} */
class Ledgerlink {
  constructor() {
    /** @type {import('./n8n-workflow').INodeTypeDescription} */
    this.description = {
      displayName: 'Ledgerlink',
      name: 'ledgerlink',
      icon: 'file:ledgerlink.svg',
      group: ['transform'],
      version: 1,
      subtitle: '={{$parameter["operation"]}}',
      description: 'Salesforce <-> QuickBooks Online mappings, exact to the cent (a sandboxed WebAssembly component)',
      defaults: { name: 'Ledgerlink' },
      inputs: ['main'],
      outputs: ['main'],
      properties: [
        {
          displayName: 'Operation',
          name: 'operation',
          type: 'options',
          noDataExpression: true,
          options: OPERATIONS,
          default: 'build-invoice',
        },
        {
          displayName: 'Input Field',
          name: 'inputField',
          type: 'string',
          default: '',
          description: 'Field of the item holding the function input (WIT-JSON); empty: the whole item',
        },
      ],
    };
  }

  /** @this {import('./n8n-workflow').IExecuteFunctions} */
  async execute() {
    const items = this.getInputData();
    const mode = errorMode(this);
    const out = [];
    const component = await ledgerlink().catch((e) => {
      instance = null;
      throw e;
    });
    for (let i = 0; i < items.length; i++) {
      const operation = /** @type {string} */ (this.getNodeParameter('operation', i));
      const field = /** @type {string} */ (this.getNodeParameter('inputField', i, ''));
      const input = field ? items[i].json[field] : items[i].json;
      let result;
      try {
        result = component.call(operation, input === undefined ? null : input);
      } catch (e) {
        if (!(e instanceof InputError)) {
          instance = null; // a trap leaves the instance unusable: the next run makes a new one
          throw e;
        }
        const message = `${operation}: item ${i}: ${e.message}`;
        if (mode === 'stop') throw nodeError(this, message, i);
        out.push(failedItem(mode, { message, details: { kind: 'invalid-input', errors: [] }, itemIndex: i }));
        continue;
      }
      if ('ok' in result) {
        out.push({ json: result.ok, pairedItem: { item: i } });
        continue;
      }
      const description = result.err.errors.map((r) => `${r['record-id']}: ${r.field}: ${r.reason}`).join('\n');
      const message = `${operation} refused item ${i} (${result.err.kind})`;
      if (mode === 'stop') throw nodeError(this, message, i, description);
      out.push(failedItem(mode, { message, description, details: result.err, itemIndex: i }));
    }
    return [out];
  }
}

module.exports = { Ledgerlink };
