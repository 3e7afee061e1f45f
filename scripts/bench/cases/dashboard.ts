// The dashboard and /metrics at scale: with n tasks in Redis (queued and scheduled, stored in bulk,
// plus a recent history a real worker ran) and n rows in the SQL mirror (MariaDB, bulk INSERTs),
// the time the handler takes to answer, per page, p50 and p99 over ~30 requests after a warm-up.
// Measured at n and n/10 to show what grows with the number of tasks. Its own database
// (sa_bench_dash) and the bench's Redis database; both emptied at the end.
/* eslint-disable @typescript-eslint/no-require-imports */
import http from 'http';
import type { AddressInfo } from 'net';
import { resolve } from 'path';
import { ADAPTERS, fillOurs, loadOurs, ourLibPath, waitForRehash } from '../libs';
import { fillHistory, runRecent, databaseBytes, KINDS, HistoryCounts } from '../dash-fill';
import { median, percentile } from '../stats';
import type { BenchCase, BenchEnv, CaseResult } from '../env';

const DATABASE = 'sa_bench_dash';
const TABLE = 'async_tasks';
/** The recent history in Redis at the full size (finished tasks kept for the retention time). */
const RECENT = 20000;
const TARGET_MS = 100;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
interface DashQueue {
  dashboard(o?: unknown): Handler;
  migrate(): Promise<unknown>;
  close(): Promise<void>;
}

/** What is measured: a page of one of the dashboards. */
interface Probe { key: string; what: string; server: 'on' | 'cold' | 'warm' | 'off'; path: (t: Targets) => string; rows?: boolean }
interface Targets { failedSql: number; failedRedis: number }

const FILTER = `state=failed&action=${KINDS[0][1]}`;
const PROBES: Probe[] = [
  { key: 'overview', what: 'overview (totals from the metrics in Redis, the default)', server: 'on', path: () => '/' },
  { key: 'overview-sql-cold', what: 'overview, totals from SQL, cache cold (COUNT per request)', server: 'cold', path: () => '/' },
  { key: 'overview-sql-warm', what: 'overview, totals from SQL, cached (5 s)', server: 'warm', path: () => '/' },
  { key: 'failed-action', what: 'failed tasks filtered by action, page 1 (SQL)', server: 'on', path: () => `/tasks?${FILTER}`, rows: true },
  { key: 'failed-error', what: 'failed tasks filtered by action and error text, page 1 (SQL)', server: 'on', path: () => `/tasks?${FILTER}&error=declined`, rows: true },
  { key: 'failed-error-none', what: 'failed tasks filtered by action and a word no task has (SQL)', server: 'on', path: () => `/tasks?${FILTER}&error=zebra`, rows: true },
  { key: 'task', what: 'one failed task\'s page (its SQL row)', server: 'on', path: (t) => `/tasks/${t.failedSql}` },
  { key: 'metrics', what: 'GET /metrics (Prometheus text)', server: 'on', path: () => '/metrics' },
  { key: 'off-overview', what: 'overview, mirror off', server: 'off', path: () => '/' },
  { key: 'off-failed-error', what: 'failed tasks filtered by action and error text, page 1, mirror off (Redis)', server: 'off', path: () => `/tasks?${FILTER}&error=declined`, rows: true },
  { key: 'off-task', what: 'one failed task\'s page, mirror off (its Redis hash)', server: 'off', path: (t) => `/tasks/${t.failedRedis}` },
];

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One GET on loopback: ms from sending the request to the last byte of the answer. */
function timedGet(port: number, path: string): Promise<{ ms: number; body: string }> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - t0;
        const body = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) fail(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 300)}`));
        else done({ ms, body });
      });
    }).on('error', fail);
  });
}

async function listen(h: Handler): Promise<http.Server> {
  const s = http.createServer(h);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return s;
}

interface Sized { n: number; p50: Map<string, number[]>; p99: Map<string, number[]>; rows: Map<string, number>; fill: string; memory: string; pool: string }

let measuredAt = 0;
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export const dashboardCase: BenchCase = {
  id: 'dashboard',
  async run(env) {
    const big = env.quick ? Math.min(20000, 20 * env.N) : 1_000_000;
    const sizes = [Math.round(big / 10), big];
    const requests = env.N < 1000 ? 5 : 30;
    const warmup = env.N < 1000 ? 2 : 5;
    const recent = Math.max(100, Math.min(RECENT, Math.round(big / 50)));
    measuredAt = big;
    const at = big >= 1e6 ? `${big / 1e6}M` : big.toLocaleString('en');
    const rows = new Map<string, [CaseResult, CaseResult]>();
    for (const p of PROBES) {
      rows.set(p.key, [
        env.add({ id: `dashboard-${p.key}-p50`, label: `dashboard at ${at} tasks: ${p.what}, p50`, unit: 'ms', better: 'lower', runs: {} }),
        env.add({ id: `dashboard-${p.key}-p99`, label: `dashboard at ${at} tasks: ${p.what}, p99`, unit: 'ms', better: 'lower', runs: {} }),
      ]);
    }
    const first = rows.get('overview')![0];
    const libDir = ourLibPath({ redisUrl: env.redisUrl, prefix: '', queue: '', libPath: env.libPath });
    let seq: import('sequelize').Sequelize | undefined;
    try {
      seq = await database();
      const done: Sized[] = [];
      for (const n of sizes) done.push(await atSize(env, seq, libDir, n, recent, requests, warmup, n === big ? rows : undefined));
      first.note = note(done, recent, requests, warmup);
    } catch (e) {
      const why = `dashboard case failed: ${(e as Error).message.split('\n')[0]}`;
      for (const c of [...rows.values()].flat()) c.skipped ??= c === first ? why : 'see the first dashboard row';
      env.log(`  ${why}`);
    } finally {
      agent.destroy();
      await env.flush();
      if (seq) { await dropTables(seq, true).catch(() => undefined); await seq.close(); }
    }
  },
  targets(k) {
    const at = measuredAt.toLocaleString('en');
    for (const p of PROBES) {
      const v = k.get(`dashboard-${p.key}-p50`, 'ours');
      k.push({ what: `dashboard p50 at ${at} tasks: ${p.what}`, wanted: `≤ ${TARGET_MS} ms ("tens of milliseconds")`,
        got: Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'not measured', met: Number.isFinite(v) ? v <= TARGET_MS : null });
    }
  },
};

/** The bench's own MariaDB database on the server of DATABASE_URL. */
async function database() {
  const { Sequelize } = require('sequelize') as typeof import('sequelize');
  const u = new URL(process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/test');
  const admin = new Sequelize(u.toString(), { logging: false });
  try { await admin.query(`CREATE DATABASE IF NOT EXISTS \`${DATABASE}\``); } finally { await admin.close(); }
  u.pathname = `/${DATABASE}`;
  return new Sequelize(u.toString(), { logging: false, pool: { max: 5 } });
}

/** The history table; at the end also the table of which prefix writes where (lib/mirror/owner.ts). */
async function dropTables(seq: import('sequelize').Sequelize, all = false) {
  await seq.query(`DROP TABLE IF EXISTS ${TABLE}`);
  if (all) await seq.query('DROP TABLE IF EXISTS sequelize_async_tables');
}

async function atSize(env: BenchEnv, seq: import('sequelize').Sequelize, libDir: string, n: number, recent: number, requests: number, warmup: number,
  rows?: Map<string, [CaseResult, CaseResult]>): Promise<Sized> {
  const size = n.toLocaleString('en');
  await env.flush();
  await dropTables(seq);
  const ctx = env.ctxFor();
  const { setup } = loadOurs(ctx);
  const on = setup({ sequelize: seq, redis: env.redisUrl, prefix: ctx.prefix, mirror: true }) as unknown as DashQueue;
  const off = setup({ redis: env.redisUrl, prefix: ctx.prefix }) as unknown as DashQueue & Parameters<typeof runRecent>[0];
  const servers: http.Server[] = [];
  try {
    // SQL: the table as migrate() makes it, its secondary indexes built after the rows are in
    // (migrate() again adds them), which is quicker than keeping ~10 indexes up to date per row.
    const t0 = performance.now();
    await on.migrate();
    const ix = (await seq.getQueryInterface().showIndex(TABLE)) as { name: string; primary: boolean }[];
    for (const i of ix.filter((x) => !x.primary)) await seq.query(`ALTER TABLE ${TABLE} DROP INDEX \`${i.name}\``);
    const counts: HistoryCounts = await fillHistory(seq, libDir, TABLE, n);
    const t1 = performance.now();
    await on.migrate();
    await seq.query(`ANALYZE TABLE ${TABLE}`);
    const t2 = performance.now();
    const [[sqlSize]] = await seq.query(`SELECT data_length + index_length AS b FROM information_schema.TABLES WHERE table_schema = '${DATABASE}' AND table_name = '${TABLE}'`) as [{ b: number }[], unknown];
    const [[pool]] = await seq.query('SELECT @@innodb_buffer_pool_size AS b').catch(() => [[{ b: NaN }]]) as [{ b: number }[], unknown];
    const [[newest]] = await seq.query(`SELECT MAX(id) AS id FROM ${TABLE} WHERE state = 'failed'`) as [{ id: number | null }[], unknown];
    env.log(`  dashboard          ${size} SQL rows (${counts.succeeded} succeeded, ${counts.failed} failed, ${counts.queued} queued, ${counts.scheduled} scheduled) in ${((t1 - t0) / 1000).toFixed(1)} s, indexes ${((t2 - t1) / 1000).toFixed(1)} s`);

    // Redis: ids after the SQL history's; the recent history run by a worker; then n tasks
    // queued (16 priorities) and scheduled (10% of them, an hour ahead) stored in bulk.
    const { idsKey } = require(resolve(libDir, 'keys')) as { idsKey(p: string): string };
    await env.admin.set(idsKey(ctx.prefix), String(n));
    const t3 = performance.now();
    const failedRedis = await runRecent(off, recent, n);
    const t4 = performance.now();
    const p = await ADAPTERS.ours.producer(ctx);
    const stored = await fillOurs(ctx, p.q, Math.round(n / 1.1));
    await p.close();
    const t5 = performance.now();
    const waited = await waitForRehash(env.admin, env.db, 2000, 60000);
    const mem = await databaseBytes(env.admin);
    env.log(`  dashboard          ${recent.toLocaleString('en')} tasks run in ${((t4 - t3) / 1000).toFixed(1)} s, ${stored.toLocaleString('en')} stored in Redis in ${((t5 - t4) / 1000).toFixed(1)} s; Redis db ${(mem.bytes / 1e6).toFixed(0)} MB in ${mem.keys.toLocaleString('en')} keys${waited > 1000 ? `, waited ${(waited / 1000).toFixed(0)} s for the rehash` : ''}`);

    const { SqlMetricsSource } = require(resolve(libDir, 'web', 'metrics-source')) as { SqlMetricsSource: new (s: unknown, t?: string, cacheMs?: number) => unknown };
    const handlers: Record<Probe['server'], Handler> = {
      on: on.dashboard(),
      cold: on.dashboard({ metrics: new SqlMetricsSource(seq, TABLE, 0) }),
      warm: on.dashboard({ metrics: new SqlMetricsSource(seq, TABLE) }),
      off: off.dashboard(),
    };
    const ports = {} as Record<Probe['server'], number>;
    for (const k of Object.keys(handlers) as Probe['server'][]) {
      const s = await listen(handlers[k]);
      servers.push(s);
      ports[k] = (s.address() as AddressInfo).port;
    }
    const targets: Targets = { failedSql: Number(newest?.id ?? 1), failedRedis };
    const out: Sized = { n, p50: new Map(), p99: new Map(), rows: new Map(), pool: `${(Number(pool?.b) / 2 ** 20).toFixed(0)} MB`, memory: `${(mem.bytes / 1e6).toFixed(0)} MB in Redis (${(mem.bytes / mem.keys).toFixed(0)} B a key), ${(Number(sqlSize?.b ?? 0) / 1e6).toFixed(0)} MB in SQL`,
      fill: `${sec(t2 - t0)} SQL (rows ${sec(t1 - t0)} + indexes ${sec(t2 - t1)}), ${sec(t5 - t3)} Redis (${recent.toLocaleString('en')} run by a worker ${sec(t4 - t3)} + ${stored.toLocaleString('en')} stored ${sec(t5 - t4)})` };
    for (let r = 0; r < env.R; r++) {
      for (const probe of PROBES) {
        const path = probe.path(targets);
        for (let i = 0; i < warmup; i++) await timedGet(ports[probe.server], path);
        const ms: number[] = [];
        let body = '';
        for (let i = 0; i < requests; i++) {
          const got = await timedGet(ports[probe.server], path);
          ms.push(got.ms);
          body = got.body;
        }
        if (probe.rows) out.rows.set(probe.key, (body.match(/<tr class="state-/g) ?? []).length);
        const [p50, p99] = [percentile(ms, 50), percentile(ms, 99)];
        (out.p50.get(probe.key) ?? out.p50.set(probe.key, []).get(probe.key)!).push(p50);
        (out.p99.get(probe.key) ?? out.p99.set(probe.key, []).get(probe.key)!).push(p99);
        const row = rows?.get(probe.key);
        if (row) { env.record(row[0], 'ours', p50); env.record(row[1], 'ours', p99); }
        else env.log(`  dash ${size.padStart(9)}   ${probe.key.padEnd(18)} p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
      }
    }
    return out;
  } finally {
    for (const s of servers) { s.closeAllConnections(); await new Promise((r) => s.close(r)); }
    await on.close();
    await off.close();
  }
}

/** The case's note: how, the fill, memory, each page's p50 at both sizes, and why some grow. */
function note(done: Sized[], recent: number, requests: number, warmup: number): string {
  const [small, big] = done;
  const m = (s: Sized, k: string) => median(s.p50.get(k) ?? []);
  const growth = PROBES.map((p) => `${p.key} ${m(small, p.key).toFixed(1)} → ${m(big, p.key).toFixed(1)} ms (${(m(big, p.key) / m(small, p.key)).toFixed(1)}×)`).join(', ');
  const listed = [...big.rows].map(([k, v]) => `${k} ${v}`).join(', ');
  return `server time: a GET on loopback from the same process (keep-alive), request sent to last byte read, ${requests} requests per run after ${warmup} warm-up (so p99 is about the slowest); `
    + `n tasks in Redis (91% queued over 16 priorities, 9% scheduled, stored in bulk, plus ${recent.toLocaleString('en')} finished tasks a worker ran, 5% failed) and n rows in MariaDB `
    + `(the migrated async_tasks, bulk INSERTs of 5,000, indexes built after: 90% succeeded, 5% failed with 96 error texts, 5% queued or scheduled); `
    + `fill at ${big.n.toLocaleString('en')}: ${big.fill}; ${big.memory}, InnoDB buffer pool ${big.pool}; at ${small.n.toLocaleString('en')}: ${small.memory}. `
    + `p50 at ${small.n.toLocaleString('en')} → ${big.n.toLocaleString('en')}: ${growth}. Rows on the filtered pages: ${listed}. `
    + 'Does not grow with n: the overview\'s counts (ZCARD/LLEN per priority level; succeeded and failed from the metrics\' bounded hashes, or from the SQL totals cache), '
    + 'a list filtered by state and action (a backward range of the (state, id) index until the page is full), a task\'s page (primary-key reads), /metrics (bounded rings and ZCARDs). '
    + 'Grows with n: the SQL totals when counted (COUNT per queue and state over the (queue, state, id) index, every finished row; at most once per 5 s). '
    + 'The error-text search (lib/web/sql-search.ts) checks the words on the newest 2,000 rows of the index its other filters narrow to (here (state, id)), where a common word fills '
    + 'the page; a rare one then goes to the FULLTEXT index (every row holding the word, read from the table: quick only for rare words, so under a 50 ms limit), else the walk goes on. '
    + 'Without the mirror a filtered list walks the finished tasks newest first, 2,000 per search.lua call, state/type/action/object id checked inside Redis and only the matches\' errors '
    + 'sent back, until the page is full or 20,000 looked at: it grows with how rare the matches are (here 1 in ~1,000 finished tasks: every one looked at), not with n.';
}
