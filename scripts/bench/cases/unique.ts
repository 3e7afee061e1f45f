// What a unique lock costs an enqueue: ours one by one (100 in flight, as enqueue-one), plain
// against `unique: '<key>'` with a distinct key per task, so none is a duplicate and every
// enqueue takes its lock. Runs alternate (A B, B A, …) so drift on a shared machine hits both alike.
import { ADAPTERS } from '../libs';
import type { BenchCase } from '../env';

type OurProducer = Awaited<ReturnType<typeof ADAPTERS.ours.producer>>;

export const uniqueCase: BenchCase = {
  id: 'unique',
  async run(env) {
    const plain = env.add({ id: 'unique-plain', label: 'enqueue one by one (100 in flight), plain (ours)', unit: 'jobs/s', better: 'higher', runs: {} });
    const uniq = env.add({ id: 'unique-enqueue', label: 'enqueue one by one (100 in flight), a distinct `unique` key each (ours)', unit: 'jobs/s', better: 'higher', runs: {},
      note: 'every key distinct, so every enqueue takes a lock and none is refused: the lock\'s cost; runs alternate with the plain row' });
    const sides: [typeof plain, (p: OurProducer, n: number, tag: string) => Promise<void>][] = [
      [plain, (p, n) => p.oneByOne(n, 100)],
      [uniq, async (p, n, tag) => {
        const stored = await p.oneByOneKeyed(n, 100, (i) => `${tag}${i}`);
        if (stored !== n) throw new Error(`unique-enqueue: ${stored} of ${n} distinct keys stored`);
      }],
    ];
    // Each side's code warmed before the first timed run: in a full bench the plain path is hot from
    // the cases before this one and the lock's code is not, which read as a cost of the lock.
    for (const [, go] of sides) {
      await env.flush();
      const p = await ADAPTERS.ours.producer(env.ctxFor());
      for (let k = 0; k < 4; k++) await go(p, Math.min(env.N, 20000), `w${k}:`);
      await p.close();
    }
    for (let r = 0; r < env.R; r++) {
      for (const [c, go] of r % 2 ? [sides[1], sides[0]] : sides) {
        await env.flush();
        const p = await ADAPTERS.ours.producer(env.ctxFor());
        await go(p, Math.min(env.N, 1000), 'w'); // warm-up: scripts loaded, JIT warm
        const t0 = performance.now();
        await go(p, env.N, 'k');
        env.record(c, 'ours', env.N / ((performance.now() - t0) / 1000));
        await p.close();
      }
    }
  },
  targets: (k) => k.paired('unique enqueue vs plain enqueue', 'unique-enqueue', 'unique-plain', 0.8, '≥ 0.8× plain'),
};
