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

/** One library's producer and idle worker in a pickup measurement, on a queue of its own. */
export interface PickupSide { lib: LibName; ctx: Ctx }

/** Latencies (ms) per side, in the order given, their samples interleaved (a random order each time). */
export async function pickupSamples(given: PickupSide[], samples: number): Promise<number[][]> {
  // One sample is in flight at a time, so the handler that starts belongs to the side that enqueued
  // (ours share one hook: libs.ts's oursHook).
  let hit: ((t: number) => void) | null = null;
  const sides: { prod: Producer; cons: Consumer; lat: number[] }[] = [];
  try {
    for (const { lib, ctx } of given) {
      const cons = await ADAPTERS[lib].consumer(ctx, 1, () => { const t = performance.now(); hit?.(t); }, () => undefined);
      const prod = await ADAPTERS[lib].producer(ctx);
      cons.start();
      sides.push({ prod, cons, lat: [] });
    }
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
  return sides.map((s) => s.lat);
}

export const pickupCase: BenchCase = {
  id: 'idle-pickup',
  async run(env) {
    const p50 = env.add({ id: 'idle-pickup-p50', label: 'idle pickup p50 (enqueue → handler starts)', unit: 'ms', better: 'lower', runs: {} });
    const p99 = env.add({ id: 'idle-pickup-p99', label: 'idle pickup p99', unit: 'ms', better: 'lower', runs: {} });
    // (--cases idle-pickup alone would otherwise time code V8 has not optimized yet)
    const n50 = env.quick ? 2000 : 20000;
    for (const lib of env.order(0)) await warmUp(lib, env.ctxFor(), n50);
    for (let r = 0; r < env.R; r++) {
      await env.flush();
      const libs = env.order(r);
      const lat = await pickupSamples(libs.map((lib) => ({ lib, ctx: env.ctxFor() })), env.samples);
      libs.forEach((lib, i) => {
        env.record(p50, lib, percentile(lat[i], 50));
        env.record(p99, lib, percentile(lat[i], 99));
      });
    }
    p50.note = `${env.samples} samples per library and run, the libraries taking turns sample by sample in a random order, producer and idle worker (concurrency 1) in this process, after a warm-up of each library (${(2 * n50).toLocaleString('en')} enqueued and processed at concurrency 50, ${(n50 / 2).toLocaleString('en')} at 1) so that its code is optimized whether or not the cases before ran`;
  },
  targets(k) {
    k.vs('idle pickup p50', 'idle-pickup-p50', 'bee', 1);
    k.vs('idle pickup p99', 'idle-pickup-p99', 'bee', 1);
  },
};
