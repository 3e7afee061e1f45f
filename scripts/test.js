#!/usr/bin/env node
// `npm test`: services up, type-check, build (the CLI runs the compiled code), then every spec.
// Ends with a plain "N passed, N failed" line.
'use strict';
const { spawn, spawnSync } = require('child_process');
const { join } = require('path');
const ensureServices = require('./services');

const root = join(__dirname, '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function step(what, cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${what} failed`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

(async () => {
  try { await ensureServices(); } catch (e) {
    console.error(e.message);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  step('type-check (tsc --noEmit)', bin('tsc'), ['--noEmit', '-p', '.']);
  // A fresh build: a file left in dist/ by an older layout (dist/lib/mirror.js beside dist/lib/mirror/)
  // would still be found by require() and run instead of the new one.
  require('fs').rmSync(join(root, 'dist'), { recursive: true, force: true });
  step('build', bin('tsc'), ['-p', 'tsconfig.build.json']);
  const specs = process.argv.length > 2 ? process.argv.slice(2) : ['spec/*.spec.ts'];
  const child = spawn(bin('mocha'), ['--reporter', 'spec', ...specs], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let passed = 0, failed = 0, tail = '';
  child.stdout.on('data', (d) => {
    process.stdout.write(d);
    tail = (tail + d.toString()).slice(-4000);
    const p = /(\d+) passing/.exec(tail); if (p) passed = Number(p[1]);
    const f = /(\d+) failing/.exec(tail); if (f) failed = Number(f[1]);
  });
  child.on('close', (code) => {
    if (code !== 0 && failed === 0) failed = 1; // crashed before reporting
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exit(code === 0 && failed === 0 ? 0 : 1);
  });
})();
