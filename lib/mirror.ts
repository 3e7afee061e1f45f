// The MySQL mirror: copies every task's current state from Redis into `async_tasks`.
// Lua scripts append a task id to the queue's outbox (a list) on every change (no MySQL on the
// enqueue or claim path); a mirror loop takes a batch of entries, reads the tasks' CURRENT hashes,
// upserts them by id, and only after MySQL committed drops exactly the entries it took (mirrored.lua).
// Writing the current full state makes replays harmless and lets a late event never regress a
// row. MySQL down: events wait in Redis, the loop retries with backoff, the queue runs on.
import { EventEmitter } from 'events';
import { createHash, randomBytes } from 'crypto';
import { hostname } from 'os';
import type { Redis } from 'ioredis';
import type { Sequelize, Transaction } from 'sequelize';
import { QueryTypes } from 'sequelize';
import type { MirrorOptions } from '../types';
import type { QueueKeys } from './keys';
import type { ScriptName } from './scripts';
import { fieldsFromHash, RawHash, TaskFields } from './task';
import { migration, TABLE, AsyncTaskModel, fieldsFromRow } from './model';

/** What the mirror needs of a queue (Queue satisfies it; kept narrow so mirror.ts does not import queue.ts). */
export interface MirrorHost extends EventEmitter {
  readonly redis: Redis;
  readonly sequelize: Sequelize | undefined;
  readonly mirror: boolean;
  keys(queue: string): QueueKeys;
  script(name: ScriptName, queue: string, argv: (string | number | Buffer)[], binary?: boolean, client?: Redis): Promise<unknown>;
  queueNames(): Promise<string[]>;
  /** True while this process's workers have every slot taken: the mirror then gives way (bounded). */
  workersSaturated?(): boolean;
}

const COLUMNS = ['id', 'queue', 'object_type', 'object_id', 'action', 'args', 'result', 'error_name', 'error_message',
  'backtrace', 'priority', 'state', 'success', 'cancelled', 'attempts', 'worker', 'scheduled_at', 'started_at',
  'finished_at', 'created_at'] as const;
type Row = Record<(typeof COLUMNS)[number], unknown>;

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
// Renewed on every batch; short, so a killed worker's lock holds history back only briefly.
const LOCK_MS = 10000;
const IDLE_MS = 100;
// Behind while this process's workers are saturated (a backlog, every slot busy), the loop pauses
// for up to YIELD_MS, then runs flat out until it has caught up. The mirror writes a task's current
// state and skips the older entries of a final task it wrote, so after a burst most tasks are
// written once, in their final state.
const YIELD_MS = 5000;
const MAX_BACKOFF_MS = 5000;
const CHUNK_BYTES = 1 << 20;
// Task ids per 'read' call: 16 values each stays under Lua's unpack limit (8000).
const READ_CHUNK = 250;
// A value larger than this is not copied (MySQL's max_allowed_packet would refuse the row and
// stall the mirror); the row says so in error_message.
const MAX_BLOB = 4 << 20;
const MAX_TEXT = 1 << 20;
// DATETIME's range.
const MIN_MS = -30610224000000;
const MAX_MS = 253402300799999;

const str = (v: Buffer | string | undefined) => (v === undefined ? undefined : v.toString());
const cut = (s: string | undefined | null, n: number) => (s === undefined || s === null ? null : s.length > n ? s.slice(0, n) : s);
function int(v: Buffer | string | undefined, dflt = 0): number {
  const n = Number(str(v));
  return Number.isFinite(n) ? Math.max(-2147483648, Math.min(2147483647, Math.trunc(n))) : dflt;
}
function date(v: Buffer | string | undefined): Date | null {
  const s = str(v);
  if (s === undefined || s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? new Date(Math.max(MIN_MS, Math.min(MAX_MS, Math.trunc(n)))) : null;
}

/** The task hash fields a row is made of. */
const ROW_FIELDS = ['type', 'object_id', 'action', 'args', 'result', 'error', 'priority', 'state', 'success',
  'cancelled', 'attempts', 'worker', 'scheduled_at', 'started_at', 'finished_at', 'created_at'];

/** The row for a task hash: always the full current state. */
export function rowFromHash(queue: string, id: number, h: RawHash): Row {
  const success = str(h.success) === '1' ? true : str(h.success) === '0' ? false : null;
  const notes: string[] = [];
  const blob = (what: string, v: Buffer | string | undefined) => {
    if (v === undefined || v.length === 0) return null;
    if (v.length > MAX_BLOB) { notes.push(`${what} (${v.length} bytes) too large to mirror`); return null; }
    return Buffer.isBuffer(v) ? v : Buffer.from(v, 'binary');
  };
  const args = blob('args', h.args);
  const result = success === true ? blob('result', h.result) : success === false ? blob('error', h.error) : null;
  // The last failure, decoded by the handle's own code (never throws).
  const err = h.error !== undefined ? fieldsFromHash(queue, { error: h.error }).errors[0] : undefined;
  return {
    id,
    queue,
    object_type: cut(str(h.type) ?? '', 255),
    object_id: cut(str(h.object_id), 255),
    action: cut(str(h.action) ?? '', 255),
    args,
    result,
    error_name: err ? cut(err.name, 255) : null,
    error_message: err || notes.length ? cut([err?.message, ...notes].filter((x) => x !== undefined).join('; '), MAX_TEXT) : null,
    backtrace: err ? cut(err.backtrace.join('\n'), MAX_TEXT) : null,
    priority: int(h.priority),
    state: cut(str(h.state) ?? 'queued', 16),
    success,
    cancelled: str(h.cancelled) === '1',
    attempts: int(h.attempts),
    worker: cut(str(h.worker), 255),
    scheduled_at: date(h.scheduled_at),
    started_at: date(h.started_at),
    finished_at: date(h.finished_at),
    created_at: date(h.created_at),
  };
}

const isMysql = (s: Sequelize) => s.getDialect() === 'mysql' || s.getDialect() === 'mariadb';

// Sequelize's escape formats every date through moment: a large share of the mirror's CPU. On
// MySQL/MariaDB with Sequelize's default UTC timezone the values are escaped here instead
// (strings and blobs by mysql2's own escape); any other setup keeps Sequelize's.
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
function utcDatetime(d: Date): string {
  return `'${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}'`;
}

function escaper(seq: Sequelize): (v: unknown) => string {
  const tz = (seq as unknown as { options: { timezone?: string } }).options.timezone ?? '+00:00';
  if (!isMysql(seq) || (tz !== '+00:00' && tz !== 'Z' && tz !== 'UTC')) return (v) => seq.escape(v as string);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { escape } = require('mysql2') as { escape: (v: unknown) => string };
  return (v) => {
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'NULL';
    if (typeof v === 'boolean') return v ? '1' : '0';
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'NULL' : utcDatetime(v);
    return escape(v);
  };
}

function upsertSql(seq: Sequelize, rows: Row[]): string {
  const q = (n: string) => seq.getQueryInterface().quoteIdentifier(n);
  const cols = COLUMNS.map(q).join(',');
  const esc = escaper(seq);
  const values = rows.map((r) => `(${COLUMNS.map((c) => esc(r[c])).join(',')})`).join(',');
  const rest = COLUMNS.slice(1);
  if (isMysql(seq)) {
    return `INSERT INTO ${q(TABLE)} (${cols}) VALUES ${values} ON DUPLICATE KEY UPDATE ${rest.map((c) => `${q(c)}=VALUES(${q(c)})`).join(',')}`;
  }
  return `INSERT INTO ${q(TABLE)} (${cols}) VALUES ${values} ON CONFLICT (${q('id')}) DO UPDATE SET ${rest.map((c) => `${q(c)}=excluded.${q(c)}`).join(',')}`;
}

const rowBytes = (r: Row) => 600 + 2 * (((r.args as Buffer | null)?.length ?? 0) + ((r.result as Buffer | null)?.length ?? 0)
  + String(r.error_message ?? '').length + String(r.backtrace ?? '').length);

/** Upserts rows by id in statements of about CHUNK_BYTES. */
export async function writeRows(seq: Sequelize, rows: Row[], transaction?: Transaction): Promise<void> {
  let chunk: Row[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length) await seq.query(upsertSql(seq, chunk), { transaction, raw: true });
    chunk = [];
    bytes = 0;
  };
  for (const r of rows) {
    chunk.push(r);
    bytes += rowBytes(r);
    if (bytes >= CHUNK_BYTES) await flush();
  }
  await flush();
}

/**
 * One mirror loop's state. The per-queue Redis lock (mirrored.lua) keeps one loop per queue at
 * work; a MySQL named lock taken before reading the hashes orders the writes of a loop whose
 * Redis lock expired mid-batch (a long MySQL stall) behind the new owner's, so an older state
 * can never be committed after a newer one.
 */
class MirrorLoop {
  readonly token = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  private readonly held = new Set<string>();

  constructor(private readonly host: MirrorHost, private readonly seq: Sequelize, private readonly batch: number) {}

  /** Mirrors one batch of a queue's outbox entries; returns how many it removed (-1: another loop owns the queue). */
  async step(queue: string): Promise<number> {
    const r = (await this.host.script('mirrored', queue, ['take', this.token, LOCK_MS, this.batch])) as string[];
    if (String(r[0]) !== '1') { this.held.delete(queue); return -1; }
    this.held.add(queue);
    const taken = r.length - 1;
    if (taken === 0) return 0;
    // A task changed several times has several entries: its current hash is written once.
    const ids = [...new Set(r.slice(1).map((x) => Number(String(x))))].filter((n) => Number.isSafeInteger(n) && n > 0).sort((a, b) => a - b);
    const finals: string[] = [];
    if (ids.length > 0) {
      await this.withWriteLock(queue, async (transaction) => {
        const hashes = await this.readHashes(queue, ids);
        const rows: Row[] = [];
        hashes.forEach((h, i) => {
          if (!h) return; // gone, not a hash, or already written as it is: nothing to write
          rows.push(rowFromHash(queue, ids[i], h));
          const state = str(h.state) ?? '';
          if (FINAL.has(state)) finals.push(String(ids[i]), str(h.attempts) ?? '', str(h.finished_at) ?? '');
        });
        await writeRows(this.seq, rows, transaction);
      });
    }
    // Entries appended while we wrote (a task changed since we read it) stay for the next pass.
    await this.host.script('mirrored', queue, ['done', this.token, LOCK_MS, taken, ...finals]);
    return taken;
  }

  private async readHashes(queue: string, ids: number[]): Promise<(RawHash | null)[]> {
    const out: (RawHash | null)[] = [];
    // One script call per READ_CHUNK tasks: a pipeline of one HMGET per task cost more in command
    // objects on our side than the reads themselves.
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const chunk = ids.slice(i, i + READ_CHUNK);
      const values = (await this.host.script('mirrored', queue, ['read', ROW_FIELDS.length, ...ROW_FIELDS, ...chunk], true)) as (Buffer | null)[];
      for (let t = 0; t < chunk.length; t++) {
        const h: RawHash = {};
        let any = false;
        for (let f = 0; f < ROW_FIELDS.length; f++) {
          const v = values[t * ROW_FIELDS.length + f];
          if (v !== null && v !== undefined) { h[ROW_FIELDS[f]] = v; any = true; }
        }
        out.push(any ? h : null); // gone before the mirror saw it, or not a hash (the core fails that task itself)
      }
    }
    return out;
  }

  private async withWriteLock(queue: string, fn: (t: Transaction) => Promise<void>): Promise<void> {
    const mysql = isMysql(this.seq);
    const name = `sequelize-async:${createHash('sha1').update(this.host.keys(queue).base).digest('hex')}`;
    await this.seq.transaction(async (t) => {
      if (mysql) {
        const [row] = await this.seq.query<{ l: number | null }>('SELECT GET_LOCK(?, 10) AS l', { replacements: [name], type: QueryTypes.SELECT, transaction: t });
        if (Number(row?.l) !== 1) throw new Error(`mirror: another mirror loop is writing queue ${queue} (MySQL lock ${name} busy)`);
      }
      try {
        await fn(t);
      } finally {
        // Released before COMMIT: the next writer's upserts of the same rows wait on our row locks anyway.
        if (mysql) await this.seq.query('SELECT RELEASE_LOCK(?)', { replacements: [name], type: QueryTypes.SELECT, transaction: t });
      }
    });
  }

  /** One pass over every queue; true when some queue had a full batch (more may be waiting). */
  async pass(): Promise<boolean> {
    let more = false;
    for (const q of await this.host.queueNames()) {
      if ((await this.step(q)) >= this.batch) more = true;
    }
    return more;
  }

  async releaseLocks(): Promise<void> {
    for (const q of this.held) await this.host.script('mirrored', q, ['release', this.token]).catch(() => undefined);
    this.held.clear();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function mirrorSequelize(host: MirrorHost): Sequelize {
  if (!host.sequelize) throw new TypeError('mirror: the queue has no sequelize instance (setup({ sequelize }))');
  return host.sequelize;
}

/**
 * Runs a mirror loop for every queue of `host` until `signal` aborts, then drains what is
 * waiting for up to `drainMs`. Never rejects for MySQL or Redis trouble: it reports through
 * `onError` and retries with backoff (250 ms doubling to 5 s). This is what a standalone
 * `mirror` command should call; workers run the same loop by default.
 */
export async function runMirror(host: MirrorHost, opts: MirrorOptions = {}): Promise<void> {
  const seq = mirrorSequelize(host);
  if (!host.mirror) throw new TypeError('mirror: this queue does not mirror (setup({ mirror: false }))');
  const batch = opts.batch ?? 500;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`mirror: batch must be an integer >= 1 (got ${String(opts.batch)})`);
  const drainMs = opts.drainMs ?? 2000;
  const yieldMs = opts.yieldMs ?? YIELD_MS;
  if (!(yieldMs >= 0)) throw new RangeError(`mirror: yieldMs must be a number of ms >= 0 (got ${String(opts.yieldMs)})`);
  const report = (err: unknown) => { try { opts.onError?.(err instanceof Error ? err : new Error(String(err))); } catch { /* a throwing listener must not stop the mirror */ } };
  const loop = new MirrorLoop(host, seq, batch);
  const signal = opts.signal;
  let backoff = 0;
  let behindSince = 0;
  // lib/scripts.ts defines the Lua commands on a client at its first script call; an
  // auto-pipeline that plain commands opened earlier in the same tick lacks them and breaks
  // ("pipeline[functionName] is not a function"). So let a worker starting with us claim first,
  // and make our own first command a script.
  await new Promise((r) => setImmediate(r));
  await host.script('mirrored', 'default', ['lag']).catch(() => undefined);
  try {
    // Until a pass says otherwise, assume we are behind: workers starting with us that find a
    // backlog get the CPU first (one pass competes with them otherwise).
    let more = true;
    if (host.workersSaturated) await sleep(IDLE_MS, signal);
    while (!signal?.aborted) {
      if (more && !backoff) {
        behindSince ||= Date.now();
        // Behind while workers are saturated: give them the CPU (MySQL's too), within the bound.
        // Once they are not, or the bound is reached, no pause: catch-up runs at full speed.
        while (!signal?.aborted && Date.now() - behindSince < yieldMs && host.workersSaturated?.()) await sleep(50, signal);
        if (signal?.aborted) break;
      }
      try {
        more = await loop.pass();
        backoff = 0;
      } catch (err) {
        report(err);
        backoff = Math.min(Math.max(250, backoff * 2), MAX_BACKOFF_MS);
      }
      if (signal?.aborted) break;
      if (backoff || !more) {
        behindSince = 0;
        await sleep(backoff || IDLE_MS, signal);
      }
    }
    // Stopping: mirror what the last tasks left, while MySQL answers.
    const until = Date.now() + drainMs;
    while (Date.now() < until) {
      try { if (!(await loop.pass())) break; } catch (err) { report(err); break; }
    }
  } finally {
    await loop.releaseLocks();
  }
}

interface Shared { refs: number; ctrl: AbortController; done: Promise<void>; listeners: Set<(e: Error) => void> }
const shared = new WeakMap<MirrorHost, Shared>();

/**
 * For workers: one mirror loop per queue object in this process, however many workers run.
 * Returns the function that gives this worker's share back (the loop stops with the last one).
 */
export function acquireMirror(host: MirrorHost, onError?: (e: Error) => void): () => Promise<void> {
  let s = shared.get(host);
  if (!s) {
    const ctrl = new AbortController();
    const listeners = new Set<(e: Error) => void>();
    const fresh: Shared = { refs: 0, ctrl, listeners, done: Promise.resolve() };
    fresh.done = runMirror(host, { signal: ctrl.signal, onError: (e) => { for (const l of listeners) l(e); } })
      .catch((e) => { for (const l of listeners) l(e as Error); });
    shared.set(host, fresh);
    s = fresh;
  }
  const mine = s;
  mine.refs++;
  const listener = onError ?? (() => undefined);
  mine.listeners.add(listener);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    mine.refs--;
    if (mine.refs > 0) { mine.listeners.delete(listener); return; }
    shared.delete(host);
    mine.ctrl.abort();
    await mine.done;
    mine.listeners.clear();
  };
}

/** Creates `async_tasks` and its indexes when missing (safe to run any number of times). */
export async function migrate(host: Pick<MirrorHost, 'sequelize'>): Promise<void> {
  if (!host.sequelize) throw new TypeError('migrate: the queue has no sequelize instance (setup({ sequelize }))');
  await migration.up(host.sequelize.getQueryInterface(), host.sequelize.constructor);
}

/** `queue.task(id)` and `Task.reload()` fall back to this once a finished task's hash expired. */
export function historyReader(model: AsyncTaskModel): (id: number) => Promise<Partial<TaskFields> | null> {
  return async (id) => {
    const row = await model.findByPk(id);
    // dataValues: the stored bytes (the model's getters decode; fieldsFromRow does that itself).
    return row ? fieldsFromRow((row as unknown as { dataValues: Record<string, unknown> }).dataValues) : null;
  };
}

/** Mirror lag of one queue: events waiting in the outbox and the age of the oldest (null when none). */
export async function mirrorLag(host: MirrorHost, queue: string): Promise<{ events: number; oldestAgeMs: number | null }> {
  const r = (await host.script('mirrored', queue, ['lag'])) as string[];
  const events = Number(String(r[0]));
  const age = String(r[1] ?? '');
  return { events, oldestAgeMs: events > 0 && age !== '' ? Number(age) : null };
}
