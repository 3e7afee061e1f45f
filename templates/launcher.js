#!/usr/bin/env node
// Background workers for this app (written by `sequelize-async generate`): loads the app module
// that exports the queue (default: async.config.js in the app's root, or ASYNC_APP, or --app)
// and hands over to the sequelize-async command line. `node scripts/async.js --help` lists it all.
'use strict';
const path = require('path');

if (!process.env.ASYNC_APP) process.env.ASYNC_APP = path.join(__dirname, '..', 'async.config.js');
require('sequelize-async/dist/lib/cli').cli(process.argv.slice(2));
