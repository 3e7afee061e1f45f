// Probe (not part of npm run bench): the idle pickup of two builds of ours (and Bee-Queue), sample by
// sample in one process, to tell a change's effect from the machine's drift. Each round takes one
// sample of each side in a random order (a fixed order biases the result: a side that follows its own
// previous sample runs with warmer caches, worth ~40 µs at p50 here), spaced 5-10 ms as the bench's
// idle-pickup case, through its own loop (cases/pickup.ts pickupSamples). Two identical copies still differ by ~15 µs at p50 over 1,500 samples: repeat
// before believing less. Copies: `npm run build`, then copy package.json, dist/ and lib/{lua,
// migrations,web} into a directory (with node_modules linked), once before and once after the change.
// Each side is warmed up first as the bench's pickup case is (libs.ts warmUp; --cold skips it).
//   npx tsx scripts/bench/pickup-ab.ts --a /tmp/before/dist/lib --b /tmp/after/dist/lib [--bee] [--n 1500] [--cold] [--redis redis://127.0.0.1:6391/4]
import minimist from 'minimist';
import { LibName, warmUp } from './libs';
import { pickupSamples } from './cases/pickup';
import { percentile } from './stats';

const argv = minimist(process.argv.slice(2), { string: ['a', 'b', 'redis'], boolean: ['bee', 'cold'] });
if (!argv.a || !argv.b) {
  console.error('pickup-ab: give --a and --b, two dist/lib directories of ours');
  process.exit(2);
}
const url = argv.redis ?? 'redis://127.0.0.1:6391/4';
const N = Number(argv.n ?? 1500);

interface Side { name: string; lib: LibName; libPath?: string }

(async () => {
  const sides: Side[] = [{ name: `a (${argv.a})`, lib: 'ours', libPath: argv.a }, { name: `b (${argv.b})`, lib: 'ours', libPath: argv.b }];
  if (argv.bee) sides.push({ name: 'Bee-Queue', lib: 'bee' });
  if (!argv.cold) {
    for (const [i, s] of sides.entries()) await warmUp(s.lib, { redisUrl: url, prefix: `pab${process.pid}w${i}`, queue: 'warm', libPath: s.libPath });
  }
  const lat = await pickupSamples(sides.map((s, i) => ({ lib: s.lib, ctx: { redisUrl: url, prefix: `pab${process.pid}x${i}`, queue: 'bench', libPath: s.libPath } })), N);
  for (const [i, s] of sides.entries()) {
    const us = lat[i].map((ms) => ms * 1000);
    console.log(`${s.name}: p50 ${percentile(us, 50).toFixed(0)} µs, p90 ${percentile(us, 90).toFixed(0)} µs, p99 ${percentile(us, 99).toFixed(0)} µs (${us.length} samples)`);
  }
  process.exit(0);
})();
