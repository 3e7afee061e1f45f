// Probe (not part of npm run bench): claim throughput at two depths for any library, through the
// bench's adapters (16 priorities where the library has them; finished jobs topped up in batches
// of 500 so the depth holds), with Redis CPU per job. Use a Redis of your own:
//   npx tsx scripts/bench/depth-peers.ts --libs ours,bullmq --depths 1000,1000000 [--redis redis://127.0.0.1:6391/3]
import Redis from 'ioredis';
import minimist from 'minimist';
import { ADAPTERS, LibName, waitForRehash } from './libs';

const argv = minimist(process.argv.slice(2), { string: ['redis', 'libs', 'depths'] });
const url = argv.redis ?? 'redis://127.0.0.1:6391/3';
const libs = String(argv.libs ?? 'ours,bullmq').split(',') as LibName[];
const depths = String(argv.depths ?? '1000,1000000').split(',').map(Number);
const M = Number(argv.n ?? 20000);
const R = Number(argv.runs ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const admin = new Redis(url);
  const cpu = async () => { const i = await admin.info('cpu'); return Number(/used_cpu_user:([\d.]+)/.exec(i)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(i)![1]); };
  for (const lib of libs) {
    for (const depth of depths) {
      await admin.flushdb();
      const ctx = { redisUrl: url, prefix: `dq${process.pid}${lib}`, queue: 'bench' };
      const p = await ADAPTERS[lib].producer(ctx);
      const priorities = lib !== 'bee';
      const t0 = performance.now();
      for (let done = 0; done < depth; done += 1000) await p.bulk(Math.min(1000, depth - done), 1000, { priorities });
      await waitForRehash(admin, Number(new URL(url).pathname.slice(1) || 0));
      const out: string[] = [];
      for (let r = 0; r < R; r++) {
        let done = 0, topped = 0, topping = false;
        let finish!: () => void;
        const all = new Promise<void>((res) => { finish = res; });
        const topUp = () => {
          if (topping || done - topped < 500) return;
          const k = done - topped; topped += k; topping = true;
          void p.bulk(k, k, { priorities }).finally(() => { topping = false; topUp(); });
        };
        const c = await ADAPTERS[lib].consumer(ctx, 50, () => undefined, () => { done++; if (done === M) finish(); topUp(); });
        const c0 = await cpu();
        const t1 = performance.now();
        c.start();
        await all;
        const v = M / ((performance.now() - t1) / 1000);
        const us = ((await cpu()) - c0) * 1e6 / M;
        await c.close();
        while (topping) await sleep(5);
        if (done > topped) await p.bulk(done - topped, done - topped, { priorities });
        out.push(`${(v / 1000).toFixed(1)}k/s ${us.toFixed(0)}µs`);
      }
      console.log(`${lib} depth ${depth} (filled in ${((performance.now() - t0) / 1000).toFixed(0)} s): ${out.join(' | ')}`);
      await p.close();
    }
  }
  await admin.flushdb();
  await admin.quit();
  process.exit(0);
})();
