// The enqueue pipeline: a call is checked and encoded (options.ts, target.ts), joins the batch of
// its event-loop turn, and the batch is stored with one enqueue.lua call per queue. Each caller
// still gets its own handle, or the batch's error.
//
//   enqueue(target, action, opts) -> specFor (describe + buildSpec) -> submit (join the batch)
//     -> flush (this turn's batch, perhaps in two halves) -> send (≤1000 callers) -> store -> storeQueue
//   bulk(entries) -> specFor each -> store            deferUntilCommit (transaction.ts) -> store
import type { Transaction } from 'sequelize';
import type { EnqueueOptions } from '../../types';
import type { QueueContext } from '../context';
import { groupByQueue, uniqueLockKey } from '../keys';
import { enqueueDefaults } from '../registry';
import { Task, fieldsFromHash } from '../task';
import type { HashValue, RawHash } from '../util/values';
import { findTransaction, deferUntilCommit, DeferHost, PendingRows } from '../transaction';
import { writePendingRow, dropPendingRow, dropRefusedPendingRows, enqueueByIdArgs } from '../mirror/pending';
import { buildSpec, TaskSpec, ASYNC_PRIORITY } from './options';
import { enqueueArgs } from './blob';
import { describeObject, describeInstance, Described } from './target';

/**
 * The handle of the task that holds a refused duplicate's unique lock, marked `duplicate`: built from
 * the holder's hash, which enqueue.lua read in the same step that found the lock held.
 */
function duplicateHandle(ctx: QueueContext, queue: string, id: number, flat: HashValue[]): Task {
  const h: RawHash = {};
  for (let j = 0; j + 1 < flat.length; j += 2) {
    const f = flat[j];
    h[typeof f === 'string' ? f : f.toString('latin1')] = flat[j + 1]; // field names are ours, ASCII: the cheapest decoding
  }
  const t = new Task(ctx, id, fieldsFromHash(queue, h));
  t.duplicate = true;
  return t;
}

type Duplicate = { id: number; hash: HashValue[] };

/** A coalesced batch at least this big, sent while none is in flight, goes out in two halves. */
const SPLIT_AT = 64;
/** Tasks per enqueue.lua call. */
const PER_CALL = 1000;

type Waiting = { spec: TaskSpec; resolve: (t: Task) => void; reject: (e: unknown) => void };

export class Enqueuer implements DeferHost {
  private batch: Waiting[] = [];
  /** enqueue.lua calls for coalesced batches not yet answered. */
  private inFlight = 0;
  /** Of those, calls of one task written inside async() (submit): not a batch the next must wait behind. */
  private lone = 0;

  constructor(readonly ctx: QueueContext, private readonly closed: () => boolean, private readonly onError: (e: Error) => void) {}

  get source() { return this.ctx; }

  /** Enqueues one task for a model instance, a model class or a registered class/object. */
  enqueue(target: object, action: string, opts: EnqueueOptions | undefined, defaultPriority: number): Promise<Task> {
    try {
      if (this.closed()) throw new Error('queue is closed');
      // Inside an open transaction: queue after its commit, drop on rollback (lib/transaction.ts).
      const tx = findTransaction(this.ctx.sequelize, target, opts);
      // The common case (a class or object, no transaction) takes no await before the batch.
      if (!tx && !this.ctx.registry.isInstance(target)) {
        return this.submit(this.buildFor(describeObject(this.ctx.registry, target, action), target, action, opts, defaultPriority));
      }
      return this.enqueueAfterDescribe(target, action, opts, defaultPriority, tx);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async enqueueAfterDescribe(target: object, action: string, opts: EnqueueOptions | undefined, defaultPriority: number,
    tx: Transaction | null): Promise<Task> {
    const spec = await this.specFor(target, action, opts, defaultPriority, tx);
    if (tx) return deferUntilCommit(this, tx, spec, opts?.args);
    return this.submit(spec);
  }

  /** The checked, encoded task for a call: target described (an instance saved first), per-method defaults applied. */
  private async specFor(target: object, action: string, opts: EnqueueOptions | undefined, defaultPriority: number,
    tx?: Transaction | null): Promise<TaskSpec> {
    const d = this.ctx.registry.isInstance(target) ? await describeInstance(this.ctx.registry, target, action, tx)
      : describeObject(this.ctx.registry, target, action);
    return this.buildFor(d, target, action, opts, defaultPriority);
  }

  private buildFor(d: Described, target: object, action: string, opts: EnqueueOptions | undefined, defaultPriority: number): TaskSpec {
    return buildSpec(d.type, d.objectId, action, opts, defaultPriority, enqueueDefaults(target, action, d.type));
  }

  /**
   * Many tasks in one go (BullMQ's addBulk): every entry is checked first, so one bad entry
   * stores nothing; then one enqueue.lua call per queue (per 1,000 tasks).
   */
  async bulk(entries: [target: object, action: string, opts?: EnqueueOptions][]): Promise<Task[]> {
    if (this.closed()) throw new Error('queue is closed');
    if (!Array.isArray(entries)) throw new TypeError('bulk takes an array of [target, action, options] entries');
    const specs: TaskSpec[] = [];
    for (const [i, entry] of entries.entries()) {
      if (!Array.isArray(entry)) throw new TypeError(`bulk entry ${i} must be [target, action, options]`);
      const [target, action, opts] = entry;
      if (opts?.transaction) throw new TypeError(`bulk entry ${i}: bulk does not take a transaction; enqueue after the commit instead`);
      try {
        specs.push(await this.specFor(target, action, opts, ASYNC_PRIORITY));
      } catch (e) {
        if (e instanceof Error) e.message = `bulk entry ${i}: ${e.message}`;
        throw e;
      }
    }
    const out: Task[] = [];
    for (let i = 0; i < specs.length; i += PER_CALL) out.push(...await this.store(specs.slice(i, i + PER_CALL)));
    return out;
  }

  // Single enqueues share one id block and one enqueue.lua call (auto-pipelining one level up):
  // those of one synchronous stretch always (flushed as a microtask); while a batch is in flight,
  // those of the whole event-loop turn (flushed on setImmediate). With nothing in flight, the first
  // enqueue is written inside the call, as Bee-Queue's save() is, not a microtask later, after the
  // caller's own code: an idle worker's pickup waits on it (-15 to -35 µs of its p50 here). Such a
  // lone call does not count as a batch in flight, so the calls after it still go out together as
  // before (in two halves when many; counted as in flight, they went as one big batch and a lone
  // one taking turns, which cost 40% of the one-by-one enqueue rate).
  private submit(spec: TaskSpec): Promise<Task> {
    return new Promise((resolve, reject) => {
      if (this.batch.push({ spec, resolve, reject }) !== 1) return;
      if (this.inFlight === 0) this.send(this.take(), true);
      else if (this.inFlight === this.lone) queueMicrotask(() => this.flush());
      else setImmediate(() => this.flush());
    });
  }

  private take(): Waiting[] {
    const all = this.batch;
    this.batch = [];
    return all;
  }

  private flush(): void {
    const all = this.take();
    if (this.inFlight === this.lone && all.length >= SPLIT_AT) {
      // Many callers and Redis idle: send the batch in two halves, a turn of the event loop apart.
      // Redis stores the first while the second is sent, and the callers of the first come back
      // (and enqueue again) while Redis stores the second: from then on the two groups take turns,
      // and Redis and this process work at the same time instead of waiting for each other.
      const half = Math.ceil(all.length / 2);
      this.send(all.slice(0, half));
      const rest = all.slice(half);
      this.inFlight++;
      setImmediate(() => { this.inFlight--; this.send(rest); });
    } else this.send(all);
  }

  /** Stores the callers' tasks, ≤ PER_CALL per call; `lone`: written inside an async() call (submit). */
  private send(all: Waiting[], lone = false): void {
    for (let i = 0; i < all.length; i += PER_CALL) {
      const part = all.length <= PER_CALL ? all : all.slice(i, i + PER_CALL);
      const specs: TaskSpec[] = new Array(part.length);
      for (let j = 0; j < part.length; j++) specs[j] = part[j].spec;
      this.inFlight++;
      if (lone) this.lone++;
      const done = () => { this.inFlight--; if (lone) this.lone--; };
      this.store(specs).then(
        (tasks) => { done(); for (let j = 0; j < part.length; j++) part[j].resolve(tasks[j]); },
        (e) => { done(); for (const p of part) p.reject(e); });
    }
  }

  takeIds(n: number): Promise<number[]> {
    return this.ctx.ids.take(n);
  }

  /** Stores validated specs: one enqueue.lua call per queue (`given` ids: ones taken earlier, for deferred tasks). */
  async store(specs: TaskSpec[], given?: number[]): Promise<Task[]> {
    // (ids in hand: no await, so the script goes out in this same turn)
    const ids = given ?? this.ctx.ids.takeNow(specs.length) ?? await this.ctx.ids.take(specs.length);
    const now = Date.now();
    const first = specs[0]?.queue;
    let oneQueue = true;
    for (let i = 1; i < specs.length && oneQueue; i++) oneQueue = specs[i].queue === first;
    // Unique tasks refused as duplicates: their index in `specs` -> the task holding the lock.
    const dups = new Map<number, Duplicate>();
    // Given ids (a committed transaction's tasks) are pushed by id: once, should the recovery pass have pushed them.
    const byId = given !== undefined;
    const stored = oneQueue ? (specs.length > 0 ? this.storeQueue(first, specs, ids, (j, d) => dups.set(j, d), byId) : Promise.resolve())
      : Promise.all([...groupByQueue(specs.keys(), (i) => specs[i].queue)].map(([queue, idx]) =>
        this.storeQueue(queue, idx.map((i) => specs[i]), idx.map((i) => ids[i]), (j, d) => dups.set(idx[j], d), byId)));
    stored.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    // The handles are built while Redis runs the script: after a turn of the event loop, so that
    // ioredis (auto-pipelining writes on the next tick) has sent the command by then.
    await new Promise<void>((r) => setImmediate(r));
    const tasks: Task[] = new Array(specs.length);
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i];
      tasks[i] = Task.stored(this.ctx, ids[i], s.queue, s.type, s.objectId, s.action, s.argsValue, s.priority,
        new Date(s.scheduledAt), new Date(now), s.scheduledAt > now ? 'scheduled' : 'queued');
    }
    await stored;
    for (const [i, d] of dups) tasks[i] = duplicateHandle(this.ctx, specs[i].queue, d.id, d.hash);
    // A committed transaction's unique task refused as a duplicate: its pending row goes, or the
    // recovery pass would push it by id once the lock is free (a second task of the key).
    if (byId && dups.size > 0) await this.dropRefusedRows([...dups.keys()].map((i) => ids[i]));
    return tasks;
  }

  private async storeQueue(queue: string, specs: TaskSpec[], ids: number[], dup: (j: number, d: Duplicate) => void, byId = false): Promise<void> {
    const noted = this.ctx.noteQueue(queue);
    if (noted) await noted;
    // Binary replies: a refused duplicate's holder hash holds msgpack (args, result, errors).
    const r = await this.ctx.scriptNow('enqueue', queue, byId ? enqueueByIdArgs(specs, ids, this.ctx.mock) : enqueueArgs(specs, ids, this.ctx.mock, uniqueLockKey(this.ctx.keys(queue), '')), true);
    // A table when unique tasks were refused: stored count, then per refused task its 1-based
    // position, the holder's id and the holder's hash (flat).
    if (Array.isArray(r)) {
      for (let j = 1; j + 2 < r.length; j += 3) dup(Number(String(r[j])) - 1, { id: Number(String(r[j + 1])), hash: r[j + 2] as unknown as HashValue[] });
    }
    this.ctx.emit('enqueued', queue);
  }

  private async dropRefusedRows(ids: number[]): Promise<void> {
    const seq = this.ctx.sequelize;
    if (!seq || !this.ctx.mirror) return;
    // Not dropped (SQL down): the recovery pass pushes it again, is refused again while the lock is held, and drops it then.
    await dropRefusedPendingRows(seq, this.ctx.table, ids).catch((e: Error) => this.onError(e));
  }

  // DeferHost: what transactional deferral needs.
  isClosed(): boolean { return this.closed(); }
  report(e: Error): void { this.onError(e); }
  pendingRows(tx: Transaction): PendingRows | undefined {
    const seq = this.ctx.sequelize;
    // Only into the mirror's own database (a transaction of another Sequelize is on another connection).
    if (!seq || !this.ctx.mirror || (tx as { sequelize?: unknown }).sequelize !== seq) return undefined;
    const table = this.ctx.table;
    return { write: (t, id, spec) => writePendingRow(seq, table, t, id, spec), drop: (t, id) => dropPendingRow(seq, table, t, id) };
  }
}
