// Probe (not part of npm run bench): claim throughput at a depth, for any library, through the
// bench's adapters, with Redis CPU per job (and, with --per, Redis time per command per job).
// Finished jobs are topped up in batches of 500 so the depth holds; each depth starts once Redis
// has finished rehashing its keyspace. Use a Redis of your own:
//   npx tsx scripts/bench/depth-probe.ts --depths 1000,1000000 [--libs ours,bullmq] [--per] [--redis redis://127.0.0.1:6391/3]
//   --other N (ours only): N more tasks in another queue, never claimed (a control: as many tasks
//   in Redis, a shallow queue being claimed).
import Redis from 'ioredis';
import minimist from 'minimist';
import { buildOurs, ADAPTERS, LibName, Ctx, OurQueue, ourSpecs, storeSpecs, fillOurs, drainHoldingDepth, waitForRehash } from './libs';

const argv = minimist(process.argv.slice(2), { string: ['redis', 'libs', 'depths'], boolean: ['per'] });
if (!argv.lib) buildOurs(); // (ours runs from dist/lib, as shipped)
const url = argv.redis ?? 'redis://127.0.0.1:6391/3';
const db = Number(new URL(url).pathname.slice(1) || 0);
const libs = String(argv.libs ?? 'ours').split(',') as LibName[];
const depths = String(argv.depths ?? '1000,1000000').split(',').map(Number);
const other = Number(argv.other ?? 0);
const M = Number(argv.n ?? 20000);
const R = Number(argv.runs ?? 3);

(async () => {
  const admin = new Redis(url);
  const cpu = async () => { const i = await admin.info('cpu'); return Number(/used_cpu_user:([\d.]+)/.exec(i)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(i)![1]); };
  const perCommand = async () => {
    const rows: string[] = [];
    for (const m of (await admin.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
      if (/^(info|flushdb|config|select|ping|quit)/.test(m[1])) continue;
      const us = Number(m[3]) / M;
      if (us >= 0.05) rows.push(`${m[1]} ${(Number(m[2]) / M).toFixed(2)}/job ${us.toFixed(2)} µs/job`);
    }
    return rows.join(' | ');
  };
  for (const lib of libs) {
    for (const depth of depths) {
      await admin.flushdb();
      const ctx: Ctx = { redisUrl: url, prefix: `dq${process.pid}${lib}`, queue: 'bench' };
      const p = await ADAPTERS[lib].producer(ctx);
      const priorities = lib !== 'bee';
      let topUp: (k: number) => Promise<unknown>;
      if (lib === 'ours') {
        const q = (p as unknown as { q: OurQueue }).q;
        if (other > 0) {
          const po = await ADAPTERS.ours.producer({ ...ctx, queue: 'other' });
          await fillOurs({ ...ctx, queue: 'other' }, po.q, other);
          await po.close();
        }
        await fillOurs(ctx, q, depth);
        topUp = (k) => storeSpecs(q, ourSpecs(ctx, k, { priorities: true }));
      } else {
        for (let done = 0; done < depth; done += 1000) await p.bulk(Math.min(1000, depth - done), 1000, { priorities });
        topUp = (k) => p.bulk(k, k, { priorities });
      }
      const waited = await waitForRehash(admin, db);
      const out: string[] = [];
      for (let r = 0; r < R; r++) {
        let c0 = 0, us = 0, per = '';
        const ms = await drainHoldingDepth(lib, ctx, 50, M, topUp, {
          started: async () => { if (argv.per) await admin.config('RESETSTAT'); c0 = await cpu(); },
          ended: async () => { us = ((await cpu()) - c0) * 1e6 / M; if (argv.per) per = ` [${await perCommand()}]`; },
        });
        out.push(`${(M / ms).toFixed(1)}k/s ${us.toFixed(0)} µs${per}`);
      }
      console.log(`${lib} depth ${depth}${lib === 'ours' && other ? ` (+${other} in another queue)` : ''} (rehash wait ${(waited / 1000).toFixed(0)} s): ${out.join(' | ')}`);
      await p.close();
    }
  }
  await admin.flushdb();
  await admin.quit();
  process.exit(0);
})();
