'use strict';
/**
 * Runs one flows job for a tenant whose state lives in a directory, off the calling thread:
 *
 * ```js
 * const { runJob } = require('n8n-nodes-ledgerlink/lib/run-job');
 * const { result, egress, runLater } = await runJob({
 *   job: 'sync-invoices', args: '{}', storeDir: '/home/me/.n8n/ledgerlink/9130',
 *   settings: { 'realm-id': '9130' },
 *   connections: { quickbooks: { baseUrl, token }, salesforce: { baseUrl, token } },
 * });
 * ```
 *
 * The store directory is locked for the run (`lockStore`: one run per tenant, across processes)
 * and read fresh each time, so links and cursors written by one execution are what the next one
 * finds. Tokens are strings here (they cross to a worker thread): the caller gets fresh ones first.
 * `runLater` lists the runs the component asked for (a retry time after throttling), which a host
 * without a scheduler reports instead of running.
 */
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { lockStore } = require('./caps/storage');

const WORKER = path.join(__dirname, 'job-worker.js');

async function runJob({ job, args = '{}', settings = {}, connections = {}, storeDir, tenant, lockWaitMs }) {
  if (!storeDir) throw new Error('runJob needs a storeDir');
  const release = await lockStore(storeDir, { waitMs: lockWaitMs });
  try {
    return await new Promise((resolve, reject) => {
      const worker = new Worker(WORKER, { workerData: { job, args, settings, connections, storeDir, tenant: tenant || storeDir } });
      let answered = false;
      worker.once('message', (msg) => {
        answered = true;
        if (msg.failed) reject(Object.assign(new Error(msg.failed.message), { workerStack: msg.failed.stack }));
        else resolve(msg.out);
      });
      worker.once('error', (e) => { answered = true; reject(e); });
      worker.once('exit', (code) => { if (!answered) reject(new Error(`the job's worker exited (${code}) without an answer`)); });
    });
  } finally {
    release();
  }
}

module.exports = { runJob };
