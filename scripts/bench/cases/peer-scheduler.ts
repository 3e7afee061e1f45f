// Recurring schedules against BullMQ's job scheduler: 1,000 schedules firing every second, the
// scheduler and a worker (concurrency 50) in the bench's process, for a few seconds per run.
// Figures, over a window of whole seconds after a warm-up: handler starts per second (1,000 is
// all of them), and how late each started: handler start − the tick's nominal time.
//
// Nominal times. Ours: each tick's task has the tick as its scheduledAt, but a handler is given only
// its args, not its task; so each schedule's args carry its index, the bench notes the ticks each
// recur-tick call stored (it wraps the queue's internal script runner, reading only), and a
// schedule's k-th start is matched to its k-th stored tick (one task per tick, run in order).
// BullMQ: every: 1000 ticks at the upsert's time + n s; the job id is `repeat:<id>:<nominal ms>`.
/* eslint-disable @typescript-eslint/no-require-imports */
import { loadOurs, parseUrl, Ctx, LibName, OurQueue } from '../libs';
import { percentile } from '../stats';
import type { BenchCase, BenchEnv } from '../env';

const SCHEDULES = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Timing { warmMs: number; seconds: number }

/** Warm-up and whole seconds measured: 2 + 8 s; --quick 1 + 3 s; the spec's tiny N 0.5 + 1 s. */
function timing(env: BenchEnv): Timing {
  if (env.N < 500) return { warmMs: 500, seconds: 1 };
  return env.quick ? { warmMs: 1000, seconds: 3 } : { warmMs: 2000, seconds: 8 };
}

/** Epoch ms with sub-ms resolution, aligned to Date.now() (which both schedulers' ticks are in). */
function epochClock(): () => number {
  const d0 = Date.now();
  while (Date.now() === d0) { /* wait for the ms to turn over: the offset is then exact to µs */ }
  const off = Date.now() - performance.now();
  return () => off + performance.now();
}

interface Start { at: number; nominal: number }
interface RunResult { starts: Start[]; t0: number }

/** Starts within [t0 + warm, + seconds): per second, and p50/p99 of their lateness. */
function figures(r: RunResult, t: Timing): { perSec: number; p50: number; p99: number } {
  const from = r.t0 + t.warmMs, to = from + t.seconds * 1000;
  const late = r.starts.filter((s) => s.at >= from && s.at < to).map((s) => s.at - s.nominal);
  return { perSec: late.length / t.seconds, p50: percentile(late, 50), p99: percentile(late, 99) };
}

type RecurringQueue = OurQueue & {
  every(target: object, pattern: string, action: string, opts?: unknown): Promise<unknown>;
  worker(opts: unknown): ReturnType<OurQueue['worker']>;
};

async function inChunks(n: number, size: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i += size) await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => fn(i + j)));
}

type ScriptFn = (name: string, queue: string, argv: unknown[], ...rest: unknown[]) => Promise<unknown>;

/** Per schedule name, the ticks recur-tick.lua stored (in order), read off its calls and replies. */
function noteStoredTicks(q: OurQueue): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const ictx = (q as unknown as { internals: Record<'script' | 'scriptNow', ScriptFn> }).internals;
  const seen = new WeakSet<unknown[]>(); // scriptNow may hand the same call on to script
  const note = (name: string, argv: unknown[], r: unknown) => {
    if (name !== 'recur-tick' || !Array.isArray(r) || seen.has(argv)) return;
    seen.add(argv);
    // argv (lib/recurring/store.ts tickBatch): count, then per schedule name, json, expected, nextAt, 6 task
    // fields, n extra pairs, ticks, tick/id pairs; the reply: per schedule a status and its stored ids.
    let at = 1;
    for (let k = 0; k < Number(argv[0]); k++) {
      const ticksAt = at + 11 + 2 * Number(argv[at + 10]);
      const given = Array.from({ length: Number(argv[ticksAt]) }, (_, j) => Number(argv[ticksAt + 1 + 2 * j]));
      const ids = String(r[2 * k + 1] ?? '');
      if (String(r[2 * k]) === '1' && ids !== '') {
        const stored = given.slice(given.length - ids.split(',').length); // overlap: false stores only the newest
        const key = String(argv[at]);
        const xs = out.get(key) ?? out.set(key, []).get(key)!;
        xs.push(...stored);
      }
      at = ticksAt + 1 + 2 * given.length;
    }
  };
  for (const m of ['script', 'scriptNow'] as const) {
    const run = ictx[m].bind(ictx);
    ictx[m] = async (name, queue, argv, ...rest) => {
      const r = await run(name, queue, argv, ...rest);
      note(name, argv, r);
      return r;
    };
  }
  return out;
}

async function runOurs(ctx: Ctx, t: Timing): Promise<RunResult> {
  const now = epochClock();
  const byIndex: number[][] = Array.from({ length: SCHEDULES }, () => []);
  class SchedTick { static run(i: number) { byIndex[i].push(now()); } }
  const q = loadOurs(ctx).setup({ redis: ctx.redisUrl, prefix: ctx.prefix, retention: 0 }) as RecurringQueue;
  q.register(SchedTick);
  const ticks = noteStoredTicks(q);
  await inChunks(SCHEDULES, 100, (i) => q.every(SchedTick, '* * * * * *', 'run', { name: `s${i}`, args: [i] }));
  const w = q.worker({ concurrency: 50 });
  w.on('error', (e) => console.error(`[ours worker] ${e.message}`));
  const t0 = now();
  await w.start();
  await sleep(t.warmMs + t.seconds * 1000 - (now() - t0));
  await w.stop({ graceMs: 2000 });
  await q.close();
  const starts: Start[] = [];
  byIndex.forEach((xs, i) => {
    const stored = ticks.get(`s${i}`) ?? [];
    if (xs.length > stored.length) throw new Error(`schedule s${i}: ${xs.length} starts but ${stored.length} ticks stored`);
    xs.sort((a, b) => a - b).forEach((at, k) => starts.push({ at, nominal: stored[k] }));
  });
  return { starts, t0 };
}

async function runBullmq(ctx: Ctx, t: Timing): Promise<RunResult> {
  const { Queue, Worker } = require('bullmq');
  const now = epochClock();
  const connection = { ...parseUrl(ctx.redisUrl), maxRetriesPerRequest: null };
  const starts: Start[] = [];
  const q = new Queue(ctx.queue, { connection, prefix: ctx.prefix });
  const w = new Worker(ctx.queue, async (job: { id: string }) => {
    const at = now();
    starts.push({ at, nominal: Number(job.id.slice(job.id.lastIndexOf(':') + 1)) });
  }, { connection, prefix: ctx.prefix, concurrency: 50, autorun: false });
  w.on('error', (e: Error) => console.error(`[bullmq worker] ${e.message}`));
  await Promise.all([q.waitUntilReady(), w.waitUntilReady()]);
  await inChunks(SCHEDULES, 100, (i) => q.upsertJobScheduler(`s${i}`, { every: 1000 },
    { name: 'tick', data: { i }, opts: { removeOnComplete: true, removeOnFail: true } }));
  const t0 = now();
  void w.run();
  await sleep(t.warmMs + t.seconds * 1000 - (now() - t0));
  await w.close();
  await q.close();
  return { starts, t0 };
}

export const peerSchedulerCase: BenchCase = {
  id: 'peer-scheduler',
  async run(env) {
    const t = timing(env);
    const note = `${SCHEDULES.toLocaleString('en')} schedules firing every second, scheduler + worker (concurrency 50) in one process, `
      + `${t.seconds} s measured after ${t.warmMs / 1000} s of warm-up per run. Ours: pattern \`* * * * * *\` (seconds field; `
      + 'ticks on whole seconds, so all 1,000 fall due at once); BullMQ: upsertJobScheduler every: 1000 (ticks spread over the '
      + 'second by when each was upserted). Late = handler start − the tick\'s nominal time: BullMQ\'s is in the job id '
      + '(`repeat:<id>:<ms>`); ours is the task\'s scheduledAt (the tick), which a handler is not given: each schedule\'s k-th '
      + 'start is matched to the k-th tick its recur-tick calls stored. Bee-Queue has no scheduler (–).';
    const ticks = env.add({ id: 'peer-scheduler-ticks', label: `scheduler: ticks started per second, ${SCHEDULES.toLocaleString('en')} schedules every 1 s`,
      unit: 'ticks/s', better: 'higher', runs: {}, note });
    const p50 = env.add({ id: 'peer-scheduler-p50', label: 'scheduler: tick start late by, p50', unit: 'ms', better: 'lower', runs: {} });
    const p99 = env.add({ id: 'peer-scheduler-p99', label: 'scheduler: tick start late by, p99', unit: 'ms', better: 'lower', runs: {} });
    const run: Partial<Record<LibName, (c: Ctx, t: Timing) => Promise<RunResult>>> = { ours: runOurs, bullmq: runBullmq };
    for (let r = 0; r < env.R; r++) {
      for (const lib of env.order(r, ['ours', 'bullmq'])) {
        await env.flush();
        const f = figures(await run[lib]!(env.ctxFor(), t), t);
        env.record(ticks, lib, f.perSec);
        env.record(p50, lib, f.p50);
        env.record(p99, lib, f.p99);
      }
    }
  },
};
