'use strict';
/**
 * The Ledgerlink n8n node: one operation per mapping function of the component
 * (`ledgerlink:sync/mapping`). Each input item is one call: the item's JSON (or one field of it) is
 * the function's input in WIT-JSON, the mapped value is the output item's JSON. A refusal (the
 * component's `mapping-error`, or input that does not fit the function's type) is that item's
 * error: with "Continue On Fail" the item comes out as `{error, kind, errors}` and the others go on;
 * without, the node stops with an error naming the item.
 *
 * Written in plain JavaScript against n8n's `INodeType` contract (see `n8n-workflow.d.ts`).
 */

const { createLedgerlink } = require('../../lib/host');
const { InputError } = require('../../lib/values');

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

function nodeError(ctx, message, itemIndex, description) {
  try {
    // eslint-disable-next-line global-require
    const { NodeOperationError } = require('n8n-workflow');
    return new NodeOperationError(ctx.getNode(), message, { itemIndex, description });
  } catch {
    const e = new Error(message);
    e.itemIndex = itemIndex;
    e.description = description;
    return e;
  }
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
        if (this.continueOnFail()) {
          out.push({ json: { error: e.message, kind: 'invalid-input', errors: [] }, pairedItem: { item: i } });
          continue;
        }
        throw nodeError(this, `${operation}: ${e.message}`, i);
      }
      if ('ok' in result) {
        out.push({ json: result.ok, pairedItem: { item: i } });
        continue;
      }
      const reasons = result.err.errors.map((r) => `${r.field}: ${r.reason}`);
      const message = `${operation} refused item ${i} (${result.err.kind})`;
      if (this.continueOnFail()) {
        out.push({ json: { error: message, ...result.err }, pairedItem: { item: i } });
        continue;
      }
      throw nodeError(this, message, i, reasons.join('\n'));
    }
    return [out];
  }
}

module.exports = { Ledgerlink };
