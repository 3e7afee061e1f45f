// Transactional enqueue: what the pending row's INSERT adds to a user's transaction (p50, p99),
// on MariaDB and PostgreSQL (the sampler is scripts/bench/tx-enqueue.ts).
import { ourLibPath } from '../libs';
import { txEnqueueSamples, added } from '../tx-enqueue';
import type { BenchCase } from '../env';

let seq = 0;

export const txEnqueueCase: BenchCase = {
  id: 'tx-enqueue',
  async run(env) {
    const n = env.quick ? 300 : 2000;
    for (const [dialect, name] of [['mysql', 'MariaDB'], ['postgres', 'PostgreSQL']] as const) {
      const c50 = env.add({ id: `tx-enqueue-${dialect}-p50`, label: `transaction + enqueue on ${name}: added by the pending row, p50 (ours)`, unit: 'ms', better: 'lower', runs: {} });
      const c99 = env.add({ id: `tx-enqueue-${dialect}-p99`, label: `transaction + enqueue on ${name}: added by the pending row, p99 (ours)`, unit: 'ms', better: 'lower', runs: {} });
      try {
        const bases: string[] = [];
        for (let r = 0; r < env.R; r++) {
          await env.flush();
          const a = added(await txEnqueueSamples(ourLibPath({ redisUrl: env.redisUrl, prefix: '', queue: '', libPath: env.libPath }), env.redisUrl, `sabtx${process.pid}x${++seq}`, dialect, n));
          env.record(c50, 'ours', a.p50);
          env.record(c99, 'ours', a.p99);
          bases.push(`${a.base50.toFixed(2)}/${a.base99.toFixed(2)}`);
        }
        c50.note = `${n} transactions (INSERT a row, queue a task, COMMIT, push) with and without the pending row, interleaved; without it p50/p99 ${bases.join(', ')} ms`;
      } catch (e) {
        for (const x of [c50, c99]) x.skipped = `tx-enqueue case failed: ${(e as Error).message.split('\n')[0]}`;
        env.log(`  ${c50.skipped}`);
      }
    }
  },
};
