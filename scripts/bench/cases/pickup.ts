// Idle pickup: with an idle worker, the time from before the enqueue call to the handler
// starting, p50 and p99 over `samples` enqueues per library and run, spaced 5-10 ms (long enough to
// go idle). The libraries take turns sample by sample, in a random order each time, so a change in
// the machine's speed during a run reaches every library alike: run after run, library after
// library, one run's ratio ranged from 0.24x to 1.96x, taking turns from 0.70x to 0.75x
// (BENCHMARKS.md). Each library is warmed up first (libs.ts warmUp), so the case times optimized
// code when it runs alone too.
import { ADAPTERS, LibName, Ctx, Producer, Consumer, warmUp } from '../libs';
import { percentile } from '../stats';
import type { BenchCase } from '../env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WARM = 5;

/** Latencies (ms) per library, their samples interleaved; each library gets its own queue. */
export async function pickupSamples(libs: LibName[], ctxFor: () => Ctx, samples: number): Promise<Map<LibName, number[]>> {
  // One sample is in flight at a time, so the handler that starts belongs to the library that enqueued.
  let hit: ((t: number) => void) | null = null;
  const sides: { lib: LibName; prod: Producer; cons: Consumer; lat: number[] }[] = [];
  for (const lib of libs) {
    const ctx = ctxFor();
    const cons = await ADAPTERS[lib].consumer(ctx, 1, () => { const t = performance.now(); hit?.(t); }, () => undefined);
    const prod = await ADAPTERS[lib].producer(ctx);
    cons.start();
    sides.push({ lib, prod, cons, lat: [] });
  }
  try {
    for (let i = 0; i < samples + WARM; i++) {
      for (const s of [...sides].sort(() => Math.random() - 0.5)) {
        await sleep(5 + Math.random() * 5);
        const seen = new Promise<number>((r) => { hit = r; });
        const t0 = performance.now();
        await s.prod.addOne({ at: t0 });
        const t1 = await seen;
        if (i >= WARM) s.lat.push(t1 - t0);
      }
    }
  } finally {
    hit = null;
    for (const s of sides) { await s.prod.close(); await s.cons.close(); }
  }
  return new Map(sides.map((s) => [s.lib, s.lat]));
}

export const pickupCase: BenchCase = {
  id: 'idle-pickup',
  async run(env) {
    const p50 = env.add({ id: 'idle-pickup-p50', label: 'idle pickup p50 (enqueue → handler starts)', unit: 'ms', better: 'lower', runs: {} });
    const p99 = env.add({ id: 'idle-pickup-p99', label: 'idle pickup p99', unit: 'ms', better: 'lower', runs: {} });
    // (--cases idle-pickup alone would otherwise time code V8 has not optimized yet)
    for (const lib of env.order(0)) await warmUp(lib, env.ctxFor(), env.quick ? 2000 : 20000);
    for (let r = 0; r < env.R; r++) {
      await env.flush();
      const lat = await pickupSamples(env.order(r), () => env.ctxFor(), env.samples);
      for (const [lib, l] of lat) {
        env.record(p50, lib, percentile(l, 50));
        env.record(p99, lib, percentile(l, 99));
      }
    }
    p50.note = `${env.samples} samples per library and run, the libraries taking turns sample by sample in a random order, producer and idle worker (concurrency 1) in this process, after a warm-up of each library (40,000 enqueued and processed at concurrency 50, 10,000 at 1) so that its code is optimized whether or not the cases before ran`;
  },
  targets(k) {
    k.vs('idle pickup p50', 'idle-pickup-p50', 'bee', 1);
    k.vs('idle pickup p99', 'idle-pickup-p99', 'bee', 1);
  },
};
