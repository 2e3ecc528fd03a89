'use strict';
/**
 * `wasi:config/store@0.2.0-rc.1`: the tenant's settings (realm id, stage names, GL accounts, field
 * rules), read-only to the guest. Secrets are never settings: a setting whose name looks like a
 * secret is refused when the host is made, as `ledgerlink init` refuses it in `ledgerlink.toml`.
 */

const SECRET_LIKE = /(secret|password|token|credential|api[-_]?key|private[-_]?key)/i;

/** Checks and copies `settings` (an object of strings). */
function checkSettings(settings = {}) {
  const out = new Map();
  for (const [key, value] of Object.entries(settings)) {
    if (SECRET_LIKE.test(key)) {
      throw new Error(`setting ${JSON.stringify(key)} looks like a secret: keep credentials in the connections, not in settings`);
    }
    if (typeof value !== 'string') throw new Error(`setting ${JSON.stringify(key)} must be a string`);
    out.set(key, value);
  }
  return out;
}

/** The import object for `wasi:config/store`. */
function configImports(settings) {
  return {
    get(key) { return settings.get(key); },
    getAll() { return [...settings.entries()]; },
  };
}

module.exports = { checkSettings, configImports };
