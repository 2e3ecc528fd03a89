'use strict';
/**
 * `npm run build`: transpiles the Ledgerlink component with jco into `dist/component/` (async
 * instantiation: every import, WASI included, is supplied by `lib/host.js`, never by the shim's
 * defaults) and copies the contract next to it. With `--test-guest`, also transpiles the sandbox
 * test guest into `dist/test-guest/` for the capability tests.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { REPO, pluginComponent, testGuestComponent } = require('./component-path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const JCO = path.join(ROOT, 'node_modules', '.bin', 'jco');

function transpile(wasm, outDir, name) {
  fs.rmSync(outDir, { recursive: true, force: true });
  const started = Date.now();
  execFileSync(JCO, ['transpile', wasm, '-o', outDir, '--name', name, '--instantiation', 'async', '--quiet'], { stdio: 'inherit' });
  // jco writes ES modules; the package itself is CommonJS (as n8n loads nodes).
  fs.writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n');
  console.log(`jco transpile ${path.relative(REPO, wasm) || wasm} -> ${path.relative(ROOT, outDir)} (${Date.now() - started} ms)`);
}

fs.mkdirSync(DIST, { recursive: true });
transpile(pluginComponent(), path.join(DIST, 'component'), 'ledgerlink');
fs.copyFileSync(path.join(REPO, 'wit', 'ledgerlink.wit'), path.join(DIST, 'ledgerlink.wit'));
if (process.argv.includes('--test-guest')) {
  transpile(testGuestComponent(), path.join(DIST, 'test-guest'), 'guest');
}
