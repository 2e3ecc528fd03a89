'use strict';
/**
 * Worker-thread entry of `run-job.js`: instantiates the component over the tenant's file store and
 * runs one job. The guest's HTTP blocks the thread it runs on until each answer comes, so it runs
 * here, not on the thread that serves n8n (its editor, webhooks and other executions go on).
 */
const { parentPort, workerData } = require('node:worker_threads');
const { createLedgerlink } = require('./host');
const { FileStore } = require('./caps/storage');
const { MemorySchedule } = require('./caps/schedule');

async function main() {
  const { job, args, settings, connections, storeDir, tenant } = workerData;
  const store = new FileStore(storeDir);
  const schedule = new MemorySchedule(tenant);
  try {
    const ll = await createLedgerlink({ settings, connections, store, schedule });
    const result = ll.runJob(job, args);
    return {
      result,
      egress: ll.egress,
      runLater: [...schedule.runs.values()].map((r) => ({ id: r.id, job: r.job, args: r.args, at: r.at.toISOString() })),
    };
  } finally {
    store.close();
  }
}

main().then(
  (out) => parentPort.postMessage({ out }),
  (e) => parentPort.postMessage({ failed: { message: String(e && e.message ? e.message : e), stack: e && e.stack } }),
);
