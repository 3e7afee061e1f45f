// Idle pickup: with an idle worker, the time from before the enqueue call to the handler
// starting, p50 and p99 over `samples` enqueues spaced 5-10 ms (long enough to go idle).
import { ADAPTERS, LibName, Ctx } from '../libs';
import { percentile } from '../stats';
import type { BenchCase } from '../env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function pickupSamples(lib: LibName, ctx: Ctx, samples: number): Promise<number[]> {
  let hit: ((t: number) => void) | null = null;
  const cons = await ADAPTERS[lib].consumer(ctx, 1, () => { const t = performance.now(); hit?.(t); }, () => undefined);
  const prod = await ADAPTERS[lib].producer(ctx);
  cons.start();
  const out: number[] = [];
  const warm = 5;
  for (let i = 0; i < samples + warm; i++) {
    await sleep(5 + Math.random() * 5);
    const seen = new Promise<number>((r) => { hit = r; });
    const t0 = performance.now();
    await prod.addOne({ at: t0 });
    const t1 = await seen;
    if (i >= warm) out.push(t1 - t0);
  }
  await prod.close();
  await cons.close();
  return out;
}

export const pickupCase: BenchCase = {
  id: 'idle-pickup',
  async run(env) {
    const p50 = env.add({ id: 'idle-pickup-p50', label: 'idle pickup p50 (enqueue → handler starts)', unit: 'ms', better: 'lower', runs: {} });
    const p99 = env.add({ id: 'idle-pickup-p99', label: 'idle pickup p99', unit: 'ms', better: 'lower', runs: {} });
    for (let r = 0; r < env.R; r++) {
      for (const lib of env.order(r)) {
        await env.flush();
        const lat = await pickupSamples(lib, env.ctxFor(), env.samples);
        env.record(p50, lib, percentile(lat, 50));
        env.record(p99, lib, percentile(lat, 99));
      }
    }
  },
  targets(k) {
    k.vs('idle pickup p50', 'idle-pickup-p50', 'bee', 1);
    k.vs('idle pickup p99', 'idle-pickup-p99', 'bee', 1);
  },
};
