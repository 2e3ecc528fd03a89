'use strict';
/**
 * The Ledgerlink component in Node: jco's transpiled bindings, instantiated with the capabilities
 * of one tenant (`caps/`), and called with WIT-JSON in and out, like `ledgerlink call` in the Rust
 * host.
 *
 * ```js
 * const { createLedgerlink } = require('n8n-nodes-ledgerlink/lib/host');
 * const ll = await createLedgerlink({
 *   settings: { 'qbo.realm-id': '9130' },
 *   connections: { quickbooks: { baseUrl: 'http://127.0.0.1:8080', token: () => qboToken } },
 * });
 * ll.call('build-invoice', input);   // {"ok": ..} or {"err": ..}
 * ll.runJob('poll', '{}');           // {"ok": run-report} or {"err": flow-error}
 * ```
 */

const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { parseWit, func } = require('./wit');
const { toJco, fromJco, camel } = require('./values');
const { sandboxImports } = require('./caps/sandbox');
const { MemoryStore, FileStore, keyValueImports } = require('./caps/storage');
const { checkSettings, configImports } = require('./caps/config');
const { MemorySchedule, scheduleImports } = require('./caps/schedule');
const { checkConnections, outgoingHandlerImports } = require('./caps/http');

/** Where `npm run build` puts the transpiled component and the contract. */
const DIST = path.join(__dirname, '..', 'dist');

const coreModules = new Map();
const contracts = new Map();

function contractAt(witPath) {
  if (!contracts.has(witPath)) contracts.set(witPath, parseWit(fs.readFileSync(witPath, 'utf8')));
  return contracts.get(witPath);
}

/**
 * Instantiates the component for one tenant. Options (all optional):
 * - `componentDir`, `name`: the transpiled component (default `dist/component/ledgerlink.js`);
 * - `wit`: the contract (default `dist/ledgerlink.wit`);
 * - `settings`: `{key: string}` read through `wasi:config`;
 * - `connections`: `{quickbooks|salesforce|notify: {baseUrl, token}}`;
 * - `store`: the key-value backend (default a fresh `MemoryStore`; `FileStore` keeps it on disk);
 * - `schedule`: the scheduled-runs backend (default a fresh `MemorySchedule`).
 */
async function createLedgerlink(options = {}) {
  const componentDir = options.componentDir || path.join(DIST, 'component');
  const name = options.name || 'ledgerlink';
  const contract = contractAt(options.wit || path.join(DIST, 'ledgerlink.wit'));
  const settings = checkSettings(options.settings);
  const connections = checkConnections(options.connections);
  const store = options.store || new MemoryStore();
  const schedule = options.schedule || new MemorySchedule(options.tenant);
  const egress = [];

  const imports = await sandboxImports();
  const shimHttp = imports['wasi:http/outgoing-handler'];
  const { outgoingHandler: realHandler } = await import('@bytecodealliance/preview2-shim/http');
  void shimHttp; // the sandbox's handler refuses everything; the policy below decides instead
  imports['wasi:http/outgoing-handler'] = outgoingHandlerImports(realHandler, connections, egress);
  imports['wasi:keyvalue/store'] = keyValueImports(store);
  imports['wasi:config/store'] = configImports(settings);
  imports['ledgerlink:sync/schedule'] = scheduleImports(schedule);

  const entry = path.join(componentDir, `${name}.js`);
  if (!fs.existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run build\` in host/n8n-nodes-ledgerlink (it transpiles the component with jco)`);
  }
  const { instantiate } = await import(pathToFileURL(entry).href);
  const getCoreModule = (file) => {
    const full = path.join(componentDir, file);
    if (!coreModules.has(full)) coreModules.set(full, WebAssembly.compile(fs.readFileSync(full)));
    return coreModules.get(full);
  };
  const instance = await instantiate(getCoreModule, imports);

  /** Calls `fn` of `iface` with WIT-JSON arguments; a `result` comes back as `{ok}` / `{err}`. */
  function invoke(iface, fn, args) {
    const f = func(contract, iface, fn);
    if (args.length !== f.params.length) throw new Error(`${fn} takes ${f.params.length} argument(s)`);
    const jcoArgs = f.params.map((p, i) => toJco(args[i], p.type, f.params.length > 1 ? p.name : ''));
    const exported = instance[iface][camel(fn)];
    if (!f.result || f.result.kind !== 'result') return fromJco(exported(...jcoArgs), f.result);
    try {
      const ok = exported(...jcoArgs);
      return { ok: f.result.ok ? fromJco(ok, f.result.ok) : null };
    } catch (e) {
      if (e && Object.prototype.hasOwnProperty.call(e, 'payload')) {
        return { err: f.result.err ? fromJco(e.payload, f.result.err) : null };
      }
      throw e;
    }
  }

  return {
    /** The mapping functions by WIT name: `call('build-invoice', input)`. */
    call: (fn, input) => invoke('mapping', fn, [input]),
    /** The jobs the component offers. */
    describe: () => invoke('flows', 'describe', []),
    /** Runs a job with JSON arguments (a string). */
    runJob: (job, args = '{}') => invoke('flows', 'run-job', [job, args]),
    /** Handles a verified webhook body. */
    onWebhook: (source, body) => invoke('flows', 'on-webhook', [source, body]),
    /** The mapping functions the contract declares. */
    mappingFunctions: () => Object.keys(contract.interfaces.mapping.funcs),
    /** Every request the guest made: `{connection, method, path, refused}`. */
    egress,
    store,
    schedule,
    /** The import object given to the component (for tests of the sandbox). */
    imports,
  };
}

module.exports = { createLedgerlink, MemoryStore, FileStore, MemorySchedule, DIST };
