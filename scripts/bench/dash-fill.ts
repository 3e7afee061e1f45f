// The dashboard case's data: a history table of n rows written straight into SQL (multi-row
// INSERTs of 5,000, the columns the mirror writes, rows rendered by the mirror's own rowFromHash
// from a few dozen templates), and the Redis side (see cases/dashboard.ts). Reproducible: the
// mix comes from a seeded generator, so the same n gives the same rows.
/* eslint-disable @typescript-eslint/no-require-imports */
import { resolve } from 'path';

/** What each task kind of the history is (the first one's failures are the filter's target). */
export const KINDS: [string, string, unknown[], unknown][] = [
  ['Invoice', 'charge', [{ amount: 1299, currency: 'EUR' }], { charged: 1299 }],
  ['Order', 'sendConfirmationEmail', [{ to: 'ann@example.com' }], 'sent to ann@example.com'],
  ['User', 'syncToCrm', [{ fields: ['email', 'name'] }], { synced: 2 }],
  ['Report', 'generate', [{ month: '2026-11', format: 'pdf' }], { pages: 14 }],
  ['Image', 'resize', [{ width: 640, height: 480 }], { bytes: 48213 }],
  ['Webhook', 'deliver', [{ url: 'https://hooks.example.com/in' }], { status: 200 }],
];

/** Error texts of the failed rows: 8 kinds × 12 variants; `declined` is what the filter looks for. */
export function errorText(kind: number, v: number): { name: string; message: string } {
  switch (kind % 8) {
    case 0: return { name: 'CardError', message: `card declined: insufficient funds (code ${51 + v})` };
    case 1: return { name: 'Error', message: `connect ECONNREFUSED 10.0.${v}.7:5432` };
    case 2: return { name: 'Error', message: 'read ECONNRESET: connection reset by peer' };
    case 3: return { name: 'TimeoutError', message: `timed out after ${(v + 1) * 5000} ms waiting for api.example.com` };
    case 4: return { name: 'ValidationError', message: `validation failed: email user${v}@example is invalid` };
    case 5: return { name: 'HttpError', message: `rate limited by upstream (429), retry after ${v + 1} s` };
    case 6: return { name: 'SequelizeDatabaseError', message: 'Deadlock found when trying to get lock; try restarting transaction' };
    default: return { name: 'Error', message: `ENOENT: no such file or directory, open '/var/data/img-${v}.png'` };
  }
}
export const ERROR_KINDS = 8;
export const ERROR_VARIANTS = 12;

/** mulberry32: a small seeded generator, so a fill is the same every time. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HistoryCounts { succeeded: number; failed: number; queued: number; scheduled: number }

interface Seq {
  query(sql: string, o?: unknown): Promise<unknown>;
  escape(v: unknown): string;
  getDialect?(): string;
}

type Row = Record<string, unknown>;
const DAY = 86400000;
const BATCH = 5000;
// Rows past this share of the ids are the not yet finished tasks (queued or scheduled); the
// finished ones before them are ~94.7% succeeded and ~5.3% failed (90% and 5% of all rows).
const UNFINISHED_FROM = 0.95;
const FAILED_SHARE = 0.05 / UNFINISHED_FROM;

/**
 * Writes rows 1..n into `table` (it exists, empty, with the mirror's columns): succeeded and
 * failed tasks of the last 7 days, oldest first, then queued and scheduled ones. Returns the
 * counts per state.
 */
export async function fillHistory(seq: Seq, libDir: string, table: string, n: number, queue = 'default'): Promise<HistoryCounts> {
  const { rowFromHash, COLUMNS } = require(resolve(libDir, 'mirror', 'rows')) as { rowFromHash: (q: string, id: number, h: Record<string, unknown>) => Row; COLUMNS: readonly string[] };
  const { encode, encodeArgs, encodeError } = require(resolve(libDir, 'codec')) as { encode(v: unknown): Buffer; encodeArgs(v: unknown): Buffer; encodeError(e: unknown): Buffer };
  // PostgreSQL: bytea in hex escape form, booleans as such (X'..' is a bit string there).
  const pg = seq.getDialect?.() === 'postgres';
  const lit = (v: unknown): string => {
    if (v === null || v === undefined) return 'NULL';
    if (Buffer.isBuffer(v)) return pg ? `'\\x${v.toString('hex')}'::bytea` : `X'${v.toString('hex')}'`;
    if (typeof v === 'boolean') return pg ? String(v) : v ? '1' : '0';
    if (typeof v === 'number') return String(v);
    return seq.escape(String(v));
  };
  // A template per kind and state (per error text for failures), rendered once as SQL literals
  // around the columns each row fills in itself (its id, object id and times).
  const PER_ROW = ['id', 'object_id', 'scheduled_at', 'started_at', 'finished_at', 'created_at', 'first_scheduled_at'];
  const slots = COLUMNS.filter((c) => PER_ROW.includes(c));
  const template = (kind: number, state: string, err?: { name: string; message: string }): string[] => {
    const [type, action, args, result] = KINDS[kind];
    const h: Record<string, unknown> = { type, action, args: encodeArgs(args), priority: '10', state, attempts: state === 'queued' || state === 'scheduled' ? '0' : '1' };
    if (state === 'succeeded') Object.assign(h, { success: '1', result: encode(result), worker: 'web-1.example:4242:1' });
    if (err) {
      const e = Object.assign(new Error(err.message), { name: err.name });
      e.stack = `${err.name}: ${err.message}\n    at ${type}.${action} (/srv/app/models/${type.toLowerCase()}.js:${40 + kind}:11)\n    at perform (/srv/app/node_modules/sequelize-async/lib/perform.js:88:20)\n    at async Worker.run (/srv/app/node_modules/sequelize-async/lib/worker/worker.js:212:7)`;
      Object.assign(h, { success: '0', error: encodeError(e), worker: 'web-2.example:4243:3' });
    }
    const row = rowFromHash(queue, 1, h);
    // parts[k]: the literals (and commas) before slot k; the last one: those after the last slot.
    const parts: string[] = [];
    let cur = '';
    COLUMNS.forEach((c, i) => {
      const sep = i === 0 ? '' : ',';
      if (PER_ROW.includes(c)) { parts.push(cur + sep); cur = ''; } else cur += sep + lit(row[c]);
    });
    parts.push(cur);
    return parts;
  };
  const succeeded = KINDS.map((_, k) => template(k, 'succeeded'));
  const queued = KINDS.map((_, k) => template(k, 'queued'));
  const scheduled = KINDS.map((_, k) => template(k, 'scheduled'));
  const failed: string[][][] = KINDS.map((_, k) => Array.from({ length: ERROR_KINDS * ERROR_VARIANTS }, (__, e) => template(k, 'failed', errorText(e % ERROR_KINDS, Math.floor(e / ERROR_KINDS)))));

  const rand = seeded(n);
  const now = Date.now();
  const from = now - 7 * DAY;
  const step = (7 * DAY) / n;
  const date = (ms: number) => `'${new Date(ms).toISOString().slice(0, 23).replace('T', ' ')}'`;
  const counts: HistoryCounts = { succeeded: 0, failed: 0, queued: 0, scheduled: 0 };
  const head = `INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES `;
  const unfinished = Math.floor(n * UNFINISHED_FROM);

  const batch = (lo: number, hi: number): string => {
    const values: string[] = [];
    for (let id = lo; id <= hi; id++) {
      const kind = Math.floor(rand() * KINDS.length);
      const created = Math.floor(from + id * step);
      const objectId = `'${1 + Math.floor(rand() * 100000)}'`;
      let t: string[];
      let sched = created, started: number | null = null, finished: number | null = null;
      if (id > unfinished) {
        if (rand() < 0.5) { t = queued[kind]; counts.queued++; } else { t = scheduled[kind]; sched = now + Math.floor(rand() * DAY); counts.scheduled++; }
      } else {
        started = sched + 2 + Math.floor(rand() * 50);
        finished = started + 10 + Math.floor(rand() * 400);
        if (rand() < FAILED_SHARE) { t = failed[kind][Math.floor(rand() * failed[kind].length)]; counts.failed++; } else { t = succeeded[kind]; counts.succeeded++; }
      }
      const v: Record<string, string> = { id: String(id), object_id: objectId, scheduled_at: date(sched), first_scheduled_at: date(sched), created_at: date(created),
        started_at: started === null ? 'NULL' : date(started), finished_at: finished === null ? 'NULL' : date(finished) };
      let r = `(${t[0]}`;
      for (let k = 0; k < slots.length; k++) r += v[slots[k]] + t[k + 1];
      values.push(`${r})`);
    }
    return head + values.join(',');
  };

  // The next batch is rendered while the database writes the last one.
  let pending: Promise<unknown> = Promise.resolve();
  for (let lo = 1; lo <= n; lo += BATCH) {
    const sql = batch(lo, Math.min(n, lo + BATCH - 1));
    await pending;
    pending = seq.query(sql);
  }
  await pending;
  return counts;
}

interface RecentQueue {
  register(t: object): unknown;
  bulk(entries: [object, string, unknown][]): Promise<{ id: number }[]>;
  worker(o: unknown): { on(ev: 'task', fn: (e: unknown) => void): unknown; on(ev: 'error', fn: (e: Error) => void): unknown; start(): Promise<void>; stop(o?: unknown): Promise<void> };
}

/**
 * The recent history still in Redis (finished tasks are kept for the retention time): `n` tasks
 * of the kinds above run by a real worker at concurrency 50, ~5% failing with the error texts
 * above, so the scripts record their metrics and the finished ones stay in Redis. Returns the id
 * of the newest failed one of KINDS[0] (the task page's target without the mirror), else of the
 * newest failed one, else of the newest task.
 */
export async function runRecent(q: RecentQueue, n: number, seed: number): Promise<number> {
  type Args = { fail: number | null };
  const objects = KINDS.map(([type, action, , result]) => ({
    name: type,
    [action]: (a: Args) => {
      if (a.fail === null) return result;
      const t = errorText(a.fail % ERROR_KINDS, Math.floor(a.fail / ERROR_KINDS));
      throw Object.assign(new Error(t.message), { name: t.name });
    },
  }));
  for (const o of objects) q.register(o);
  const rand = seeded(seed);
  let newestFailed = 0, anyFailed = 0, newest = 0;
  for (let done = 0; done < n; done += 1000) {
    const plan = Array.from({ length: Math.min(1000, n - done) }, () => {
      const kind = Math.floor(rand() * KINDS.length);
      return { kind, fail: rand() < 0.05 ? Math.floor(rand() * ERROR_KINDS * ERROR_VARIANTS) : null };
    });
    const handles = await q.bulk(plan.map((p) => [objects[p.kind], KINDS[p.kind][1], { args: [{ fail: p.fail }] }]));
    plan.forEach((p, i) => {
      const id = handles[i].id;
      newest = Math.max(newest, id);
      if (p.fail !== null) anyFailed = Math.max(anyFailed, id);
      if (p.fail !== null && p.kind === 0) newestFailed = Math.max(newestFailed, id);
    });
  }
  let finished = 0;
  let all!: () => void;
  const over = new Promise<void>((r) => { all = r; });
  const w = q.worker({ concurrency: 50 });
  w.on('task', () => { if (++finished === n) all(); });
  w.on('error', (e) => console.error(`[dashboard bench worker] ${e.message}`));
  await w.start();
  await over;
  await w.stop({ graceMs: 2000 });
  return newestFailed || anyFailed || newest;
}

interface Admin {
  call(...a: (string | number)[]): Promise<unknown>;
  dbsize(): Promise<number>;
}

/**
 * Bytes the bench's database holds (others share the server, so used_memory would not tell):
 * every key that is not a hash exactly (MEMORY USAGE ... SAMPLES 0; found with SCAN TYPE), the
 * hashes (the tasks) from a sample of 2,000 of them.
 */
export async function databaseBytes(admin: Admin): Promise<{ bytes: number; keys: number }> {
  const keys = await admin.dbsize();
  let other = 0, otherKeys = 0;
  for (const type of ['zset', 'list', 'set', 'string', 'stream']) {
    let cursor = '0';
    do {
      const [next, found] = (await admin.call('SCAN', cursor, 'COUNT', 20000, 'TYPE', type)) as [string, string[]];
      cursor = next;
      for (const k of found) { other += Number(await admin.call('MEMORY', 'USAGE', k, 'SAMPLES', 0)); otherKeys++; }
    } while (cursor !== '0');
  }
  let sampled = 0, sum = 0;
  for (let i = 0; i < 4000 && sampled < 2000 && keys > otherKeys; i++) {
    const k = (await admin.call('RANDOMKEY')) as string | null;
    if (!k || (await admin.call('TYPE', k)) !== 'hash') continue;
    sum += Number(await admin.call('MEMORY', 'USAGE', k, 'SAMPLES', 0));
    sampled++;
  }
  return { bytes: other + (sampled ? (sum / sampled) * (keys - otherKeys) : 0), keys };
}
