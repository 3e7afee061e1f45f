// Ours against ours with one setting changed, at concurrency 50, runs alternating (A B, B A, …)
// so drift on a shared machine hits both alike: the cost of a capability on the plain path.
import { ADAPTERS, Ctx, timeProcessing, OurQueue } from '../libs';
import type { BenchEnv, CaseResult } from '../env';

export interface Side {
  id: string;
  label: string;
  ctx?: Partial<Ctx>;
  /** Runs on the producer's queue before the tasks are stored (a limit set, say). */
  before?(q: OurQueue): Promise<void>;
}

/** Adds both rows and fills them with env.R runs each of N tasks processed at concurrency 50. */
export async function pair(env: BenchEnv, a: Side, b: Side): Promise<[CaseResult, CaseResult]> {
  const ca = env.add({ id: a.id, label: a.label, unit: 'jobs/s', better: 'higher', runs: {} });
  const cb = env.add({ id: b.id, label: b.label, unit: 'jobs/s', better: 'higher', runs: {} });
  for (let r = 0; r < env.R; r++) {
    for (const [side, c] of r % 2 ? [[b, cb], [a, ca]] as const : [[a, ca], [b, cb]] as const) {
      await env.flush();
      const ctx = env.ctxFor(side.ctx);
      const p = await ADAPTERS.ours.producer(ctx);
      await side.before?.(p.q);
      await p.bulk(env.N, 1000);
      await p.close();
      env.record(c, 'ours', env.N / ((await timeProcessing('ours', ctx, 50, env.N)) / 1000));
    }
  }
  return [ca, cb];
}
