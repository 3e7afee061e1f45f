// One adapter per library under test, so every case runs the same code path for all three:
// a producer (bulk / one-by-one / single add) and a consumer (a worker that calls `onJob(data)`
// for every job and reports each completion). Each library runs at its fastest documented
// settings with results discarded: ours retention 0, BullMQ removeOnComplete, Bee-Queue
// removeOnSuccess + storeJobs/getEvents/sendEvents off.
/* eslint-disable @typescript-eslint/no-require-imports */
import { existsSync } from 'fs';
import { resolve } from 'path';
import { spawnSync } from 'child_process';

export type LibName = 'ours' | 'bullmq' | 'bee';
export const LIBS: LibName[] = ['ours', 'bullmq', 'bee'];
export const LABEL: Record<LibName, string> = { ours: 'sequelize-async', bullmq: 'BullMQ 6.7', bee: 'Bee-Queue 2.0' };

export interface Ctx {
  redisUrl: string; // redis://host:port/db
  prefix: string;
  queue: string;
  /** Where our library is loaded from (default ../../lib; a private copy for experiments). */
  libPath?: string;
  /** Ours only: run with the MySQL mirror on (needs lib/mirror.ts and a DATABASE_URL). */
  mirror?: boolean;
  /** Ours only: the worker's own `mirror` option (false: the scripts still fill the outbox, no loop runs). */
  workerMirror?: boolean;
  databaseUrl?: string;
  /** Ours only: setup's `metrics` (default true; false: the scripts record no metrics). */
  metrics?: boolean;
  /** Ours only: the worker's `prefetch` (default 'auto'; 0 turns it off). */
  prefetch?: number;
  /** BullMQ only: the Worker's `limiter` (ours is set on the queue, `queue.limit`; Bee-Queue has none). */
  limiter?: { max: number; duration: number };
  /** Ours only: setup's `replicas` (default 0: no WAIT). */
  replicas?: number;
}

export interface Producer {
  /** Enqueues n jobs in chunks (one call per chunk), chunks sent one after another. */
  bulk(n: number, chunk: number, opts?: { priorities?: boolean }): Promise<void>;
  /** Enqueues n jobs one call per job, `inflight` calls outstanding at a time. */
  oneByOne(n: number, inflight: number): Promise<void>;
  /**
   * The same, job i deduplicated by `key(i)` (ours `unique`, BullMQ `deduplication.id`, Bee-Queue
   * the job id); resolves with how many were stored, i.e. were not refused as duplicates.
   */
  oneByOneKeyed(n: number, inflight: number, key: (i: number) => string): Promise<number>;
  addOne(data: unknown): Promise<void>;
  close(): Promise<void>;
}

export interface Consumer {
  start(): void;
  close(): Promise<void>;
}

/**
 * Called as each job's handler starts. `countedAt` (BullMQ only: `job.processedOn`) is the worker's
 * clock when its script took the job, the time its limiter counted; ours keeps those in the rate log.
 */
export type OnJob = (data: unknown, countedAt?: number) => void;
export type OnDone = () => void;

export const PAYLOAD = { id: 12345, kind: 'noop', at: 0 };

// Ours is measured as it ships: the compiled dist/lib (package.json's main), as BullMQ and Bee-Queue
// run their compiled JavaScript. lib/ through tsx would pay for its on-the-fly transpile (esbuild's
// keepNames wraps every function a closure creates), which no user of the package runs.
const DIST = resolve(__dirname, '..', '..', 'dist', 'lib');

export function ourLibPath(ctx: Ctx): string {
  if (ctx.libPath) return resolve(ctx.libPath);
  if (!existsSync(resolve(DIST, 'index.js'))) throw new Error(`bench: no compiled build at ${DIST}: run \`npm run build\` (npm run bench builds it)`);
  return DIST;
}

/** A fresh `npm run build` (dist/ from lib/), so that the run measures lib/ as it is now. */
export function buildOurs(): void {
  const r = spawnSync('npm', ['run', 'build'], { cwd: resolve(__dirname, '..', '..'), stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('bench: `npm run build` failed');
}

export function parseUrl(url: string): { host: string; port: number; db: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0) };
}

async function pool(n: number, inflight: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let left = n;
  const lane = async () => { while (left > 0) await fn(n - left--); };
  await Promise.all(Array.from({ length: Math.min(inflight, n) }, lane));
}

// ---------------------------------------------------------------- ours

// The handler is looked up by name ('Noop'); the hook is set by whichever consumer runs.
let oursHook: OnJob = () => undefined;
class Noop { static run(data?: unknown) { oursHook(data); } }

/** Minimal shape of our Queue as the bench uses it (runtime object of lib/queue.ts). */
export interface OurQueue {
  register(t: object): unknown;
  async(t: object, action: string, opts?: unknown): Promise<unknown>;
  bulk(entries: [object, string, unknown][]): Promise<unknown[]>;
  /** Internal (validated specs, no per-entry checks): only to fill a million-task queue quickly. */
  enqueuer?: { store(specs: unknown[]): Promise<unknown[]> };
  /** The same before the restructuring (issue 11), for runs against an older lib/ (--lib). */
  enqueueSpecs?(specs: unknown[]): Promise<unknown[]>;
  worker(opts: unknown): { on(ev: 'task', fn: (e: { success: boolean }) => void): unknown; on(ev: 'error', fn: (e: Error) => void): unknown; start(): Promise<void>; stop(o?: unknown): Promise<void> };
  close(): Promise<void>;
  redis: { ping(): Promise<string> };
  migrate?: () => Promise<unknown>;
}

type BuildSpec = (type: string, objectId: string | null, action: string, opts: unknown, defaultPriority: number) => unknown;

export function loadOurs(ctx: Ctx): { setup: (o: unknown) => OurQueue; buildSpec: BuildSpec } {
  const dir = ourLibPath(ctx);
  const options = [resolve(dir, 'enqueue', 'options'), resolve(dir, 'enqueue')].find((f) => existsSync(`${f}.ts`) || existsSync(`${f}.js`)) as string;
  return { setup: require(dir).setup, buildSpec: require(options).buildSpec };
}

/** Stores validated specs in one go (the bench's fast fill), whichever layout lib/ has. */
export function storeSpecs(q: OurQueue, specs: unknown[]): Promise<unknown[]> {
  if (q.enqueuer) return q.enqueuer.store(specs);
  return (q.enqueueSpecs as (s: unknown[]) => Promise<unknown[]>)(specs);
}

const seqCache = new Map<string, unknown>();
/** The bench's own MySQL database (sa_bench on the server of DATABASE_URL), created if missing. */
export async function benchSequelize(ctx: Ctx): Promise<{ query(sql: string): Promise<unknown>; close(): Promise<void> }> {
  const { Sequelize } = require('sequelize');
  const u = new URL(ctx.databaseUrl ?? process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/test');
  let sq = seqCache.get(u.toString()) as { query(sql: string): Promise<unknown>; close(): Promise<void> } | undefined;
  if (!sq) {
    const admin = new Sequelize(u.toString(), { logging: false });
    await admin.query('CREATE DATABASE IF NOT EXISTS `sa_bench`');
    await admin.close();
    const db = new URL(u.toString());
    db.pathname = '/sa_bench';
    sq = new Sequelize(db.toString(), { logging: false, pool: { max: 5 } });
    seqCache.set(u.toString(), sq);
  }
  return sq!;
}

export async function closeSequelizes(): Promise<void> {
  for (const sq of seqCache.values()) await (sq as { close(): Promise<void> }).close();
  seqCache.clear();
}

async function oursQueue(ctx: Ctx): Promise<OurQueue> {
  const { setup } = loadOurs(ctx);
  const opts: Record<string, unknown> = { redis: ctx.redisUrl, prefix: ctx.prefix, retention: 0 };
  if (ctx.metrics !== undefined) opts.metrics = ctx.metrics;
  if (ctx.replicas !== undefined) opts.replicas = ctx.replicas;
  if (ctx.mirror !== undefined) {
    const sq = await benchSequelize(ctx);
    opts.sequelize = sq;
    opts.mirror = ctx.mirror;
  }
  const q = setup(opts);
  q.register(Noop);
  await q.redis.ping();
  return q;
}

/** Spreads priorities over 16 levels and (optionally) schedules some tasks an hour ahead. */
export function ourSpecs(ctx: Ctx, n: number, opts: { priorities?: boolean; scheduledShare?: number } = {}): unknown[] {
  const { buildSpec } = loadOurs(ctx);
  const out: unknown[] = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const o: Record<string, unknown> = { args: [PAYLOAD] };
    if (opts.priorities) o.priority = Math.floor(Math.random() * 16);
    if (opts.scheduledShare && Math.random() < opts.scheduledShare) o.scheduledAt = now + 3_600_000 + Math.floor(Math.random() * 3_600_000);
    out.push(buildSpec('Noop', null, 'run', o, 10));
  }
  return out;
}

/** Entries for the public queue.bulk(): like ourSpecs, through the same checks a user's call gets. */
export function ourEntries(n: number, opts: { priorities?: boolean; scheduledShare?: number } = {}): [object, string, unknown][] {
  const out: [object, string, unknown][] = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const o: Record<string, unknown> = { args: [PAYLOAD] };
    if (opts.priorities) o.priority = Math.floor(Math.random() * 16);
    if (opts.scheduledShare && Math.random() < opts.scheduledShare) o.scheduledAt = now + 3_600_000 + Math.floor(Math.random() * 3_600_000);
    out.push([Noop, 'run', o]);
  }
  return out;
}

const ours = {
  async producer(ctx: Ctx): Promise<Producer & { q: OurQueue }> {
    const q = await oursQueue(ctx);
    return {
      q,
      async bulk(n, chunk, opts = {}) {
        for (let done = 0; done < n; done += chunk) await q.bulk(ourEntries(Math.min(chunk, n - done), opts));
      },
      oneByOne: (n, inflight) => pool(n, inflight, () => q.async(Noop, 'run', { args: [PAYLOAD] })),
      async oneByOneKeyed(n, inflight, key) {
        let stored = 0;
        await pool(n, inflight, async (i) => {
          const t = await q.async(Noop, 'run', { args: [PAYLOAD], unique: key(i) }) as { duplicate?: boolean };
          if (!t.duplicate) stored++;
        });
        return stored;
      },
      async addOne(data) { await q.async(Noop, 'run', { args: [data] }); },
      close: () => q.close(),
    };
  },
  async consumer(ctx: Ctx, concurrency: number, onJob: OnJob, onDone: OnDone): Promise<Consumer> {
    const q = await oursQueue(ctx);
    oursHook = onJob;
    const wo: Record<string, unknown> = { concurrency };
    if (ctx.workerMirror !== undefined) wo.mirror = ctx.workerMirror;
    if (ctx.prefetch !== undefined) wo.prefetch = ctx.prefetch;
    const w = q.worker(wo);
    w.on('task', onDone);
    w.on('error', (e) => console.error(`[ours worker] ${e.message}`));
    return {
      start() { void w.start(); },
      async close() { await w.stop({ graceMs: 2000 }); await q.close(); },
    };
  },
};

// ---------------------------------------------------------------- BullMQ

const bullmq = {
  async producer(ctx: Ctx): Promise<Producer> {
    const { Queue } = require('bullmq');
    const q = new Queue(ctx.queue, {
      connection: { ...parseUrl(ctx.redisUrl), maxRetriesPerRequest: null }, prefix: ctx.prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    await q.waitUntilReady();
    return {
      async bulk(n, chunk, opts = {}) {
        for (let done = 0; done < n; done += chunk) {
          const m = Math.min(chunk, n - done);
          await q.addBulk(Array.from({ length: m }, () => ({ name: 'noop', data: PAYLOAD,
            opts: opts.priorities ? { priority: 1 + Math.floor(Math.random() * 16) } : undefined })));
        }
      },
      oneByOne: (n, inflight) => pool(n, inflight, () => q.add('noop', PAYLOAD)),
      async oneByOneKeyed(n, inflight, key) {
        // A duplicate's add resolves with the job already there, so the distinct ids are the jobs stored.
        const ids = new Set<string>();
        await pool(n, inflight, async (i) => { ids.add((await q.add('noop', PAYLOAD, { deduplication: { id: key(i) } })).id); });
        return ids.size;
      },
      async addOne(data) { await q.add('noop', data); },
      close: () => q.close(),
    };
  },
  async consumer(ctx: Ctx, concurrency: number, onJob: OnJob, onDone: OnDone): Promise<Consumer> {
    const { Worker } = require('bullmq');
    const w = new Worker(ctx.queue, async (job: { data: unknown; processedOn?: number }) => { onJob(job.data, job.processedOn); }, {
      connection: { ...parseUrl(ctx.redisUrl), maxRetriesPerRequest: null }, prefix: ctx.prefix, concurrency, autorun: false,
      ...(ctx.limiter ? { limiter: ctx.limiter } : {}),
    });
    w.on('completed', onDone);
    w.on('error', (e: Error) => console.error(`[bullmq worker] ${e.message}`));
    await w.waitUntilReady();
    return {
      start() { void w.run(); },
      async close() { await w.close(); },
    };
  },
};

// ---------------------------------------------------------------- Bee-Queue

function beeSettings(ctx: Ctx, isWorker: boolean) {
  return {
    prefix: ctx.prefix, redis: parseUrl(ctx.redisUrl), isWorker,
    getEvents: false, sendEvents: false, storeJobs: false, activateDelayedJobs: false,
    removeOnSuccess: true, removeOnFailure: true,
  };
}

const bee = {
  async producer(ctx: Ctx): Promise<Producer> {
    const BeeQueue = require('bee-queue');
    const q = new BeeQueue(ctx.queue, beeSettings(ctx, false));
    await q.ready();
    return {
      async bulk(n, chunk) {
        for (let done = 0; done < n; done += chunk) {
          const m = Math.min(chunk, n - done);
          const errors: Map<unknown, Error> = await q.saveAll(Array.from({ length: m }, () => q.createJob(PAYLOAD)));
          if (errors.size) throw [...errors.values()][0];
        }
      },
      oneByOne: (n, inflight) => pool(n, inflight, () => q.createJob(PAYLOAD).save()),
      async oneByOneKeyed(n, inflight, key) {
        // A custom id already in the jobs hash is refused: save() resolves with the id null.
        let stored = 0;
        await pool(n, inflight, async (i) => { if ((await q.createJob(PAYLOAD).setId(key(i)).save()).id) stored++; });
        return stored;
      },
      async addOne(data) { await q.createJob(data).save(); },
      close: () => q.close(),
    };
  },
  async consumer(ctx: Ctx, concurrency: number, onJob: OnJob, onDone: OnDone): Promise<Consumer> {
    const BeeQueue = require('bee-queue');
    const q = new BeeQueue(ctx.queue, beeSettings(ctx, true));
    q.on('succeeded', onDone);
    q.on('error', (e: Error) => console.error(`[bee worker] ${e.message}`));
    await q.ready();
    return {
      start() { q.process(concurrency, async (job: { data: unknown }) => { onJob(job.data); }); },
      async close() { await q.close(); },
    };
  },
};

export const ADAPTERS = { ours, bullmq, bee } as const;

/** Starts a consumer and resolves with the ms from start() to the n-th completion. */
export async function timeProcessing(lib: LibName, ctx: Ctx, concurrency: number, n: number): Promise<number> {
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => { finish = r; });
  const c = await ADAPTERS[lib].consumer(ctx, concurrency, () => undefined, () => { if (++done === n) finish(); });
  const t0 = performance.now();
  c.start();
  await all;
  const ms = performance.now() - t0;
  await c.close();
  return ms;
}

/**
 * Runs what comes before the latency cases in `npm run bench` (enqueues one by one, processing at
 * concurrency 50 and 1; `n50` tasks a round at 50, a quarter as many at 1), so V8 has optimized the
 * code they time whether or not those cases ran in this process: with its code not yet optimized,
 * ours read ~300 µs slower at idle pickup's p50 and Bee-Queue ~50 µs.
 */
export async function warmUp(lib: LibName, ctx: Ctx, n50 = 20000): Promise<void> {
  for (const [c, n] of [[50, n50], [1, n50 / 4], [50, n50], [1, n50 / 4]]) {
    const prod = await ADAPTERS[lib].producer(ctx);
    await prod.oneByOne(n, 100);
    await prod.close();
    await timeProcessing(lib, ctx, c, n);
  }
}

// ---------------------------------------------------------------- claims at a depth

/** Fills a queue of ours to `depth` (16 priorities, four enqueue calls of 1,000 at a time) and 10% more scheduled an hour ahead; returns the tasks stored. */
export async function fillOurs(ctx: Ctx, q: OurQueue, depth: number): Promise<number> {
  const fill = async (k: number) => storeSpecs(q, ourSpecs(ctx, k, { priorities: true }));
  for (let done = 0; done < depth; done += 4000) {
    const k = Math.min(4000, depth - done);
    await Promise.all([0, 1, 2, 3].map((j) => (k > j * 1000 ? fill(Math.min(1000, k - j * 1000)) : null)));
  }
  const sched = Math.round(depth / 10);
  for (let done = 0; done < sched; done += 1000) {
    await storeSpecs(q, ourSpecs(ctx, Math.min(1000, sched - done), { priorities: true, scheduledShare: 1 }));
  }
  return depth + sched;
}

/**
 * Runs `n` jobs through a consumer of `lib` at `concurrency` while `topUp(k)` replaces finished
 * jobs in batches of 500, so the queue's depth holds (every finished job is replaced by the end).
 * `started` runs just before the consumer starts, `ended` once the n-th job finished. Returns the
 * ms in between.
 */
export async function drainHoldingDepth(lib: LibName, ctx: Ctx, concurrency: number, n: number, topUp: (k: number) => Promise<unknown>,
  hooks: { started?: () => Promise<void>; ended?: () => Promise<void> } = {}): Promise<number> {
  let done = 0, topped = 0, topping = false;
  let finish!: () => void;
  const all = new Promise<void>((res) => { finish = res; });
  const replace = () => {
    if (topping || done - topped < 500) return;
    const k = done - topped;
    topped += k;
    topping = true;
    void topUp(k).finally(() => { topping = false; replace(); });
  };
  const c = await ADAPTERS[lib].consumer(ctx, concurrency, () => undefined, () => { done++; if (done === n) finish(); replace(); });
  await hooks.started?.();
  const t0 = performance.now();
  c.start();
  await all;
  const ms = performance.now() - t0;
  await hooks.ended?.();
  await c.close();
  while (topping) await new Promise((r) => setTimeout(r, 5));
  if (done > topped) await topUp(done - topped);
  return ms;
}

// ---------------------------------------------------------------- Redis's keyspace rehash

/**
 * Waits until Redis has finished rehashing database `db`'s keyspace table. Past each power of two
 * of keys Redis doubles the table and moves the keys over incrementally (a little every 100 ms),
 * and every key lookup costs more meanwhile; with 1.1M keys that took ~40 s on an idle server
 * here. MEMORY STATS gives the table's overhead, keys × (dictEntry + robj) + slots × 8 bytes on
 * Redis 7.0; while both tables exist the slots are not a power of two. Where the figures do not
 * fit that formula (another Redis version), it waits `fallbackMs`. Returns the ms waited.
 */
export async function waitForRehash(admin: { call(...a: string[]): Promise<unknown>; dbsize(): Promise<number> }, db: number, fallbackMs = 20000, capMs = 180000): Promise<number> {
  const t0 = Date.now();
  const slots = async () => {
    const st = (await admin.call('MEMORY', 'STATS')) as unknown[];
    const i = st.indexOf(`db.${db}`);
    if (i < 0) return NaN;
    const d = st[i + 1] as unknown[];
    const main = Number(d[d.indexOf('overhead.hashtable.main') + 1]);
    return (main - (await admin.dbsize()) * 40) / 8;
  };
  const pow2 = (n: number) => n > 0 && Number.isInteger(Math.log2(n));
  let s = await slots();
  // A table that fits neither a single power of two nor two of them (n + 2n): a Redis this does not know.
  if (!pow2(s) && !pow2(s / 3)) { await new Promise((r) => setTimeout(r, fallbackMs)); return Date.now() - t0; }
  while (!pow2(s) && Date.now() - t0 < capMs) {
    await new Promise((r) => setTimeout(r, 500));
    s = await slots();
  }
  return Date.now() - t0;
}
