// The mirror loop: copies every task's current state from Redis into `async_tasks`.
// Lua scripts append a task id to the queue's outbox (a list) on every change (no SQL on the
// enqueue or claim path); a loop takes a batch of entries (mirror-take.lua), reads the tasks'
// CURRENT hashes (mirror-read.lua), upserts them by id, and only after SQL committed drops
// exactly the entries it took (mirror-done.lua). Writing the current full state makes replays
// harmless and lets a late event never regress a row. SQL down: events wait in Redis, the loop
// retries with backoff, the queue runs on.
import { createHash, randomBytes } from 'crypto';
import { hostname } from 'os';
import type { Sequelize, Transaction } from 'sequelize';
import { QueryTypes } from 'sequelize';
import type { MirrorOptions } from '../../types';
import { isFinal } from '../states';
import { sleep } from '../util/sleep';
import { str, RawHash } from '../util/values';
import { MirrorHost, mirrorSequelize, isMysql } from './host';
import { rowFromHash, Row, ROW_FIELDS } from './rows';
import { writeRows } from './upsert';
import { databaseError, databaseLabel, MIGRATE_HINT } from './db-error';
import { writableColumns, Writable } from './table';
import { claimTable, releaseTable, RENEW_MS } from './owner';
import { recoverPending } from './pending';

// Renewed on every batch; short, so a killed worker's lock holds history back only briefly.
const LOCK_MS = 10000;
const IDLE_MS = 100;
// Behind while this process's workers are saturated (a backlog, every slot busy), the loop pauses
// for up to YIELD_MS, then runs flat out until it has caught up. The mirror writes a task's current
// state and skips the older entries of a final task it wrote, so after a burst most tasks are
// written once, in their final state.
const YIELD_MS = 5000;
const MAX_BACKOFF_MS = 5000;
// Task ids per mirror-read call: 17 values each stays under Lua's unpack limit (8000).
const READ_CHUNK = 250;
// A table that lacks a newer migration's columns is looked at again this often (migrate may have run).
const RECHECK_MS = 60000;
// Committed pending rows (transactional enqueue) are looked for this often, and pushed once this
// old (their own process had that long to push them after its COMMIT).
const RECOVER_EVERY_MS = 5000;
const RECOVER_AFTER_MS = 10000;

/**
 * One mirror loop's state. The per-queue Redis lock (mirror-take.lua) keeps one loop per queue at
 * work; a MySQL named lock taken before reading the hashes orders the writes of a loop whose
 * Redis lock expired mid-batch (a long MySQL stall) behind the new owner's, so an older state
 * can never be committed after a newer one.
 */
class MirrorLoop {
  readonly token = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  private readonly held = new Set<string>();
  private table: (Writable & { at: number }) | undefined;
  private readonly noNul: boolean;
  /** When this loop last took or renewed its lease on the table (owner.ts). */
  private claimedAt = 0;
  private recoveredAt = 0;

  constructor(private readonly host: MirrorHost, private readonly seq: Sequelize, private readonly batch: number,
    private readonly report: (e: Error) => void, private readonly recoverAfterMs = RECOVER_AFTER_MS) {
    this.noNul = seq.getDialect() === 'postgres';
  }

  /** The table's writable columns: looked up once, and again a while later when some are missing. */
  private async columns(): Promise<Writable> {
    const t = this.table;
    if (t && (t.missing.length === 0 || Date.now() - t.at < RECHECK_MS)) return t;
    const w = await writableColumns(this.seq, this.host.table);
    if (w.missing.length && !t) {
      this.report(new Error(`${databaseLabel(this.seq)}: ${this.host.table} has no column ${w.missing.join(', ')} yet: ${MIGRATE_HINT}; rows are written without them meanwhile`));
    }
    this.table = { ...w, at: Date.now() };
    return this.table;
  }

  /** Mirrors one batch of a queue's outbox entries; returns how many it removed (-1: another loop owns the queue). */
  async step(queue: string): Promise<number> {
    const r = (await this.host.script('mirror-take', queue, [this.token, LOCK_MS, this.batch])) as string[];
    if (String(r[0]) !== '1') { this.held.delete(queue); return -1; }
    this.held.add(queue);
    const taken = r.length - 1;
    if (taken === 0) return 0;
    // A task changed several times has several entries: its current hash is written once.
    const ids = [...new Set(r.slice(1).map((x) => Number(String(x))))].filter((n) => Number.isSafeInteger(n) && n > 0).sort((a, b) => a - b);
    const finals: string[] = [];
    if (ids.length > 0) {
      await this.ownTable();
      const table = await this.columns();
      const opts = { json: table.columns.includes('args_json'), noNul: this.noNul };
      await this.withWriteLock(queue, async (transaction) => {
        const hashes = await this.readHashes(queue, ids);
        const rows: Row[] = [];
        hashes.forEach((h, i) => {
          if (!h) return; // gone, not a hash, or already written as it is: nothing to write
          rows.push(rowFromHash(queue, ids[i], h, opts));
          if (isFinal(str(h.state))) finals.push(String(ids[i]), str(h.attempts) ?? '', str(h.finished_at) ?? '');
        });
        await writeRows(this.seq, rows, transaction, table.columns, this.host.table);
      });
    }
    // Entries appended while we wrote (a task changed since we read it) stay for the next pass.
    await this.host.script('mirror-done', queue, [this.token, LOCK_MS, taken, ...finals]);
    return taken;
  }

  private async readHashes(queue: string, ids: number[]): Promise<(RawHash | null)[]> {
    const out: (RawHash | null)[] = [];
    // One script call per READ_CHUNK tasks: a pipeline of one HMGET per task cost more in command
    // objects on our side than the reads themselves.
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const chunk = ids.slice(i, i + READ_CHUNK);
      // A missing value is Lua's false: nil from Redis, but false from ioredis-mock.
      const values = (await this.host.script('mirror-read', queue, [ROW_FIELDS.length, ...ROW_FIELDS, ...chunk], true)) as (Buffer | null | false)[];
      for (let t = 0; t < chunk.length; t++) {
        const h: RawHash = {};
        let any = false;
        for (let f = 0; f < ROW_FIELDS.length; f++) {
          const v = values[t * ROW_FIELDS.length + f];
          if (v !== null && v !== undefined && v !== false) { h[ROW_FIELDS[f]] = v; any = true; }
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

  /**
   * This prefix's lease on the table, before writing to it or recovering from it: another
   * prefix's live one throws TableTakenError (reported; the loop retries, touching nothing,
   * until that lease lapses).
   */
  private async ownTable(): Promise<void> {
    if (Date.now() - this.claimedAt < RENEW_MS) return;
    await claimTable(this.seq, this.host.table, this.host.prefix);
    this.claimedAt = Date.now();
  }

  /** Now and then: push the tasks of committed pending rows that never reached Redis (pending.ts). */
  private async recover(): Promise<void> {
    if (Date.now() - this.recoveredAt < RECOVER_EVERY_MS) return;
    await this.ownTable();
    await this.columns(); // a missing table is reported as such
    await recoverPending(this.host, this.seq, this.recoverAfterMs);
    this.recoveredAt = Date.now();
  }

  /** One pass over every queue; true when some queue had a full batch (more may be waiting). */
  async pass(): Promise<boolean> {
    let more = false;
    for (const q of await this.host.queueNames()) {
      if ((await this.step(q)) >= this.batch) more = true;
    }
    // After the queues: their steps sample the lag (mirror-take) even while SQL is down.
    await this.recover();
    return more;
  }

  async releaseLocks(): Promise<void> {
    if (this.claimedAt) await releaseTable(this.seq, this.host.table, this.host.prefix).catch(() => undefined);
    for (const q of this.held) await this.host.script('mirror-release', q, [this.token]).catch(() => undefined);
    this.held.clear();
  }
}

/**
 * Runs a mirror loop for every queue of `host` until `signal` aborts, then drains what is
 * waiting for up to `drainMs`. Never rejects for SQL or Redis trouble: it reports through
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
  const report = (err: unknown) => {
    try { opts.onError?.(databaseError(seq, err)); } catch { /* a throwing listener must not stop the mirror */ }
  };
  const recoverAfterMs = opts.recoverAfterMs ?? RECOVER_AFTER_MS;
  if (!(recoverAfterMs >= 0)) throw new RangeError(`mirror: recoverAfterMs must be a number of ms >= 0 (got ${String(opts.recoverAfterMs)})`);
  const loop = new MirrorLoop(host, seq, batch, report, recoverAfterMs);
  const signal = opts.signal;
  let backoff = 0;
  let behindSince = 0;
  // lib/scripts.ts defines the Lua commands on a client at its first script call; an
  // auto-pipeline that plain commands opened earlier in the same tick lacks them and breaks
  // ("pipeline[functionName] is not a function"). So let a worker starting with us claim first,
  // and make our own first command a script.
  await new Promise((r) => setImmediate(r));
  await host.script('mirror-lag', 'default', []).catch(() => undefined);
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
    // Stopping: mirror what the last tasks left, while SQL answers.
    const until = Date.now() + drainMs;
    while (Date.now() < until) {
      try { if (!(await loop.pass())) break; } catch (err) { report(err); break; }
    }
  } finally {
    await loop.releaseLocks();
  }
}
