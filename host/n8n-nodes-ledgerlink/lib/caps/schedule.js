'use strict';
/**
 * `ledgerlink:sync/schedule`: the guest asks for a job later (a retry after a 429, a deferred
 * backfill). The same (job, args, time) is recorded once, under one id, as in the Rust host
 * (`host/src/caps/schedule.rs`). Running due jobs is the embedder's business: `due(now)` lists them
 * (an n8n workflow would poll it from a Schedule Trigger).
 */

const { createHash } = require('node:crypto');

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Pending runs in memory. */
class MemorySchedule {
  constructor(tenant = 'default') { this.tenant = tenant; this.runs = new Map(); }
  runLater(job, args, at) {
    const when = RFC3339.test(at) ? new Date(at) : new Date(NaN);
    if (Number.isNaN(when.getTime())) throw new Error(`${JSON.stringify(at)} is not an RFC 3339 time`);
    const id = createHash('sha256').update(`${this.tenant}\n${job}\n${args}\n${when.toISOString()}`).digest('hex').slice(0, 24);
    if (!this.runs.has(id)) this.runs.set(id, { id, job, args, at: when });
    return id;
  }
  cancel(id) { return this.runs.delete(id); }
  /** Pending runs due at `now`, oldest first. */
  due(now = new Date()) {
    return [...this.runs.values()].filter((r) => r.at <= now).sort((a, b) => a.at - b.at);
  }
}

/** The import object for `ledgerlink:sync/schedule`: errors go back to the guest as `err(string)`. */
function scheduleImports(schedule) {
  return {
    runLater(name, args, at) {
      try {
        return schedule.runLater(name, args, at);
      } catch (e) {
        throw String(e && e.message ? e.message : e);
      }
    },
    cancel(id) { return schedule.cancel(id); },
  };
}

module.exports = { MemorySchedule, scheduleImports };
