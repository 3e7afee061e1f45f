// The MySQL mirror's cost: c=50 with the mirror on against off (alternating), and how fast the
// rows reach SQL (from the start of processing until the outbox is empty).
import { existsSync } from 'fs';
import { join } from 'path';
import { ADAPTERS, ourLibPath, timeProcessing, benchSequelize } from '../libs';
import type { BenchCase } from '../env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const mirrorCase: BenchCase = {
  id: 'mirror',
  async run(env) {
    const { N, R, admin, redisUrl } = env;
    const off = env.add({ id: 'mirror-off', label: 'process c=50, mirror off (ours)', unit: 'jobs/s', better: 'higher', runs: {} });
    const on = env.add({ id: 'mirror-on', label: 'process c=50, MySQL mirror on (ours)', unit: 'jobs/s', better: 'higher', runs: {} });
    const rows = env.add({ id: 'mirror-rows', label: 'mirror rows/s (until every row is written, ours)', unit: 'rows/s', better: 'higher', runs: {} });
    const libDir = ourLibPath({ redisUrl, prefix: '', queue: '', libPath: env.libPath });
    if (!existsSync(join(libDir, 'mirror.ts')) && !existsSync(join(libDir, 'mirror'))) {
      for (const x of [off, on, rows]) x.skipped = 'the MySQL mirror (lib/mirror) is not in this lib';
      env.log('  mirror: skipped (lib/mirror not there)');
      return;
    }
    try {
      for (let r = 0; r < R; r++) {
        for (const mirror of r % 2 ? [true, false] : [false, true]) {
          await env.flush();
          const ctx = env.ctxFor({ mirror });
          const p = await ADAPTERS.ours.producer(ctx);
          if (mirror) {
            await p.q.migrate?.();
            await (await benchSequelize(ctx)).query('TRUNCATE TABLE async_tasks');
          }
          await p.bulk(N, 1000);
          const t0 = performance.now();
          const ms = await timeProcessing('ours', ctx, 50, N);
          env.record(mirror ? on : off, 'ours', N / (ms / 1000));
          if (mirror) {
            // The worker's mirror loop stopped with the worker: drain what is left with a fresh one,
            // then time from the start of processing until the outbox is empty.
            const outbox = `{${ctx.prefix}:default}:outbox`;
            let left = await admin.llen(outbox);
            if (left > 0) {
              const { setup } = require(ourLibPath(ctx)) as { setup: (o: unknown) => { worker(o: unknown): { start(): Promise<void>; stop(): Promise<void> }; close(): Promise<void> } };
              const q2 = setup({ redis: redisUrl, prefix: ctx.prefix, retention: 0, sequelize: (p.q as unknown as { sequelize: unknown }).sequelize, mirror: true });
              const w2 = q2.worker({ concurrency: 1, mirror: true });
              await w2.start();
              for (let i = 0; i < 1200 && left > 0; i++) { await sleep(25); left = await admin.llen(outbox); }
              await w2.stop();
              await q2.close();
            }
            env.record(rows, 'ours', N / ((performance.now() - t0) / 1000));
          }
          await p.close();
        }
      }
    } catch (e) {
      const why = `mirror case failed: ${(e as Error).message.split('\n')[0]}`;
      for (const x of [off, on, rows]) x.skipped ??= why;
      env.log(`  ${why}`);
    }
  },
  targets: (k) => k.paired('mirror on vs off', 'mirror-on', 'mirror-off', 0.8, '≥ 0.8× off'),
};
