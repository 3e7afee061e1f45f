// Enqueue throughput, every library: in chunks of 1,000 (one call per chunk) and one by one.
import { ADAPTERS, LIBS } from '../libs';
import type { BenchCase, BenchEnv } from '../env';

async function timed(env: BenchEnv, id: string, label: string, go: (p: Awaited<ReturnType<typeof ADAPTERS.ours.producer>>, n: number) => Promise<void>) {
  const c = env.add({ id, label, unit: 'jobs/s', better: 'higher', runs: {} });
  await env.perLib(c, LIBS, async (lib) => {
    const p = await ADAPTERS[lib].producer(env.ctxFor()) as Awaited<ReturnType<typeof ADAPTERS.ours.producer>>;
    await go(p, Math.min(env.N, 1000)); // warm-up: scripts loaded, JIT warm
    const t0 = performance.now();
    await go(p, env.N);
    const v = env.N / ((performance.now() - t0) / 1000);
    await p.close();
    return v;
  });
}

export const enqueueBulk: BenchCase = {
  id: 'enqueue-bulk',
  run: (env) => timed(env, 'enqueue-bulk', 'enqueue bulk (chunks of 1,000)', (p, n) => p.bulk(n, 1000)),
  targets: (k) => k.vs('enqueue bulk', 'enqueue-bulk', 'bee', 1),
};

export const enqueueOne: BenchCase = {
  id: 'enqueue-one',
  run: (env) => timed(env, 'enqueue-one', 'enqueue one by one (100 in flight)', (p, n) => p.oneByOne(n, 100)),
  targets: (k) => k.vs('enqueue one by one', 'enqueue-one', 'bee', 1),
};
