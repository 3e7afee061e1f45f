// What a running recurring scheduler costs an enqueue in the same process: enqueue one by one (100 in
// flight, as enqueue-one) for a fixed time, on a queue whose process also runs a worker for another
// queue ('recur'), with 100 schedules there firing every second (`* * * * * *`) against none. The
// scheduler is the worker's (lib/recurring/api.ts attachScheduler): both sides run the same idle-or-
// not worker, so the difference is the scheduler's ticks and the 100 tasks a second they start. The
// enqueue runs for whole seconds, so every run of "on" holds the same number of tick bursts.
import { ADAPTERS, PAYLOAD, OurQueue } from '../libs';
import type { BenchCase, BenchEnv, CaseResult } from '../env';

const SCHEDULES = 100;

type RecurringQueue = OurQueue & { every(target: object, pattern: string, action: string, opts?: unknown): Promise<unknown> };

/** Seconds of enqueueing per run: 3; --quick 2; the spec's tiny N 1. */
const seconds = (env: BenchEnv) => (env.N < 500 ? 1 : env.quick ? 2 : 3);

/** Enqueues one by one, `inflight` at a time, until `ms` have passed; returns the enqueues per second. */
async function enqueueFor(add: () => Promise<unknown>, ms: number, inflight: number): Promise<number> {
  let done = 0;
  const t0 = performance.now(), end = t0 + ms;
  const lane = async () => { while (performance.now() < end) { await add(); done++; } };
  await Promise.all(Array.from({ length: inflight }, lane));
  return done / ((performance.now() - t0) / 1000);
}

async function oneRun(env: BenchEnv, withSchedules: boolean): Promise<number> {
  const p = await ADAPTERS.ours.producer(env.ctxFor());
  const q = p.q as RecurringQueue;
  class RecurTick { static run() { /* no-op */ } }
  q.register(RecurTick);
  if (withSchedules) {
    await Promise.all(Array.from({ length: SCHEDULES }, (_, i) => q.every(RecurTick, '* * * * * *', 'run', { name: `r${i}`, queue: 'recur' })));
  }
  const w = q.worker({ queues: ['recur'], concurrency: 10 });
  w.on('error', (e) => console.error(`[ours recur worker] ${e.message}`));
  await w.start();
  try {
    await p.oneByOne(Math.min(env.N, 1000), 100); // warm-up: scripts loaded, JIT warm
    return await enqueueFor(() => p.addOne(PAYLOAD), seconds(env) * 1000, 100);
  } finally {
    await w.stop({ graceMs: 2000 });
    await p.close();
  }
}

export const schedulerCostCase: BenchCase = {
  id: 'sched',
  async run(env) {
    const off = env.add({ id: 'sched-off', label: 'enqueue one by one (100 in flight), worker for another queue, no schedules (ours)',
      unit: 'jobs/s', better: 'higher', runs: {} });
    const on = env.add({ id: 'sched-on', label: `enqueue one by one (100 in flight), that worker's scheduler running ${SCHEDULES} schedules every second (ours)`,
      unit: 'jobs/s', better: 'higher', runs: {},
      note: `${seconds(env)} s of enqueueing per run, runs alternating; in the same process a worker (concurrency 10) for queue 'recur', whose `
        + `scheduler ticks ${SCHEDULES} schedules \`* * * * * *\` (${SCHEDULES} recur-tick calls and ${SCHEDULES} tasks run per second) against the same worker with none` });
    for (let r = 0; r < env.R; r++) {
      for (const [withSchedules, c] of (r % 2 ? [[true, on], [false, off]] : [[false, off], [true, on]]) as [boolean, CaseResult][]) {
        await env.flush();
        env.record(c, 'ours', await oneRun(env, withSchedules));
      }
    }
  },
  targets: (k) => k.paired(`enqueue one by one, scheduler with ${SCHEDULES} schedules vs none`, 'sched-on', 'sched-off', 0.95, '≥ 0.95× without'),
};
