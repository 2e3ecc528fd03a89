'use strict';
/**
 * n8n's own engine for the tests: workflows are n8n-workflow `Workflow`s run by n8n-core's
 * `WorkflowExecute`, as n8n 1.x runs them (the versions one n8n release ships, pinned in
 * package.json). The registry holds the package's nodes and one test node, `Items`, that starts a
 * workflow with the items of its `items` parameter (n8n's Manual Trigger needs the editor to start
 * it). Credentials come from a test credentials helper that keeps what n8n would store, so an
 * OAuth2 refresh n8n makes is seen by the next read.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// n8n-core keeps its instance settings under the user folder: a scratch one, never the real ~/.n8n.
process.env.N8N_USER_FOLDER = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerlink-n8n-'));
process.env.N8N_ENCRYPTION_KEY = process.env.N8N_ENCRYPTION_KEY || 'ledgerlink-tests-only';
process.env.N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS = 'false';

const { Workflow, ICredentialsHelper, NodeHelpers } = require('n8n-workflow');
const { WorkflowExecute, ExecutionLifecycleHooks } = require('n8n-core');
const { Container } = require('@n8n/di');
const { SSHClientsManager } = require('n8n-core/dist/execution-engine/ssh-clients-manager');
const { Ledgerlink } = require('../nodes/Ledgerlink/Ledgerlink.node');
const { LedgerlinkSync } = require('../nodes/LedgerlinkSync/LedgerlinkSync.node');

/** Emits the items of its `items` parameter (a JSON array of objects). */
class Items {
  constructor() {
    this.description = {
      displayName: 'Items', name: 'items', group: ['input'], version: 1, description: 'Test items',
      defaults: { name: 'Items' }, inputs: ['main'], outputs: ['main'],
      properties: [{ displayName: 'Items', name: 'items', type: 'json', default: '[]' }],
    };
  }

  async execute() {
    const items = JSON.parse(/** @type {string} */ (this.getNodeParameter('items', 0)));
    return [items.map((json) => ({ json }))];
  }
}

const TYPES = {
  'test.items': new Items(),
  'n8n-nodes-ledgerlink.ledgerlink': new Ledgerlink(),
  'n8n-nodes-ledgerlink.ledgerlinkSync': new LedgerlinkSync(),
};

const nodeTypes = {
  getByName: (type) => TYPES[type],
  getByNameAndVersion: (type, version) => NodeHelpers.getVersionedNodeType(TYPES[type], version),
  getKnownTypes: () => ({}),
};

/** What n8n would store for each credential id; an OAuth2 refresh writes its new token data here. */
class TestCredentialsHelper extends ICredentialsHelper {
  constructor(byId = {}) {
    super();
    this.byId = byId;
    this.refreshed = [];
  }

  getParentTypes(type) { return /OAuth2Api$/.test(type) ? ['oAuth2Api'] : []; }

  async authenticate(_credentials, _type, requestOptions) { return requestOptions; }

  async preAuthentication() { return undefined; }

  async getDecrypted(_additionalData, nodeCredentials) {
    const stored = this.byId[nodeCredentials.id];
    if (!stored) throw new Error(`no credential ${nodeCredentials.id}`);
    return structuredClone(stored);
  }

  async updateCredentials(nodeCredentials, _type, data) { this.byId[nodeCredentials.id] = structuredClone(data); }

  async updateCredentialsOauthTokenData(nodeCredentials, type, data) {
    this.refreshed.push(type);
    this.byId[nodeCredentials.id] = { ...this.byId[nodeCredentials.id], oauthTokenData: structuredClone(data.oauthTokenData) };
  }

  async getCredentials() { throw new Error('not used by these tests'); }

  getCredentialsProperties() { return []; }
}

/**
 * Runs `nodes` (INode-like: name, type, parameters, and optionally onError, credentials) connected
 * in a chain, from the first. Resolves with n8n's IRun.
 */
async function runWorkflow(nodes, { credentialsHelper = new TestCredentialsHelper() } = {}) {
  const full = nodes.map((n, i) => ({
    id: `node-${i}`, typeVersion: 1, position: [i * 200, 0], parameters: {}, ...n,
  }));
  const connections = {};
  for (let i = 0; i + 1 < full.length; i++) {
    connections[full[i].name] = { main: [[{ node: full[i + 1].name, type: 'main', index: 0 }]] };
  }
  const workflow = new Workflow({
    id: 'ledgerlink-test', name: 'Ledgerlink test', nodes: full, connections, active: false, nodeTypes, staticData: {},
  });
  const workflowData = { id: workflow.id, name: workflow.name, nodes: full, connections, active: false, createdAt: new Date(), updatedAt: new Date() };
  const hooks = new ExecutionLifecycleHooks('manual', 'test-execution', workflowData);
  const additionalData = {
    hooks,
    credentialsHelper,
    executeWorkflow: async () => { throw new Error('no sub-workflows here'); },
    restApiUrl: 'http://127.0.0.1/rest',
    instanceBaseUrl: 'http://127.0.0.1/',
    webhookBaseUrl: 'webhook',
    webhookWaitingBaseUrl: 'webhook-waiting',
    webhookTestBaseUrl: 'webhook-test',
    formWaitingBaseUrl: 'form-waiting',
    variables: {},
    userId: 'test-user',
  };
  const execute = new WorkflowExecute(additionalData, 'manual');
  return execute.run(workflow, workflow.getNode(full[0].name));
}

/** A node's outputs in run `runIndex`: `[main, error?]`, each a list of items. */
function outputs(run, nodeName, runIndex = 0) {
  const task = run.data.resultData.runData[nodeName];
  if (!task || !task[runIndex]) throw new Error(`${nodeName} did not run: ${JSON.stringify(run.data.resultData.error || {})}`);
  return task[runIndex].data ? task[runIndex].data.main : [];
}

/**
 * Stops what n8n-core started and n8n's own process never stops: the SSH tunnel manager's cleanup
 * timer (made with the first node context) would keep the test process alive.
 */
function stopEngine() {
  if (Container.has(SSHClientsManager)) Container.get(SSHClientsManager).onShutdown();
}

module.exports = { runWorkflow, outputs, stopEngine, TestCredentialsHelper, TYPES };
