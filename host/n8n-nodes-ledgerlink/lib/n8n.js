'use strict';
/**
 * What both n8n nodes share: the node's error mode, n8n's error classes (with a stand-in outside
 * n8n), and the shape of an item that failed.
 *
 * How n8n 1.x's engine (`n8n-core` `WorkflowExecute`) treats a node's output items:
 * - "Continue (using error output)": `handleNodeErrorOutput` moves an item to the error output
 *   when it carries `item.error`, or when its JSON is just `{error}` or `{error, message}`; it then
 *   merges the paired input item's JSON under it.
 * - after that, any item carrying `item.error` has its JSON replaced by `{error: message}`.
 * So an item with `item.error` loses everything but the message. Failed items therefore go to the
 * error output as JSON `{error: {message, description, ...details}}` (one key, `error`): routed,
 * kept whole, and merged with the input item that failed.
 */

/** `stop`, `regular` ("Continue (regular output)" or the older Continue On Fail) or `errorOutput`. */
function errorMode(ctx) {
  if (!ctx.continueOnFail()) return 'stop';
  const node = ctx.getNode();
  return node && node.onError === 'continueErrorOutput' ? 'errorOutput' : 'regular';
}

let workflowErrors;
/** n8n-workflow's error classes when the package runs inside n8n (a peer dependency), else null. */
function n8nErrors() {
  if (workflowErrors === undefined) {
    try {
      // eslint-disable-next-line global-require
      const { NodeOperationError } = require('n8n-workflow');
      workflowErrors = { NodeOperationError };
    } catch {
      workflowErrors = null;
    }
  }
  return workflowErrors;
}

/** A NodeOperationError naming the item (`context.itemIndex`, as n8n's own errors carry it). */
function nodeError(ctx, message, itemIndex, description) {
  const errors = n8nErrors();
  if (errors) return new errors.NodeOperationError(ctx.getNode(), message, { itemIndex, description });
  const e = new Error(message);
  e.description = description;
  e.context = { itemIndex };
  return e;
}

/**
 * The output item for a failure, for the node's error mode (never `stop`: that throws).
 * `regular` keeps the flat JSON the node always gave (`{error: message, ...details}`), so the main
 * output's consumers see one shape; `errorOutput` nests it under `error` for the engine's routing.
 */
function failedItem(mode, { message, description, details, itemIndex }) {
  if (mode === 'errorOutput') {
    const error = { message, ...(description ? { description } : {}), ...details };
    return { json: { error }, pairedItem: { item: itemIndex } };
  }
  return { json: { error: message, ...details }, pairedItem: { item: itemIndex } };
}

module.exports = { errorMode, nodeError, failedItem };
