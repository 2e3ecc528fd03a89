'use strict';
/**
 * `wasi:keyvalue/store@0.2.0-draft` for the guest, as the Rust host gives it
 * (`host/src/caps/storage`): the guest names a bucket, keys and values are bytes, `list-keys` pages
 * by offset. The backend is a `Map`-like object the embedder owns: `MemoryStore` (the default) or
 * `FileStore` (a directory, as the n8n Sync node keeps a tenant's state between executions).
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const MAX_KEY_BYTES = 1024;
const MAX_VALUE_BYTES = 4 << 20;
const LIST_PAGE = 1000;

/** Keys and values in memory, per bucket. */
class MemoryStore {
  constructor() { this.buckets = new Map(); }
  bucket(name) {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
    return this.buckets.get(name);
  }
}

/**
 * Keys and values in files, one per bucket (`<dir>/<bucket>.kv`): a log of JSON lines, `{"k", "v"}`
 * (the value in base64) or `{"k", "d": 1}` for a delete, replayed when the bucket is first opened.
 * What the flows keep (links, cursors, ledgers) thus outlives the process: running a job again does
 * the work once. A write is appended at once; `close()` fsyncs, and rewrites a log that is mostly
 * superseded lines. A torn last line (a crash mid-write) is skipped on reading.
 */
class FileStore {
  constructor(dir) {
    this.dir = dir;
    this.buckets = new Map();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  bucket(name) {
    if (!this.buckets.has(name)) {
      if (!validBucket(name)) throw new Error(`bucket name ${JSON.stringify(name)} is not a file name`);
      this.buckets.set(name, new FileBucket(path.join(this.dir, `${name}.kv`)));
    }
    return this.buckets.get(name);
  }

  /** Flushes every bucket to disk and compacts the long logs. */
  close() {
    for (const b of this.buckets.values()) b.close();
    this.buckets.clear();
  }
}

/** One bucket's entries in memory (a `Map`'s get/set/delete/has/keys), each change appended to its log. */
class FileBucket {
  constructor(file) {
    this.file = file;
    this.entries = new Map();
    this.lines = 0;
    this.fd = null;
    let text = '';
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) { if (e.code !== 'ENOENT') throw e; }
    // After a torn write, the next line must not be glued to its remains.
    this.torn = text.length > 0 && !text.endsWith('\n');
    for (const line of text.split('\n')) {
      if (!line) continue;
      let entry;
      try { entry = JSON.parse(line); } catch { continue; } // a torn write
      this.lines += 1;
      if (entry.d) this.entries.delete(entry.k);
      else this.entries.set(entry.k, new Uint8Array(Buffer.from(entry.v, 'base64')));
    }
  }

  append(entry) {
    if (this.fd === null) this.fd = fs.openSync(this.file, 'a', 0o600);
    fs.writeSync(this.fd, `${this.torn ? '\n' : ''}${JSON.stringify(entry)}\n`);
    this.torn = false;
    this.lines += 1;
  }

  get(key) { return this.entries.get(key); }

  has(key) { return this.entries.has(key); }

  keys() { return this.entries.keys(); }

  set(key, value) {
    const bytes = Uint8Array.from(value);
    this.append({ k: key, v: Buffer.from(bytes).toString('base64') });
    this.entries.set(key, bytes);
  }

  delete(key) {
    if (!this.entries.has(key)) return false;
    this.append({ k: key, d: 1 });
    return this.entries.delete(key);
  }

  close() {
    if (this.fd !== null) {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = null;
    }
    if (this.lines > 2 * this.entries.size + 64) {
      // Rewrite as one line per live key, then swap it in whole (rename is atomic).
      const tmp = `${this.file}.tmp`;
      const fd = fs.openSync(tmp, 'w', 0o600);
      for (const [k, v] of this.entries) fs.writeSync(fd, `${JSON.stringify({ k, v: Buffer.from(v).toString('base64') })}\n`);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(tmp, this.file);
      this.lines = this.entries.size;
    }
  }
}

/**
 * One run at a time per store directory, across processes (n8n's queue-mode workers too, on a
 * shared disk): `<dir>/.lock` holds `{host, pid, since}`, its mtime renewed every 20 s by the holder.
 * A lock whose holder process is gone (same host), or not renewed for a minute, is taken over.
 * Resolves with `release()`; rejects after `waitMs`, naming the holder.
 */
async function lockStore(dir, { waitMs = 120000, pollMs = 250 } = {}) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, '.lock');
  const me = { host: os.hostname(), pid: process.pid, since: new Date().toISOString() };
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.writeFileSync(file, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
      const renew = setInterval(() => { try { const now = new Date(); fs.utimesSync(file, now, now); } catch { /* released */ } }, 20000);
      renew.unref();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        try { fs.unlinkSync(file); } catch { /* already gone */ }
      };
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const holder = readLock(file);
    if (holder && staleLock(holder)) {
      try { fs.unlinkSync(file); } catch { /* another waiter took it over first */ }
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder && holder.info ? `${holder.info.host} pid ${holder.info.pid} since ${holder.info.since}` : 'another run';
      throw new Error(`${dir} is in use by ${who}: one run at a time per store`);
    }
    await new Promise((resolve) => { setTimeout(resolve, pollMs); });
  }
}

function readLock(file) {
  try {
    const { mtimeMs } = fs.statSync(file);
    let info = null;
    try { info = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { /* being written */ }
    return { info, mtimeMs };
  } catch {
    return null; // released meanwhile
  }
}

function staleLock({ info, mtimeMs }) {
  if (Date.now() - mtimeMs > 60000) return true;
  if (!info || info.host !== os.hostname() || info.pid === process.pid) return false;
  try {
    process.kill(info.pid, 0);
    return false;
  } catch (e) {
    return e.code === 'ESRCH';
  }
}

function validBucket(name) {
  return typeof name === 'string' && name.length >= 1 && name.length <= 128 && /^[A-Za-z0-9._-]+$/.test(name);
}

/** The error variant of the interface, thrown as jco expects for a `result` error. */
function other(message) { return { tag: 'other', val: message }; }

/** The import object for `wasi:keyvalue/store`, over `store` (a `MemoryStore` or alike). */
function keyValueImports(store) {
  class Bucket {
    constructor(name) { this.name = name; }
    get(key) {
      const v = store.bucket(this.name).get(key);
      return v === undefined ? undefined : new Uint8Array(v);
    }
    set(key, value) {
      if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw other(`key is ${Buffer.byteLength(key)} bytes; the limit is ${MAX_KEY_BYTES}`);
      if (value.length > MAX_VALUE_BYTES) throw other(`value of ${JSON.stringify(key)} is ${value.length} bytes; the limit is ${MAX_VALUE_BYTES}`);
      store.bucket(this.name).set(key, Uint8Array.from(value));
    }
    delete(key) { store.bucket(this.name).delete(key); }
    exists(key) { return store.bucket(this.name).has(key); }
    listKeys(cursor) {
      const keys = [...store.bucket(this.name).keys()].sort();
      const from = cursor === undefined ? 0 : Number(cursor);
      const page = keys.slice(from, from + LIST_PAGE);
      const next = from + page.length < keys.length ? BigInt(from + page.length) : undefined;
      return { keys: page, cursor: next };
    }
  }
  return {
    Bucket,
    open(identifier) {
      if (!validBucket(identifier)) {
        throw other(`bucket name ${JSON.stringify(identifier)} must be 1-128 characters of letters, digits, '-', '_' or '.'`);
      }
      return new Bucket(identifier);
    },
  };
}

module.exports = { MemoryStore, FileStore, lockStore, keyValueImports, MAX_KEY_BYTES, MAX_VALUE_BYTES };
