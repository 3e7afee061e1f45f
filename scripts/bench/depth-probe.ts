// Probe (not part of npm run bench): Redis time per command per claimed task at a given depth.
//   npx tsx scripts/bench/depth-probe.ts --depth 1000000 [--redis redis://127.0.0.1:6391/3]
import Redis from 'ioredis';
import minimist from 'minimist';
import { ADAPTERS, Ctx, ourSpecs, waitForRehash } from './libs';

const argv = minimist(process.argv.slice(2), { string: ['redis'] });
const url = argv.redis ?? 'redis://127.0.0.1:6391/3';
const depth = Number(argv.depth ?? 1000);
const M = Number(argv.n ?? 20000);
const settle = Number(argv.settle ?? 20000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const admin = new Redis(url);
  await admin.flushdb();
  const ctx: Ctx = { redisUrl: url, prefix: `dp${process.pid}`, queue: 'bench' };
  const p = await ADAPTERS.ours.producer(ctx);
  const fill = async (k: number) => p.q.enqueueSpecs(ourSpecs(ctx, k, { priorities: true }));
  for (let done = 0; done < depth; done += 4000) {
    const k = Math.min(4000, depth - done);
    await Promise.all([0, 1, 2, 3].map((j) => (k > j * 1000 ? fill(Math.min(1000, k - j * 1000)) : null)));
  }
  // --other N: N more tasks in another queue of the same prefix, never claimed (a control: the
  // same Redis memory and keyspace, but a shallow queue being claimed).
  const other = Number(argv.other ?? 0);
  if (other > 0) {
    const po = await ADAPTERS.ours.producer({ ...ctx, queue: 'other' });
    const fo = async (k: number) => po.q.enqueueSpecs(ourSpecs({ ...ctx, queue: 'other' }, k, { priorities: true }));
    for (let done = 0; done < other; done += 4000) await Promise.all([0, 1, 2, 3].map((j) => fo(1000)));
    await po.close();
  }
  const sched = Math.round(depth / 10);
  for (let done = 0; done < sched; done += 1000) await p.q.enqueueSpecs(ourSpecs(ctx, Math.min(1000, sched - done), { priorities: true, scheduledShare: 1 }));
  console.log(`waited ${((await waitForRehash(admin, Number(new URL(url).pathname.slice(1) || 0), settle)) / 1000).toFixed(0)} s for Redis's rehash`);
  for (let r = 0; r < Number(argv.runs ?? 2); r++) {
    await admin.config('RESETSTAT');
    let done = 0, topped = 0, topping = false;
    let finish!: () => void;
    const all = new Promise<void>((res) => { finish = res; });
    const topUp = () => {
      if (topping || done - topped < 500) return;
      const k = done - topped; topped += k; topping = true;
      void fill(k).finally(() => { topping = false; topUp(); });
    };
    const cons = await ADAPTERS.ours.consumer(ctx, 50, () => undefined, () => { done++; if (done === M) finish(); topUp(); });
    const t0 = performance.now();
    cons.start();
    await all;
    const ms = performance.now() - t0;
    await cons.close();
    while (topping) await sleep(5);
    const s = await admin.info('commandstats');
    const rows: string[] = [];
    for (const m of s.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
      if (/^(info|flushdb|config)/.test(m[1])) continue;
      const us = Number(m[3]) / M;
      if (us >= 0.05) rows.push(`${m[1]} ${(Number(m[2]) / M).toFixed(2)}/job ${us.toFixed(2)}us/job`);
    }
    console.log(`depth ${depth}${other ? ` (+${other} in another queue)` : ''}: ${(M / ms * 1000).toFixed(0)} jobs/s | ${rows.join(' | ')}`);
  }
  await p.close();
  await admin.quit();
})();
