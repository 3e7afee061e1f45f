// Transactional enqueue. Sequelize runs afterCreate/afterSave hooks inside the transaction, so a
// task queued there could run before the commit (RecordNotFound) or after a rollback (a task
// about a row that never existed). A task queued while a transaction is open for it waits for
// the commit (Transaction#afterCommit) and is dropped on rollback; its handle says 'pending'.
// When the queue mirrors into the same database, the task's history row ('pending') is written
// inside the transaction first, so a process that dies between COMMIT and the push to Redis
// loses nothing: the mirror's recovery pass pushes it (lib/mirror/pending.ts).
//
// Which transaction: an explicit `{ transaction }` option (null = none, queue at once); else the
// one the model instance is being saved or destroyed in (remembered by global before* hooks, since
// the user's after* hook is not handed to us); else Sequelize's CLS transaction.
import type { Sequelize, Transaction } from 'sequelize';
import type { TaskState } from '../types';
import { Task, TaskSource, TaskFields } from './task';
import type { TaskSpec } from './enqueue/options';

/** What deferral needs of the enqueue pipeline (kept narrow so this file does not import it). */
export interface DeferHost {
  /** Where the handles read their task from. */
  readonly source: TaskSource;
  takeIds(n: number): Promise<number[]>;
  store(specs: TaskSpec[], ids?: number[]): Promise<Task[]>;
  isClosed(): boolean;
  /** An error nobody awaits (a commit's enqueue that failed and is retried). */
  report(e: Error): void;
  /** The pending history row of a task waiting for `tx` (absent: the queue does not mirror into tx's database). */
  pendingRows?(tx: Transaction): PendingRows | undefined;
}

export interface PendingRows {
  write(tx: Transaction, id: number, spec: TaskSpec): Promise<void>;
  drop(tx: Transaction, id: number): Promise<void>;
}

// Test hook (spec/transaction.spec.ts): die right after COMMIT, before the push to Redis.
const CRASH_AFTER_COMMIT = 'SEQUELIZE_ASYNC_TEST_CRASH_AFTER_COMMIT';

type Tx = Transaction & { finished?: string; parent?: Tx | null; sequelize?: Sequelize };

// ---- which transaction an instance is being saved in ----

const txOf = new WeakMap<object, Tx | null>();
const users = new WeakMap<Sequelize, number>();
const HOOK = 'sequelize-async-transaction';
const INSTANCE_HOOKS = ['beforeCreate', 'beforeUpdate', 'beforeSave', 'beforeDestroy', 'beforeRestore'] as const;

function clsTransaction(seq: Sequelize | undefined): Tx | undefined {
  const ns = ((seq?.constructor ?? {}) as { _cls?: { get(k: string): unknown } })._cls;
  return (ns?.get('transaction') as Tx | undefined) ?? undefined;
}

/** Global hooks that remember each instance's transaction. Returns the function that removes them (shared, counted). */
export function trackTransactions(seq: Sequelize): () => void {
  const remember = (instance: object, options?: { transaction?: Tx | null }) => {
    if (instance && typeof instance === 'object') txOf.set(instance, options?.transaction ?? clsTransaction(seq) ?? null);
  };
  const n = users.get(seq) ?? 0;
  if (n === 0) {
    for (const h of INSTANCE_HOOKS) seq.addHook(h, HOOK, remember as never);
    seq.addHook('beforeBulkCreate', HOOK, ((instances: object[], options?: { transaction?: Tx | null }) => {
      for (const i of instances) remember(i, options);
    }) as never);
  }
  users.set(seq, n + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const left = (users.get(seq) ?? 1) - 1;
    users.set(seq, left);
    if (left === 0) for (const h of [...INSTANCE_HOOKS, 'beforeBulkCreate'] as const) seq.removeHook(h, HOOK);
  };
}

const live = (t: Tx | null | undefined): t is Tx => !!t && !t.finished;

/** The open transaction a task for `target` must wait for, or null to queue now. Throws on a bad `transaction` option. */
export function findTransaction(seq: Sequelize | undefined, target: object, opts: { transaction?: unknown } | undefined): Tx | null {
  if (opts && typeof opts === 'object' && opts.transaction !== undefined) {
    const t = opts.transaction as Tx | null;
    if (t === null) return null;
    if (typeof t !== 'object' || typeof t.afterCommit !== 'function' || typeof t.rollback !== 'function') {
      throw new TypeError(`transaction must be a Sequelize transaction or null (got ${typeof t === 'object' ? t.constructor?.name ?? 'an object' : String(t)})`);
    }
    if (t.finished === 'rollback') throw new Error('transaction was rolled back: the task was not queued');
    return live(t) ? t : null; // committed already: queue now
  }
  if (!seq) return null;
  const mine = txOf.get(target);
  if (live(mine)) return mine;
  const cls = clsTransaction(seq);
  return live(cls) ? cls : null;
}

// ---- pending tasks ----

/** A handle whose task waits for a commit: state 'pending', then a normal handle (or 'cancelled' when dropped). */
export class PendingTask extends Task {
  /** true when the transaction rolled back (or the task was cancelled before the commit): it was never queued. */
  dropped = false;

  async reload(): Promise<this> {
    if (this.state === 'pending' || this.dropped) return this;
    return super.reload();
  }

  async cancel(): Promise<TaskState> {
    if (this.state === 'pending') {
      const it = allItems.get(this);
      // Its pending row goes too, inside the transaction (else it would commit and be recovered).
      if (it?.rows && !it.tx.finished) await it.rows.drop(it.tx, this.id);
      forget(this);
      this.drop();
      return 'cancelled';
    }
    return super.cancel();
  }

  /** @internal */
  drop(): void {
    this.dropped = true;
    this.assign({ ...fieldsOf(this), state: 'cancelled', cancelled: true, finishedAt: new Date() });
  }

  /** @internal The task is queued now: take over its fields (the args we already have). */
  activate(t: Task): void {
    this.assign({ ...fieldsOf(t), args: this.args });
    // A unique task refused at commit: this handle becomes the one of the task holding the lock.
    if (t.duplicate) Object.assign(this, { id: t.id, duplicate: true, args: t.args });
  }
}

function fieldsOf(t: Task): Partial<TaskFields> {
  const { queue, objectType, objectId, action, args, priority, scheduledAt, state, success, result, errors, attempts,
    cancelled, worker, createdAt, startedAt, finishedAt } = t;
  return { queue, objectType, objectId, action, args, priority, scheduledAt, state, success, result, errors, attempts,
    cancelled, worker, createdAt, startedAt, finishedAt };
}

interface Item { host: DeferHost; spec: TaskSpec; tx: Tx; handle: PendingTask; rows?: PendingRows }
/** Per root transaction: what waits for its commit, in call order. */
const waiting = new WeakMap<Tx, Item[]>();
const watched = new WeakSet<Tx>();

const rootOf = (t: Tx): Tx => { while (t.parent) t = t.parent; return t; };
const within = (t: Tx, ancestor: Tx) => { for (let x: Tx | null | undefined = t; x; x = x.parent) if (x === ancestor) return true; return false; };

const allItems = new WeakMap<PendingTask, Item>();

function forget(handle: PendingTask): void {
  const it = allItems.get(handle);
  if (!it) return;
  allItems.delete(handle);
  const list = waiting.get(rootOf(it.tx));
  const at = list ? list.indexOf(it) : -1;
  if (list && at >= 0) list.splice(at, 1);
}

// Sequelize has no afterRollback hook: wrap this transaction's own rollback (a savepoint's too)
// to drop what waits on it.
function watchRollback(t: Tx): void {
  if (watched.has(t)) return;
  watched.add(t);
  const orig = t.rollback;
  t.rollback = async function (this: Tx, ...a: unknown[]) {
    try {
      return await (orig as (...x: unknown[]) => Promise<void>).apply(this, a);
    } finally {
      if (this.finished === 'rollback') {
        const root = rootOf(this);
        const list = waiting.get(root) ?? [];
        for (const it of list.filter((i) => within(i.tx, this))) {
          list.splice(list.indexOf(it), 1);
          allItems.delete(it.handle);
          it.handle.drop();
        }
        if (this === root) waiting.delete(root);
      }
    }
  } as Tx['rollback'];
}

/** Holds a validated task until `tx` commits; returns its 'pending' handle. */
export async function deferUntilCommit(host: DeferHost, tx: Tx, spec: TaskSpec, args: unknown[] | undefined): Promise<Task> {
  const [id] = await host.takeIds(1);
  const handle = new PendingTask(host.source, id, {
    queue: spec.queue, objectType: spec.type, objectId: spec.objectId, action: spec.action, args: args ? [...args] : [],
    priority: spec.priority, scheduledAt: new Date(spec.scheduledAt), state: 'pending',
  });
  const rows = tx.finished ? undefined : host.pendingRows?.(tx);
  // Written before the commit can be: it commits or rolls back with the user's rows.
  if (rows) await rows.write(tx, id, spec);
  const item: Item = { host, spec, tx, handle, rows };
  if (tx.finished) {
    // It ended while we took the id.
    if (tx.finished === 'rollback') handle.drop(); else await enqueue([item]);
    return handle;
  }
  const root = rootOf(tx);
  let list = waiting.get(root);
  if (!list) {
    const l: Item[] = [];
    list = l;
    waiting.set(root, l);
    // Runs after COMMIT (Sequelize also runs it when COMMIT itself failed and the outcome is
    // unknown: queuing then is the side that loses nothing; a missing row fails as RecordNotFound).
    root.afterCommit(async () => {
      if (process.env[CRASH_AFTER_COMMIT] === '1') process.kill(process.pid, 'SIGKILL');
      if (waiting.get(root) === l) waiting.delete(root);
      await enqueue(l.splice(0));
    });
  }
  list.push(item);
  allItems.set(handle, item);
  for (let t: Tx | null | undefined = tx; t; t = t.parent) watchRollback(t);
  return handle;
}

/** Queues committed items, in order, one batch per queue object. Never throws into the commit: retries in the background. */
async function enqueue(items: Item[]): Promise<void> {
  const byHost = new Map<DeferHost, Item[]>();
  for (const it of items) {
    allItems.delete(it.handle);
    const l = byHost.get(it.host);
    if (l) l.push(it); else byHost.set(it.host, [it]);
  }
  await Promise.all([...byHost].map(([host, list]) => enqueueWithRetry(host, list)));
}

async function enqueueWithRetry(host: DeferHost, list: Item[]): Promise<void> {
  const attempt = async (n: number): Promise<boolean> => {
    try {
      const tasks = await host.store(list.map((i) => i.spec), list.map((i) => i.handle.id));
      tasks.forEach((t, i) => list[i].handle.activate(t));
      return true;
    } catch (err) {
      host.report(new Error(`sequelize-async: could not queue ${list.length} task(s) after their transaction committed (attempt ${n}, ${host.isClosed() ? 'queue closed: dropped' : 'retrying'}): ${(err as Error).message}`));
      return false;
    }
  };
  // The first try is awaited by the commit; later ones go on without holding it up.
  if (await attempt(1)) return;
  void (async () => {
    let delay = 250;
    for (let n = 2; !host.isClosed(); n++) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
      if (await attempt(n)) return;
    }
    for (const i of list) i.handle.drop();
  })();
}
