#!/usr/bin/env node
// The command line (the seed's script/async): a thin shell over the compiled CLI in dist/lib.
// `node scripts/async.js --help` lists the commands; lib/cli/ has the code.
'use strict';
const { join } = require('path');

const entry = join(__dirname, '..', 'dist', 'lib', 'cli', 'index.js');
let cli;
try {
  cli = require(entry);
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(entry)) {
    console.error(`async: ${entry} is missing: build sequelize-async first (npm run build)`);
    process.exit(1);
  }
  throw e;
}
cli.cli(process.argv.slice(2));
