'use strict';
/**
 * Outgoing HTTP, limited to the tenant's named connections, as in the Rust host
 * (`host/src/caps/http.rs`). The guest never holds a credential and never sees a real host name:
 *
 * | guest URL | goes to |
 * |---|---|
 * | `http://quickbooks/v3/company/{realm}/...` | the QBO base URL + path, with the QBO bearer token |
 * | `http://salesforce/services/data/v61.0/...` | the Salesforce instance URL + path, with its token |
 * | `http://notify/` | the incoming-webhook URL |
 * | anything else | refused with `HTTP-request-denied` |
 *
 * Any `Authorization` or `Cookie` header the guest set is dropped before the connection's own
 * credential is added. A connection is `{baseUrl, token}` where `token` is a string or a function
 * returning one (called on every request, so the embedder may refresh it; it must not block).
 *
 * The request is sent by `@bytecodealliance/preview2-shim`'s handler, which blocks the calling
 * thread until the response arrives (the guest's HTTP is synchronous): servers the guest talks to
 * must not run on the same thread (in tests, the emulators run in a child process).
 */

const CONNECTIONS = ['quickbooks', 'salesforce', 'notify'];
const DROPPED = new Set(['authorization', 'cookie']);

/** Checks `{name: {baseUrl, token}}` and parses the base URLs. */
function checkConnections(connections = {}) {
  const out = new Map();
  for (const [name, c] of Object.entries(connections)) {
    if (!CONNECTIONS.includes(name)) throw new Error(`unknown connection ${JSON.stringify(name)} (one of: ${CONNECTIONS.join(', ')})`);
    const url = new URL(c.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`connection ${name}: ${c.baseUrl} is not an http(s) URL`);
    out.set(name, { url, token: c.token });
  }
  return out;
}

/** Base path + guest path and query (`http://notify/` goes to the whole webhook URL). */
function rewritePath(base, guestPathWithQuery) {
  const basePath = base.pathname.replace(/\/+$/, '');
  const guest = guestPathWithQuery || '/';
  if (guest === '/' && basePath) return basePath + base.search;
  return `${basePath}${guest}` || '/';
}

/**
 * Wraps the shim's `wasi:http/outgoing-handler` so that every request goes through the policy.
 * `log` receives one `{connection, method, path, refused}` per request.
 */
function outgoingHandlerImports(shimHandler, connections, log = []) {
  return {
    handle(request, options) {
      const name = (request.authority() || '').split(':')[0].toLowerCase();
      const method = request.method();
      const connection = connections.get(name);
      log.push({
        connection: name,
        method: method.tag === 'other' ? method.val : method.tag.toUpperCase(),
        path: request.pathWithQuery() || '/',
        refused: !connection,
      });
      if (!connection) throw { tag: 'HTTP-request-denied' };
      const { url } = connection;
      request.setScheme(url.protocol === 'https:' ? { tag: 'HTTPS' } : { tag: 'HTTP' });
      request.setAuthority(url.host);
      request.setPathWithQuery(rewritePath(url, request.pathWithQuery()));
      // The guest's header fields are immutable by the time it sends them (WASI HTTP locks them);
      // the host edits the list the shim sends from. preview2-shim is pinned exactly for this,
      // and the capability tests check both the removal and the injection.
      const entries = request.headers().entries();
      for (let i = entries.length - 1; i >= 0; i--) {
        if (DROPPED.has(entries[i][0].toLowerCase())) entries.splice(i, 1);
      }
      const token = typeof connection.token === 'function' ? connection.token() : connection.token;
      if (token) entries.push(['authorization', new TextEncoder().encode(`Bearer ${token}`)]);
      return shimHandler.handle(request, options);
    },
  };
}

module.exports = { checkConnections, outgoingHandlerImports, rewritePath, CONNECTIONS };
