// Probe (not part of npm run bench): the idle pickup of two builds of ours (and Bee-Queue), sample by
// sample in one process, to tell a change's effect from the machine's drift. Each round takes one
// sample of each side in a random order (a fixed order biases the result: a side that follows its own
// previous sample runs with warmer caches, worth ~40 µs at p50 here), spaced 5-10 ms as the bench's
// idle-pickup case. Two identical copies still differ by ~15 µs at p50 over 1,500 samples: repeat
// before believing less. Copies: `npm run build`, then copy package.json, dist/ and lib/{lua,
// migrations,web} into a directory (with node_modules linked), once before and once after the change.
// Each side is warmed up first as the bench's pickup case is (libs.ts warmUp; --cold skips it).
//   npx tsx scripts/bench/pickup-ab.ts --a /tmp/before/dist/lib --b /tmp/after/dist/lib [--bee] [--n 1500] [--cold] [--redis redis://127.0.0.1:6391/4]
import minimist from 'minimist';
import { ADAPTERS, Ctx, LibName, warmUp } from './libs';
import { percentile } from './stats';

const argv = minimist(process.argv.slice(2), { string: ['a', 'b', 'redis'], boolean: ['bee', 'cold'] });
if (!argv.a || !argv.b) {
  console.error('pickup-ab: give --a and --b, two dist/lib directories of ours');
  process.exit(2);
}
const url = argv.redis ?? 'redis://127.0.0.1:6391/4';
const N = Number(argv.n ?? 1500);
const WARM = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Side { name: string; lib: LibName; libPath?: string }

(async () => {
  const sides: Side[] = [{ name: `a (${argv.a})`, lib: 'ours', libPath: argv.a }, { name: `b (${argv.b})`, lib: 'ours', libPath: argv.b }];
  if (argv.bee) sides.push({ name: 'Bee-Queue', lib: 'bee' });
  // Every consumer calls the same hook (ours share one: scripts/bench/libs.ts's oursHook), and only one
  // sample is in flight at a time, so the hook always belongs to the side that enqueued.
  if (!argv.cold) {
    for (const [i, s] of sides.entries()) await warmUp(s.lib, { redisUrl: url, prefix: `pab${process.pid}w${i}`, queue: 'warm', libPath: s.libPath });
  }
  let hit: (() => void) | null = null;
  const runs = [];
  for (const [i, s] of sides.entries()) {
    const ctx: Ctx = { redisUrl: url, prefix: `pab${process.pid}x${i}`, queue: 'bench', libPath: s.libPath };
    const cons = await ADAPTERS[s.lib].consumer(ctx, 1, () => hit?.(), () => undefined);
    const prod = await ADAPTERS[s.lib].producer(ctx);
    cons.start();
    runs.push({ side: s, prod, cons, lat: [] as number[] });
  }
  await sleep(500);
  for (let i = 0; i < N + WARM; i++) {
    for (const r of [...runs].sort(() => Math.random() - 0.5)) {
      await sleep(5 + Math.random() * 5);
      const seen = new Promise<number>((res) => { hit = () => res(performance.now()); });
      const t0 = performance.now();
      await r.prod.addOne({ at: t0 });
      const t1 = await seen;
      if (i >= WARM) r.lat.push((t1 - t0) * 1000);
    }
  }
  for (const r of runs) {
    console.log(`${r.side.name}: p50 ${percentile(r.lat, 50).toFixed(0)} µs, p90 ${percentile(r.lat, 90).toFixed(0)} µs, p99 ${percentile(r.lat, 99).toFixed(0)} µs (${r.lat.length} samples)`);
  }
  for (const r of runs) { await r.prod.close(); await r.cons.close(); }
  process.exit(0);
})();
