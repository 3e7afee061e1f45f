// Flow control costs the claim script a few commands (the flow hash, the rate log, the running
// count): c=50 with a rate limit and a concurrency cap set that never bind, against none.
import { pair } from './pairs';
import type { BenchCase } from '../env';

export const flowCase: BenchCase = {
  id: 'flow-limit',
  run: async (env) => {
    await pair(env,
      { id: 'flow-unlimited', label: 'process c=50, no limit (ours)' },
      { id: 'flow-limited', label: 'process c=50, non-binding rate + concurrency limit set (ours)',
        before: async (q) => {
          const l = q as unknown as { limit?(queue: string, l: unknown): Promise<void> };
          if (!l.limit) throw new Error('queue.limit (issue 14) is not in this lib');
          await l.limit('default', { rate: { max: 10_000_000, duration: 1000 }, concurrency: 100_000 });
        } });
  },
  targets: (k) => k.paired('process c=50, non-binding limit vs none', 'flow-limited', 'flow-unlimited', 0.95, '≥ 0.95× without'),
};
