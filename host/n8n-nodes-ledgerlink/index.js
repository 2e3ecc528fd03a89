'use strict';
// The package's library entry: the Node host of the Ledgerlink component (the n8n node is
// registered through `n8n.nodes` in package.json).
module.exports = require('./lib/host');
