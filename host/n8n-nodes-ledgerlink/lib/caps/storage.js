'use strict';
/**
 * `wasi:keyvalue/store@0.2.0-draft` for the guest, as the Rust host gives it
 * (`host/src/caps/storage`): the guest names a bucket, keys and values are bytes, `list-keys` pages
 * by offset. The backend is a `Map`-like object the embedder owns (`MemoryStore` by default), so an
 * n8n workflow can keep it in its static data or any store it likes.
 */

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

module.exports = { MemoryStore, keyValueImports, MAX_KEY_BYTES, MAX_VALUE_BYTES };
