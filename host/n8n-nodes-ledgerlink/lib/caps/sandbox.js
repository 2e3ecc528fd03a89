'use strict';
/**
 * The WASI the guest gets in Node: `@bytecodealliance/preview2-shim`, locked down.
 *
 * By default the shim (0.23) hands the guest the whole host: every variable of `process.env`, the
 * host's root directory preopened as `/`, the host's working directory, `process.exit`, and
 * network sockets. Here the guest gets:
 *
 * | capability | given |
 * |---|---|
 * | environment variables | none |
 * | arguments | `["ledgerlink"]` |
 * | initial working directory | none |
 * | filesystem preopens | none |
 * | sockets | none (network disabled) |
 * | `exit` | a trap for this call, never `process.exit` |
 * | clocks, random, stdio | the shim's |
 * | outgoing HTTP | only the connections (see `http.js`) |
 */

async function sandboxImports() {
  const { WASIShim } = await import('@bytecodealliance/preview2-shim/instantiation');
  const shim = new WASIShim({
    sandbox: { preopens: {}, env: {}, args: ['ledgerlink'], enableNetwork: false },
  });
  const imports = shim.getImportObject();
  imports['wasi:cli/environment'] = {
    getEnvironment: () => [],
    getArguments: () => ['ledgerlink'],
    initialCwd: () => undefined,
  };
  imports['wasi:filesystem/preopens'] = { getDirectories: () => [] };
  imports['wasi:cli/exit'] = {
    exit(status) {
      throw new Error(`the guest called exit (${status && status.tag === 'err' ? 'failure' : 'success'})`);
    },
  };
  return imports;
}

module.exports = { sandboxImports };
