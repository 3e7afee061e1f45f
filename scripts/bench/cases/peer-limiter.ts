// Rate limits against BullMQ's, at the same limit: ours (`queue.limit`, a sliding log of start
// times) and BullMQ's Worker `limiter` (a counter that expires `duration` after the first start of
// a window: fixed windows, each anchored at its first start). A backlog bigger than the measured
// span, c=50, no-op jobs. Each library's own start times (ours: the rate log in Redis, one entry
// per claim; BullMQ: job.processedOn, the time its limiter counted) give how close it gets to the
// limit and the most starts in any window-long span; the handlers' start times (Node, after the
// claim's round trip) give what a provider behind the limit would see. Bee-Queue has no limiter.
import type Redis from 'ioredis';
import { ADAPTERS, LibName } from '../libs';
import type { BenchCase, BenchEnv, CaseResult } from '../env';

const MAX = 1000;
const DURATION = 1000;
const CONCURRENCY = 50;
const LIBS: LibName[] = ['ours', 'bullmq'];

// The worst-window rows of the last run, for their target: every run must stay within the bound, not the median.
let worstRow: CaseResult | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The most of the (sorted) times that fall in any span [t, t + width). */
export function worstWindow(ts: number[], width: number): number {
  let worst = 0;
  for (let lo = 0, hi = 0; hi < ts.length; hi++) {
    while (ts[hi] - ts[lo] >= width) lo++;
    worst = Math.max(worst, hi - lo + 1);
  }
  return worst;
}

/** Reads our rate log (entries "now:first id:count" at score now) into `into`, by entry. */
async function readLog(admin: Redis, key: string, into: Map<string, number>): Promise<void> {
  const z = await admin.zrange(key, 0, -1, 'WITHSCORES');
  for (let i = 0; i < z.length; i += 2) into.set(z[i], Number(z[i + 1]));
}

interface Seen { counted: number[]; handler: number[] }

/** Runs one library against the limit for `windows` windows past its first start. */
async function limited(env: BenchEnv, lib: LibName, windows: number): Promise<Seen> {
  const ctx = env.ctxFor(lib === 'bullmq' ? { limiter: { max: MAX, duration: DURATION } } : {});
  const p = await ADAPTERS[lib].producer(ctx);
  // Ours enqueues into 'default' (the adapter names no queue): the limit goes there.
  if (lib === 'ours') {
    const q = (p as Awaited<ReturnType<typeof ADAPTERS.ours.producer>>).q as unknown as { limit?(queue: string, l: unknown): Promise<void> };
    if (!q.limit) throw new Error('queue.limit (issue 14) is not in this lib');
    await q.limit('default', { rate: { max: MAX, duration: DURATION } });
  }
  // One window more than measured, so the backlog never runs dry inside the span.
  await p.bulk(MAX * (windows + 1), 1000);
  await p.close();
  const handler: number[] = [], counted: number[] = [];
  const c = await ADAPTERS[lib].consumer(ctx, CONCURRENCY, (_d, at) => {
    handler.push(performance.now());
    if (at !== undefined) counted.push(at);
  }, () => undefined);
  // An entry stays in our log for `duration` at least, so reading it every 200 ms misses none.
  const logKey = `{${ctx.prefix}:default}:flow-starts`;
  const log = new Map<string, number>();
  c.start();
  const span = windows * DURATION;
  let last = 0;
  while (handler.length === 0 || performance.now() < handler[0] + span + 100) {
    await sleep(handler.length === 0 ? 5 : 20);
    if (lib === 'ours' && performance.now() - last >= 200) { last = performance.now(); await readLog(env.admin, logKey, log); }
  }
  await c.close();
  if (lib === 'ours') {
    await readLog(env.admin, logKey, log);
    for (const [entry, at] of log) for (let k = Number(entry.slice(entry.lastIndexOf(':') + 1)); k > 0; k--) counted.push(at);
  }
  return { counted: counted.sort((a, b) => a - b), handler };
}

export const peerLimiterCase: BenchCase = {
  id: 'peer-limiter',
  async run(env) {
    // Whole windows measured per library and run: 5 s in a full run, fewer for --quick and the spec's tiny N.
    const windows = !env.quick ? 5 : env.N >= 1000 ? 2 : 1;
    const lim = `${MAX.toLocaleString('en')} per ${DURATION.toLocaleString('en')} ms`;
    const rate = env.add({ id: 'peer-limiter-rate', label: `rate limit ${lim}, c=50: starts in the first ${windows} s`, unit: '% of limit', better: 'higher', runs: {},
      note: `ours \`queue.limit(q, { rate })\` (a sliding log: at most max starts in any window) against BullMQ's Worker \`limiter\` (a counter that expires a window after its first start: fixed windows), both ${lim} over a backlog at c=${CONCURRENCY} (BullMQ fetches one job per free slot and needs the concurrency to reach the rate; ours claims for the free slots plus its prefetch, up to 100 at once here). Starts counted in each limiter's own times (ours: the rate log's claim times; BullMQ: job.processedOn) over the ${windows} window(s) from the first start, as a share of max × windows: 100% is all either algorithm allows, less is time lost waking up to the next allowed start. Bee-Queue has no rate limiter.` });
    const worst = env.add({ id: 'peer-limiter-worst', label: `rate limit ${lim}: most starts in any 1 s (limiter's own start times)`, unit: '% of max', better: 'lower', runs: {},
      note: `the most starts in any ${DURATION} ms sliding span of the same times, as a share of max: our README's bound is 100% (never more than max in any window); fixed windows can let up to 2× max through across an edge.` });
    const seen = env.add({ id: 'peer-limiter-handler', label: `rate limit ${lim}: most handler starts in any 1 s`, unit: '% of max', better: 'lower', runs: {},
      note: `as above over the handlers' start times in Node: what a provider behind the limit sees. A start trails its claim by the round trip, which varies by a few ms; ours logs a claim of many tasks (up to 100 here: the free slots plus prefetch) as one entry, and the claim its expiry allows a window later may come back a few ms faster, so the tasks of both can start within one span.` });
    worstRow = worst;
    await env.perLib(rate, LIBS, async (lib) => {
      const { counted, handler } = await limited(env, lib, windows);
      if (counted.length === 0) throw new Error(`peer-limiter ${lib}: no start times recorded`);
      env.record(worst, lib, (100 * worstWindow(counted, DURATION)) / MAX);
      env.record(seen, lib, (100 * worstWindow(handler, DURATION)) / MAX);
      return (100 * counted.filter((t) => t < counted[0] + windows * DURATION).length) / (MAX * windows);
    });
  },
  targets(k) {
    k.vs('rate limit: share of the limit reached', 'peer-limiter-rate', 'bullmq', 1);
    const ws = worstRow?.runs.ours ?? [];
    const w = ws.length ? Math.max(...ws) : NaN;
    k.push({ what: 'rate limit: most starts in any window (ours, worst run)', wanted: '≤ 100% of max (README)', got: Number.isFinite(w) ? `${w.toFixed(1)}%` : 'not measured', met: Number.isFinite(w) ? w <= 100 : null });
  },
};
