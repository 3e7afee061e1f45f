// `npm run bench` — sequelize-async against BullMQ 6.7 and Bee-Queue 2.0, in the same run, on the
// same Redis database (flushed between cases), same payload, same N, no-op jobs, results dropped.
//
//   npm run bench                    full run (N = 20,000, 3 runs per case; --runs R for more), writes BENCHMARKS.md
//   npm run bench -- --quick         ~30 s version (N = 1,500, 500 at concurrency 1, claim depth 50k), prints the table
//   options: --n N  --runs R  --db 9  --redis redis://127.0.0.1:6379  --lib /tmp/libcopy (our lib
//            from elsewhere, to try engine changes)  --cases a,b  --out FILE  --no-write  --json
//
// Uses its own Redis database (default 9) and FLUSHDBs only that one: other work on the same
// server lives in other databases.
import { fork, ChildProcess } from 'child_process';
import { existsSync, readFileSync, writeFileSync } from 'fs';
import { cpus, loadavg } from 'os';
import { join, resolve } from 'path';
import Redis from 'ioredis';
import minimist from 'minimist';
import { ADAPTERS, LIBS, LABEL, LibName, Ctx, ourLibPath, ourSpecs, timeProcessing, benchSequelize, closeSequelizes, waitForRehash, fillOurs, drainHoldingDepth, storeSpecs } from './bench/libs';
import { median, percentile, fmt, ratio } from './bench/stats';
import { txEnqueueSamples, added } from './bench/tx-enqueue';

export interface BenchOptions {
  quick?: boolean;
  /** Jobs per case. */
  n?: number;
  runs?: number;
  /** Depths for the claim case (default 1,000 and 1,000,000; quick: 1,000 and 50,000). */
  depths?: [number, number];
  /** Idle pickup samples per run. */
  samples?: number;
  db?: number;
  redis?: string;
  libPath?: string;
  /** Only these case ids (default all). */
  cases?: string[];
  /** Only these libraries (default all three; profiling aid). */
  libs?: LibName[];
  log?: (line: string) => void;
}

type Better = 'higher' | 'lower';
export interface CaseResult {
  id: string;
  label: string;
  unit: string;
  better: Better;
  /** Per library, one figure per run. Missing library = not applicable. */
  runs: Partial<Record<LibName, number[]>>;
  note?: string;
  skipped?: string;
}

export interface BenchReport {
  machine: string;
  command: string;
  n: number;
  runs: number;
  cases: CaseResult[];
  targets: TargetResult[];
  table: string;
  targetTable: string;
  startedAt: string;
  seconds: number;
  load: { before: number[]; after: number[] };
}

export interface TargetResult { what: string; wanted: string; got: string; met: boolean | null }

export const CASE_IDS = ['enqueue-bulk', 'enqueue-one', 'process-c1', 'process-c50', 'process-c1-child', 'process-c50-child',
  'process-c1-noprefetch', 'process-c1-noprefetch-child',
  'mirror', 'flow-limit', 'tx-enqueue', 'metrics', 'claim-depth', 'idle-pickup', 'bytes'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Where MEMORY STATS cannot tell whether Redis still rehashes, the deep claim cases wait this long after filling (see depthCase).
const SETTLE_MS = 20000;

export async function runBench(o: BenchOptions = {}): Promise<BenchReport> {
  const quick = !!o.quick;
  const N = o.n ?? (quick ? 1500 : 20000);
  const R = o.runs ?? 3;
  const depths = o.depths ?? (quick ? [1000, 50_000] : [1000, 1_000_000]);
  const samples = o.samples ?? (quick ? 25 : 300);
  const db = o.db ?? 9;
  const base = (o.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').replace(/\/\d*$/, '');
  const redisUrl = `${base}/${db}`;
  const log = o.log ?? ((l: string) => console.log(l));
  const want = (id: string) => !o.cases || o.cases.includes(id);
  const started = Date.now();
  const loadBefore = loadavg();

  const admin = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const info = await admin.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  let libVersion = '';
  try { libVersion = ` @ ${require('child_process').execSync('git log -1 --format=%h -- lib', { cwd: resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()}`; } catch { /* not a git checkout */ }
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), Node ${process.version}, Redis ${redisVersion}; sequelize-async${o.libPath ? ` from ${o.libPath}` : libVersion}`;

  let seq = 0;
  const ctxFor = (extra: Partial<Ctx> = {}): Ctx => ({ redisUrl, prefix: `sab${process.pid}x${++seq}`, queue: 'bench', libPath: o.libPath, ...extra });
  const flush = async () => {
    await admin.call('FLUSHDB', 'ASYNC');
    for (let i = 0; i < 600; i++) {
      const m = /lazyfree_pending_objects:(\d+)/.exec(await admin.info('memory'));
      if (!m || m[1] === '0') break;
      await sleep(50);
    }
  };
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);

  // Rotate the library order from run to run so drift on a shared machine hits each alike.
  const order = (r: number, all: LibName[] = LIBS) => {
    const libs = all.filter((l) => !o.libs || o.libs.includes(l));
    return libs.map((_, i) => libs[(i + r) % libs.length]);
  };
  const results: CaseResult[] = [];
  let lastAt = Date.now();
  const add = (c: CaseResult) => {
    log(`- ${c.id} (previous case took ${((Date.now() - lastAt) / 1000).toFixed(1)} s)`);
    lastAt = Date.now();
    results.push(c);
    return c;
  };
  const progress = (c: CaseResult, lib: LibName, v: number) => log(`  ${c.id.padEnd(18)} ${lib.padEnd(7)} ${fmt(v, c.unit === 'jobs/s' ? '' : ` ${c.unit}`)}`);

  async function perLib(c: CaseResult, libs: LibName[], fn: (lib: LibName) => Promise<number>) {
    for (let r = 0; r < R; r++) {
      for (const lib of order(r, libs)) {
        await flush();
        const v = await fn(lib);
        (c.runs[lib] ??= []).push(v);
        progress(c, lib, v);
      }
    }
  }

  // Child process for the "worker in a second process" cases.
  let child: ChildProcess | null = null;
  const childCall = (msg: unknown) => new Promise<number>((res, rej) => {
    child!.once('message', (m: { ok: boolean; ms: number; error?: string }) => (m.ok ? res(m.ms) : rej(new Error(m.error))));
    child!.send(msg as object);
  });
  const startChild = async () => {
    child = fork(join(__dirname, 'bench', 'worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((res, rej) => { child!.once('message', () => res()); child!.once('exit', (code) => rej(new Error(`bench worker exited (${code})`))); });
  };

  try {
    if (want('enqueue-bulk')) {
      const c = add({ id: 'enqueue-bulk', label: 'enqueue bulk (chunks of 1,000)', unit: 'jobs/s', better: 'higher', runs: {} });
      await perLib(c, LIBS, async (lib) => {
        const p = await ADAPTERS[lib].producer(ctxFor());
        await p.bulk(Math.min(N, 1000), 1000); // warm-up: scripts loaded, JIT warm
        const t0 = performance.now();
        await p.bulk(N, 1000);
        const v = N / ((performance.now() - t0) / 1000);
        await p.close();
        return v;
      });
    }

    if (want('enqueue-one')) {
      const c = add({ id: 'enqueue-one', label: 'enqueue one by one (100 in flight)', unit: 'jobs/s', better: 'higher', runs: {} });
      await perLib(c, LIBS, async (lib) => {
        const p = await ADAPTERS[lib].producer(ctxFor());
        await p.oneByOne(Math.min(N, 1000), 100);
        const t0 = performance.now();
        await p.oneByOne(N, 100);
        const v = N / ((performance.now() - t0) / 1000);
        await p.close();
        return v;
      });
    }

    for (const [id, conc, inChild] of [['process-c1', 1, false], ['process-c50', 50, false], ['process-c1-child', 1, true], ['process-c50-child', 50, true]] as const) {
      if (!want(id)) continue;
      if (inChild && !child) await startChild();
      const c = add({ id, label: `process, concurrency ${conc}${inChild ? ', worker in 2nd process' : ''}`, unit: 'jobs/s', better: 'higher', runs: {} });
      // --quick: concurrency 1 is the slow case, a third of N keeps the run near 30 s.
      const n = quick && conc === 1 ? Math.max(1, Math.round(N / 3)) : N;
      await perLib(c, LIBS, async (lib) => {
        const ctx = ctxFor();
        const p = await ADAPTERS[lib].producer(ctx);
        await p.bulk(n, 1000);
        await p.close();
        const ms = inChild ? await childCall({ cmd: 'process', lib, ctx, concurrency: conc, n }) : await timeProcessing(lib, ctx, conc, n);
        return n / (ms / 1000);
      });
    }

    // Ours with prefetch turned off (one task per round trip, as the peers fetch): what 'auto' adds.
    for (const [id, inChild] of [['process-c1-noprefetch', false], ['process-c1-noprefetch-child', true]] as const) {
      if (!want(id)) continue;
      if (inChild && !child) await startChild();
      const c = add({ id, label: `process, concurrency 1, prefetch: 0 (ours, turned off)${inChild ? ', worker in 2nd process' : ''}`, unit: 'jobs/s', better: 'higher', runs: {} });
      const n = quick ? Math.max(1, Math.round(N / 3)) : N;
      await perLib(c, ['ours'], async (lib) => {
        const ctx = { ...ctxFor(), prefetch: 0 };
        const p = await ADAPTERS[lib].producer(ctx);
        await p.bulk(n, 1000);
        await p.close();
        const ms = inChild ? await childCall({ cmd: 'process', lib, ctx, concurrency: 1, n }) : await timeProcessing(lib, ctx, 1, n);
        return n / (ms / 1000);
      });
    }

    if (want('mirror')) await mirrorCase();
    if (want('flow-limit')) await flowCase();
    if (want('tx-enqueue')) await txEnqueueCase();
    if (want('metrics')) await metricsCase();
    if (want('claim-depth')) await depthCase();

    if (want('idle-pickup')) {
      const p50 = add({ id: 'idle-pickup-p50', label: 'idle pickup p50 (enqueue → handler starts)', unit: 'ms', better: 'lower', runs: {} });
      const p99 = add({ id: 'idle-pickup-p99', label: 'idle pickup p99', unit: 'ms', better: 'lower', runs: {} });
      for (let r = 0; r < R; r++) {
        for (const lib of order(r)) {
          await flush();
          const lat = await pickupSamples(lib);
          (p50.runs[lib] ??= []).push(percentile(lat, 50));
          (p99.runs[lib] ??= []).push(percentile(lat, 99));
          log(`  idle-pickup        ${lib.padEnd(7)} p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms`);
        }
      }
    }

    if (want('bytes')) {
      const plain = add({ id: 'bytes', label: 'Redis bytes per queued job', unit: 'B', better: 'lower', runs: {} });
      const prio = add({ id: 'bytes-priority', label: 'Redis bytes per queued job, 16 priorities', unit: 'B', better: 'lower', runs: {},
        note: 'Bee-Queue has no priorities' });
      for (const [c, priorities, libs] of [[plain, false, LIBS], [prio, true, ['ours', 'bullmq'] as LibName[]]] as const) {
        await perLib(c, libs, async (lib) => {
          // Warm up on another prefix (loads the scripts into Redis), then measure on a fresh one.
          const w = await ADAPTERS[lib].producer(ctxFor());
          await w.bulk(10, 10);
          await w.close();
          await flush();
          const p = await ADAPTERS[lib].producer(ctxFor());
          await sleep(50);
          const before = await usedMemory();
          await p.bulk(N, 1000, { priorities });
          await sleep(50);
          const v = (await usedMemory() - before) / N;
          await p.close();
          return v;
        });
      }
    }
  } finally {
    if (child) { (child as ChildProcess).send({ cmd: 'exit' }); (child as ChildProcess).disconnect(); }
    await flush();
    await admin.quit();
    await closeSequelizes();
  }

  // ------------------------------------------------------------ cases with their own shape

  async function pickupSamples(lib: LibName): Promise<number[]> {
    const ctx = ctxFor();
    let hit: ((t: number) => void) | null = null;
    const cons = await ADAPTERS[lib].consumer(ctx, 1, () => { const t = performance.now(); hit?.(t); }, () => undefined);
    const prod = await ADAPTERS[lib].producer(ctx);
    cons.start();
    const out: number[] = [];
    const warm = 5;
    for (let i = 0; i < samples + warm; i++) {
      await sleep(5 + Math.random() * 5); // long enough for the worker to go idle and block
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

  async function mirrorCase() {
    const off = add({ id: 'mirror-off', label: 'process c=50, mirror off (ours)', unit: 'jobs/s', better: 'higher', runs: {} });
    const on = add({ id: 'mirror-on', label: 'process c=50, MySQL mirror on (ours)', unit: 'jobs/s', better: 'higher', runs: {} });
    const rows = add({ id: 'mirror-rows', label: 'mirror rows/s (until every row is written, ours)', unit: 'rows/s', better: 'higher', runs: {} });
    const libDir = ourLibPath({ redisUrl, prefix: '', queue: '' });
    if (!existsSync(join(libDir, 'mirror.ts')) && !existsSync(join(libDir, 'mirror'))) {
      for (const x of [off, on, rows]) x.skipped = 'the MySQL mirror (lib/mirror.ts, issue 3) has not landed yet';
      log('  mirror: skipped (lib/mirror.ts not there yet)');
      return;
    }
    try {
      for (let r = 0; r < R; r++) {
        for (const mirror of r % 2 ? [true, false] : [false, true]) {
          await flush();
          const ctx = ctxFor({ mirror });
          const p = await ADAPTERS.ours.producer(ctx);
          if (mirror) {
            await p.q.migrate?.();
            await (await benchSequelize(ctx)).query('TRUNCATE TABLE async_tasks');
          }
          await p.bulk(N, 1000);
          const t0 = performance.now();
          const ms = await timeProcessing('ours', ctx, 50, N);
          (mirror ? on : off).runs.ours = [...((mirror ? on : off).runs.ours ?? []), N / (ms / 1000)];
          progress(mirror ? on : off, 'ours', N / (ms / 1000));
          if (mirror) {
            // The worker's mirror loop stopped with the worker: drain what is left with a fresh one,
            // then time from the start of processing until the outbox is empty.
            const outbox = `{${ctx.prefix}:default}:outbox`;
            let left = await admin.llen(outbox);
            if (left > 0) {
              const { setup } = require(ourLibPath(ctx)) as { setup: (o: unknown) => { worker(o: unknown): { start(): Promise<void>; stop(): Promise<void> }; close(): Promise<void> } };
              const q2 = setup({ redis: redisUrl, prefix: ctx.prefix, retention: 0, sequelize: (p.q as unknown as { sequelize: unknown }).sequelize, mirror: true });
              const w2 = q2.worker({ concurrency: 1, mirror: true });
              await w2.start();
              for (let i = 0; i < 1200 && left > 0; i++) { await sleep(25); left = await admin.llen(outbox); }
              await w2.stop();
              await q2.close();
            }
            const v = N / ((performance.now() - t0) / 1000);
            (rows.runs.ours ??= []).push(v);
            progress(rows, 'ours', v);
          }
          await p.close();
        }
      }
    } catch (e) {
      const why = `mirror case failed: ${(e as Error).message.split('\n')[0]}`;
      for (const x of [off, on, rows]) x.skipped ??= why;
      log(`  ${why}`);
    }
  }

  // Transactional enqueue: what the pending row's INSERT adds to a user's transaction (p50, p99).
  async function txEnqueueCase() {
    const n = quick ? 300 : 2000;
    for (const [dialect, name] of [['mysql', 'MariaDB'], ['postgres', 'PostgreSQL']] as const) {
      const c50 = add({ id: `tx-enqueue-${dialect}-p50`, label: `transaction + enqueue on ${name}: added by the pending row, p50 (ours)`, unit: 'ms', better: 'lower', runs: {} });
      const c99 = add({ id: `tx-enqueue-${dialect}-p99`, label: `transaction + enqueue on ${name}: added by the pending row, p99 (ours)`, unit: 'ms', better: 'lower', runs: {} });
      try {
        const bases: string[] = [];
        for (let r = 0; r < R; r++) {
          await flush();
          const a = added(await txEnqueueSamples(ourLibPath({ redisUrl, prefix: '', queue: '', libPath: o.libPath }), redisUrl, `sabtx${process.pid}x${++seq}`, dialect, n));
          (c50.runs.ours ??= []).push(a.p50);
          (c99.runs.ours ??= []).push(a.p99);
          progress(c50, 'ours', a.p50);
          progress(c99, 'ours', a.p99);
          bases.push(`${a.base50.toFixed(2)}/${a.base99.toFixed(2)}`);
        }
        c50.note = `${n} transactions (INSERT a row, queue a task, COMMIT, push) with and without the pending row, interleaved; without it p50/p99 ${bases.join(', ')} ms`;
      } catch (e) {
        for (const x of [c50, c99]) x.skipped = `tx-enqueue case failed: ${(e as Error).message.split('\n')[0]}`;
        log(`  ${c50.skipped}`);
      }
    }
  }

  // The metrics the scripts record (setup metrics, default on) against none, at concurrency 50.
  async function metricsCase() {
    const off = add({ id: 'metrics-off', label: 'process c=50, metrics: false (ours)', unit: 'jobs/s', better: 'higher', runs: {} });
    const on = add({ id: 'metrics-on', label: 'process c=50, metrics recorded (ours, the default)', unit: 'jobs/s', better: 'higher', runs: {} });
    for (let r = 0; r < R; r++) {
      for (const metrics of r % 2 ? [true, false] : [false, true]) {
        await flush();
        const ctx = ctxFor({ metrics });
        const p = await ADAPTERS.ours.producer(ctx);
        await p.bulk(N, 1000);
        await p.close();
        const v = N / ((await timeProcessing('ours', ctx, 50, N)) / 1000);
        (metrics ? on : off).runs.ours = [...((metrics ? on : off).runs.ours ?? []), v];
        progress(metrics ? on : off, 'ours', v);
      }
    }
  }

  // Flow control costs the claim script a few commands (the flow hash, the rate log, the running
  // count): c=50 with a limit set that never binds, against none, runs alternating.
  async function flowCase() {
    const none = add({ id: 'flow-unlimited', label: 'process c=50, no limit (ours)', unit: 'jobs/s', better: 'higher', runs: {} });
    const lim = add({ id: 'flow-limited', label: 'process c=50, non-binding rate + concurrency limit set (ours)', unit: 'jobs/s', better: 'higher', runs: {} });
    for (let r = 0; r < R; r++) {
      for (const limited of r % 2 ? [true, false] : [false, true]) {
        await flush();
        const ctx = ctxFor();
        const p = await ADAPTERS.ours.producer(ctx);
        const q = p.q as unknown as { limit?(queue: string, l: unknown): Promise<void> };
        if (limited) {
          if (!q.limit) { lim.skipped = 'queue.limit (issue 14) is not in this lib'; break; }
          await q.limit('default', { rate: { max: 10_000_000, duration: 1000 }, concurrency: 100_000 });
        }
        await p.bulk(N, 1000);
        await p.close();
        const v = N / ((await timeProcessing('ours', ctx, 50, N)) / 1000);
        const c = limited ? lim : none;
        (c.runs.ours ??= []).push(v);
        progress(c, 'ours', v);
      }
    }
  }

  async function redisCpu(): Promise<number> {
    const i = await admin.info('cpu');
    return Number(/used_cpu_user:([\d.]+)/.exec(i)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(i)![1]);
  }


  async function depthCase() {
    const [small, big] = depths;
    const M = Math.min(N, 20000);
    const lo = add({ id: 'claim-depth-small', label: `claim throughput, ${small.toLocaleString('en')} waiting (ours, c=50)`, unit: 'jobs/s', better: 'higher', runs: {},
      note: '16 priorities, +10% scheduled an hour ahead; finished jobs are replaced in batches of 500 so the depth holds; each case starts once Redis has finished rehashing its keyspace (MEMORY STATS; see BENCHMARKS notes)' });
    const hi = add({ id: 'claim-depth-big', label: `claim throughput, ${big.toLocaleString('en')} waiting (ours, c=50)`, unit: 'jobs/s', better: 'higher', runs: {} });
    // The control: the small depth in a Redis as full as the big case's (the big case's tasks sit
    // in another queue, never claimed). It tells the queue's depth from the server's size.
    const ctl = add({ id: 'claim-depth-control', label: `claim throughput, ${small.toLocaleString('en')} waiting, ${Math.round(big * 1.1).toLocaleString('en')} more tasks in another queue (ours, c=50)`, unit: 'jobs/s', better: 'higher', runs: {} });
    Object.assign(lo, { depth: small });
    Object.assign(hi, { depth: big });
    Object.assign(ctl, { depth: small });
    for (const [c, depth, elsewhere] of [[lo, small, 0], [hi, big, 0], [ctl, small, big]] as const) {
      await flush();
      const ctx = ctxFor();
      const p = await ADAPTERS.ours.producer(ctx);
      const t0 = performance.now();
      let stored = 0;
      if (elsewhere > 0) {
        const other = { ...ctx, queue: 'other' };
        const po = await ADAPTERS.ours.producer(other);
        stored += await fillOurs(other, po.q, elsewhere);
        await po.close();
      }
      stored += await fillOurs(ctx, p.q, depth);
      log(`  claim-depth        filled ${depth.toLocaleString('en')} (+10% scheduled${elsewhere ? `, +${Math.round(elsewhere * 1.1).toLocaleString('en')} in another queue` : ''}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      // Past each power of two of keys Redis doubles its keyspace table and rehashes it
      // incrementally (~40 s for 1.1M keys here); meanwhile every key lookup costs more. That
      // transient is Redis's, not the queue's: measure the steady state after it.
      const waited = await waitForRehash(admin, db, SETTLE_MS);
      if (waited > 1000) log(`  claim-depth        waited ${(waited / 1000).toFixed(0)} s for Redis to finish rehashing its keyspace`);
      for (let r = 0; r < R; r++) {
        let cpu0 = 0, cpuUs = 0;
        const ms = await drainHoldingDepth('ours', ctx, 50, M, (k) => storeSpecs(p.q, ourSpecs(ctx, k, { priorities: true })), {
          started: async () => { cpu0 = await redisCpu(); },
          // Redis CPU per task (top-ups included): what the depth costs the server itself.
          ended: async () => { cpuUs = ((await redisCpu()) - cpu0) * 1e6 / M; },
        });
        const v = M / (ms / 1000);
        ((c as CaseResult & { redisUs?: number[] }).redisUs ??= []).push(cpuUs);
        (c.runs.ours ??= []).push(v);
        progress(c, 'ours', v);
      }
      await p.close();
    }
    const us = (c: CaseResult) => median((c as CaseResult & { redisUs?: number[] }).redisUs ?? []).toFixed(0);
    lo.note += `; Redis CPU per task (whole server, top-ups included): ${us(lo)} µs at ${small.toLocaleString('en')}, ${us(hi)} µs at ${big.toLocaleString('en')}, ${us(ctl)} µs at ${small.toLocaleString('en')} beside ${Math.round(big * 1.1).toLocaleString('en')} others`;
    const m = (c: CaseResult) => median(c.runs.ours ?? []);
    if (m(ctl) > 0) ctl.note = `the control for the depth: the ${big.toLocaleString('en')}-deep case runs at ${(m(hi) / m(ctl)).toFixed(2)}× this one, in a Redis of the same size (see BENCHMARKS notes)`;
  }

  const seconds = (Date.now() - started) / 1000;
  const targets = evaluate(results);
  const report: BenchReport = {
    machine, n: N, runs: R, cases: results, targets,
    // The options that shape the figures, as given (not --out/--no-write/--json).
    command: `npm run bench${(() => { const a = [quick && '--quick', o.n && `--n ${o.n}`, o.runs && `--runs ${o.runs}`, o.cases && `--cases ${o.cases.join(',')}`].filter(Boolean); return a.length ? ` -- ${a.join(' ')}` : ''; })()}`,
    table: renderTable(results), targetTable: renderTargets(targets),
    startedAt: new Date(started).toISOString(), seconds, load: { before: loadBefore, after: loadavg() },
  };
  return report;
}

// ------------------------------------------------------------ rendering

function cell(c: CaseResult, lib: LibName): string {
  const xs = c.runs[lib];
  if (!xs || xs.length === 0) return c.skipped && lib === 'ours' ? 'skipped' : '–';
  const u = c.unit === 'jobs/s' || c.unit === 'rows/s' ? '' : ` ${c.unit}`;
  const m = fmt(median(xs), u);
  if (xs.length < 2) return m;
  return `${m} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
}

/** Ratio of ours to a peer, oriented so that > 1 means ours is better. */
function better(c: CaseResult, peer: LibName): string {
  const a = median(c.runs.ours ?? []), b = median(c.runs[peer] ?? []);
  return c.better === 'higher' ? ratio(a, b) : ratio(b, a);
}

export function renderTable(cases: CaseResult[]): string {
  const lines = [
    `| case (unit) | ${LIBS.map((l) => LABEL[l]).join(' | ')} | ours vs BullMQ | ours vs Bee-Queue |`,
    `|---|${LIBS.map(() => '---:').join('|')}|---:|---:|`,
  ];
  for (const c of cases) {
    const unit = c.unit;
    lines.push(`| ${c.label} (${unit}) | ${LIBS.map((l) => cell(c, l)).join(' | ')} | ${better(c, 'bullmq')} | ${better(c, 'bee')} |`);
  }
  const notes = cases.filter((c) => c.skipped || c.note).map((c) => `- ${c.label}: ${c.skipped ? `skipped — ${c.skipped}` : c.note}`);
  return lines.join('\n') + '\n\nEach cell: median (min–max) over the runs. Ratios compare medians and are > 1× when ours is better (faster, lower latency, fewer bytes).'
    + (notes.length ? '\n' + notes.join('\n') : '');
}

function evaluate(cases: CaseResult[]): TargetResult[] {
  const get = (id: string, lib: LibName) => median(cases.find((c) => c.id === id)?.runs[lib] ?? []);
  const out: TargetResult[] = [];
  const vs = (what: string, id: string, peer: LibName, min: number) => {
    const r = get(id, 'ours') / get(id, peer);
    out.push({ what, wanted: `≥ ${min}× ${LABEL[peer]}`, got: Number.isFinite(r) ? `${r.toFixed(2)}×` : 'not measured', met: Number.isFinite(r) ? r >= min : null });
  };
  vs('process c=1', 'process-c1', 'bullmq', 2);
  vs('process c=1, worker in 2nd process', 'process-c1-child', 'bullmq', 2);

  vs('process c=50', 'process-c50', 'bullmq', 1.5);
  vs('process c=50', 'process-c50', 'bee', 1.2);
  vs('process c=50, worker in 2nd process', 'process-c50-child', 'bullmq', 1.5);
  vs('process c=50, worker in 2nd process', 'process-c50-child', 'bee', 1.2);
  vs('enqueue one by one', 'enqueue-one', 'bee', 1);
  vs('enqueue bulk', 'enqueue-bulk', 'bee', 1);
  const rel = (what: string, a: string, b: string, min: number, wanted: string) => {
    const r = get(a, 'ours') / get(b, 'ours');
    out.push({ what, wanted, got: Number.isFinite(r) ? `${r.toFixed(2)}×` : 'not measured', met: Number.isFinite(r) ? r >= min : null });
  };
  rel('mirror on vs off', 'mirror-on', 'mirror-off', 0.8, '≥ 0.8× off');
  rel('process c=50, non-binding limit vs none', 'flow-limited', 'flow-unlimited', 0.95, '≥ 0.95× without');
  rel('metrics recorded vs metrics: false (c=50)', 'metrics-on', 'metrics-off', 0.95, '≥ 0.95× off');
  const d = cases.find((c) => c.id === 'claim-depth-big') as (CaseResult & { depth?: number }) | undefined;
  rel(`claim at ${d?.depth?.toLocaleString('en') ?? 'big'} vs ${(cases.find((c) => c.id === 'claim-depth-small') as { depth?: number } | undefined)?.depth?.toLocaleString('en') ?? 'small'} waiting`, 'claim-depth-big', 'claim-depth-small', 0.9, '≥ 0.9×');
  // Beside it, the depth alone: against the control (as many tasks in Redis, in another queue).
  const ctl = get('claim-depth-big', 'ours') / get('claim-depth-control', 'ours');
  if (Number.isFinite(ctl)) out[out.length - 1].got += ` (${ctl.toFixed(2)}× against the control with as many tasks in Redis)`;
  const p99 = get('idle-pickup-p99', 'ours');
  out.push({ what: 'idle pickup p99', wanted: '≤ 5 ms', got: Number.isFinite(p99) ? `${p99.toFixed(2)} ms` : 'not measured', met: Number.isFinite(p99) ? p99 <= 5 : null });
  const b = get('bytes', 'ours'), bb = get('bytes', 'bullmq');
  out.push({ what: 'Redis bytes per queued job', wanted: '≤ BullMQ', got: Number.isFinite(b / bb) ? `${b.toFixed(0)} B vs ${bb.toFixed(0)} B` : 'not measured', met: Number.isFinite(b / bb) ? b <= bb : null });
  return out;
}

export function renderTargets(ts: TargetResult[]): string {
  return ['| target | wanted | measured | |', '|---|---|---|---|',
    ...ts.map((t) => `| ${t.what} | ${t.wanted} | ${t.got} | ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'} |`)].join('\n');
}

const NOTES_MARK = '<!-- notes below are kept when the benchmark rewrites this file -->';

export function renderMarkdown(r: BenchReport, previous?: string): string {
  const kept = previous && previous.includes(NOTES_MARK) ? previous.slice(previous.indexOf(NOTES_MARK) + NOTES_MARK.length) : '\n';
  return `# Benchmarks

sequelize-async against BullMQ 6.7 and Bee-Queue 2.0, measured in the same run on the same Redis
database (flushed between cases), no-op jobs, same payload, N = ${r.n.toLocaleString('en')} jobs per case,
${r.runs} runs per case (library order rotated between runs), results discarded by every library.

- Machine: ${r.machine}
- Command: \`${r.command}\`
- Run: ${r.startedAt}, ${r.seconds.toFixed(0)} s; load average before ${r.load.before.map((x) => x.toFixed(2)).join(' ')}, after ${r.load.after.map((x) => x.toFixed(2)).join(' ')}

${r.table}

## Targets

${r.targetTable}

${NOTES_MARK}${kept}`;
}

// ------------------------------------------------------------ CLI

if (require.main === module) {
  const argv = minimist(process.argv.slice(2), { boolean: ['quick', 'write'], string: ['lib', 'libs', 'cases', 'out', 'redis', 'json'], default: { write: true } });
  const opts: BenchOptions = {
    quick: argv.quick, n: argv.n, runs: argv.runs, db: argv.db, redis: argv.redis, libPath: argv.lib,
    samples: argv.samples, libs: argv.libs ? String(argv.libs).split(',') as LibName[] : undefined, cases: argv.cases ? String(argv.cases).split(',').flatMap((c) => CASE_IDS.filter((id) => id === c || id.startsWith(c))) : undefined,
  };
  if (argv.depths) opts.depths = String(argv.depths).split(',').map(Number) as [number, number];
  runBench(opts).then((r) => {
    console.log(`\n${r.machine}\n\n${r.table}\n\n${r.targetTable}\n\n(${r.seconds.toFixed(0)} s)`);
    if (argv.json !== undefined) writeFileSync(argv.json || 'bench.json', JSON.stringify(r, null, 2));
    // Every case at full N on the default Redis (more runs allowed: the command line records them).
    const full = !argv.quick && !argv.n && !argv.cases && !argv.lib && !argv.libs && !argv.depths && !argv.redis;
    const out = argv.out ?? (full && argv.write ? 'BENCHMARKS.md' : undefined);
    if (out) {
      const path = resolve(out);
      writeFileSync(path, renderMarkdown(r, existsSync(path) ? readFileSync(path, 'utf8') : undefined));
      console.log(`wrote ${out}`);
    }
    process.exit(0);
  }, (e) => { console.error(e); process.exit(1); });
}
