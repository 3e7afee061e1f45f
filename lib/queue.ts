// The queue: what `setup()` returns. Holds the Redis connection, the registry of callable
// targets and the enqueue path; workers, the mirror and the Sequelize mixins hang off it.
import { EventEmitter } from 'events';
import type { Redis } from 'ioredis';
import type { Sequelize, Model, ModelStatic, Transaction } from 'sequelize';
import type { SetupOptions, EnqueueOptions, TaskState, WorkerOptions, QueueStats, Registered, RegisterOptions } from '../types';
import { connect, Connection } from './redis';
import { queueKeys, QueueKeys, taskKey, queuesKey, checkQueueName, groupByQueue } from './keys';
import { runScript, runScriptNow, defineScripts, ScriptName } from './scripts';
import { Registry, resolveAction } from './registry';
import { IdAllocator } from './ids';
import { buildSpec, enqueueArgs, TaskSpec, ASYNC_PRIORITY, SCHEDULE_PRIORITY, checkTime } from './enqueue';
import { Task, TaskSource, RawHash, fieldsFromHash, TaskFields } from './task';
import { Worker } from './worker';
import { defineAsyncTask, AsyncTaskModel } from './model';
import { historyReader, migrate, acquireMirror, mirrorLag } from './mirror';
import { findTransaction, deferUntilCommit, trackTransactions } from './transaction';
import { setDefaults, enqueueDefaults } from './perform';

const DAY = 24 * 3600 * 1000;
/** A coalesced batch at least this big, sent while none is in flight, goes out in two halves. */
const SPLIT_AT = 64;

type Waiting = { spec: TaskSpec; resolve: (t: Task) => void; reject: (e: unknown) => void };

export class Queue extends EventEmitter implements TaskSource {
  readonly prefix: string;
  readonly redis: Redis;
  readonly sequelize: Sequelize | undefined;
  /** Running on ioredis-mock (no blocking commands: workers poll). */
  readonly mock: boolean;
  readonly mirror: boolean;
  readonly retention: number;
  /** The history model over `async_tasks` (with a sequelize). */
  readonly AsyncTask: AsyncTaskModel | undefined;
  readonly registry: Registry;
  private readonly owned: boolean;
  private readonly ids: IdAllocator;
  private readonly keyCache = new Map<string, QueueKeys>();
  private readonly knownQueues = new Set<string>();
  private readonly workers = new Set<Worker>();
  private closed = false;
  /** Resolves once Redis is ready; rejects with RedisUnreachableError after the connect timeout. */
  readonly connected: Connection['connected'];
  /** Set by the mirror module: where a task hash is gone, its row. */
  historyReader?: (id: number) => Promise<Partial<TaskFields> | null>;

  constructor(opts: SetupOptions = {}) {
    super();
    for (const k of Object.keys(opts)) {
      if (!['sequelize', 'redis', 'prefix', 'mirror', 'retention', 'connectTimeoutMs'].includes(k)) throw new TypeError(`setup: unknown option '${k}'`);
    }
    this.prefix = opts.prefix ?? 'async';
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(this.prefix)) throw new TypeError(`setup: prefix must be 1-64 characters of A-Z a-z 0-9 _ . - (got ${JSON.stringify(opts.prefix)})`);
    const retention = opts.retention ?? DAY;
    if (typeof retention !== 'number' || !Number.isInteger(retention) || retention < 0) throw new RangeError(`setup: retention must be a whole number of ms >= 0 (got ${String(opts.retention)})`);
    this.retention = retention;
    this.sequelize = opts.sequelize;
    if (opts.mirror !== undefined && typeof opts.mirror !== 'boolean') throw new TypeError(`setup: mirror must be true or false (got ${String(opts.mirror)})`);
    this.mirror = opts.mirror ?? this.sequelize !== undefined;
    if (this.mirror && !this.sequelize) throw new TypeError('setup: mirror needs a sequelize instance');
    const conn = connect(opts.redis, { connectTimeoutMs: opts.connectTimeoutMs });
    this.connected = conn.connected;
    this.redis = conn.client;
    defineScripts(this.redis);
    // ioredis reconnects by itself and failed commands reject; without a listener it would print
    // "Unhandled error event" on every reconnect attempt. Ours go to the queue's 'error' listeners.
    if (conn.owned) this.redis.on('error', (e: Error) => { if (this.listenerCount('error') > 0) this.emit('error', e); });
    this.mock = conn.mock;
    this.owned = conn.owned;
    this.registry = new Registry(this.sequelize);
    this.ids = new IdAllocator(this.redis, this.prefix);
    this.setMaxListeners(0);
    if (this.sequelize) {
      this.AsyncTask = defineAsyncTask(this.sequelize);
      this.historyReader = historyReader(this.AsyncTask);
      this.once('close', trackTransactions(this.sequelize));
    }
  }

  keys(queue: string): QueueKeys {
    let k = this.keyCache.get(queue);
    if (!k) {
      k = queueKeys(this.prefix, checkQueueName(queue));
      this.keyCache.set(queue, k);
    }
    return k;
  }

  /** Runs a Lua script on a queue: the six queue keys and the four common args come first. */
  script(name: ScriptName, queue: string, argv: (string | number | Buffer)[], binary = false, client: Redis = this.redis) {
    const k = this.keys(queue);
    return runScript(client, name, k, [k.base, Date.now(), this.mirror ? '1' : '0', this.retention, ...argv], binary);
  }

  /** Like script(), sent at once in a pipeline of its own (see runScriptNow): for the hot paths. */
  scriptNow(name: ScriptName, queue: string, argv: (string | number | Buffer)[], binary = false) {
    if (this.mock) return this.script(name, queue, argv, binary);
    const k = this.keys(queue);
    return runScriptNow(this.redis, name, k, [k.base, Date.now(), this.mirror ? '1' : '0', this.retention, ...argv], binary);
  }

  register<T extends object>(nameOrTarget: string | T, targetOrOpts?: T | RegisterOptions, maybeOpts?: RegisterOptions): Registered<T> {
    const named = typeof nameOrTarget === 'string';
    const target = (named ? targetOrOpts : nameOrTarget) as T;
    const opts = (named ? maybeOpts : targetOrOpts) as RegisterOptions | undefined;
    const name = named ? nameOrTarget : (target as { name?: unknown })?.name;
    if (typeof name !== 'string' || name === '') throw new TypeError('register: give a name, register(name, target), for an object without one');
    if (opts !== undefined) {
      if (typeof opts !== 'object' || opts === null || Object.keys(opts).some((k) => k !== 'defaults')) throw new TypeError(`register ${name}: options must be { defaults: { method: {...} } }`);
      if (opts.defaults !== undefined) setDefaults(target, opts.defaults, `register ${name}`);
    }
    this.registry.register(name, target);
    addMixin(this, target);
    return target as Registered<T>;
  }

  async(target: object, action: string, opts?: EnqueueOptions): Promise<Task> {
    return this.enqueueFor(target, action, opts, ASYNC_PRIORITY);
  }

  async schedule(target: object, at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task> {
    return this.enqueueFor(target, action, { ...opts, scheduledAt: checkTime(at, 'schedule time') }, SCHEDULE_PRIORITY);
  }

  /** Resolves what to store for a model instance, a model class or a registered object, then enqueues. */
  enqueueFor(target: object, action: string, opts: EnqueueOptions | undefined, defaultPriority: number): Promise<Task> {
    try {
      if (this.closed) throw new Error('queue is closed');
      // Inside an open transaction: queue after its commit, drop on rollback (lib/transaction.ts).
      const tx = findTransaction(this.sequelize, target, opts);
      // The common case (a class or object, no transaction) takes no await before the batch.
      if (!tx && !this.isInstance(target)) return this.coalesce(this.specOf(target, action, opts, defaultPriority, this.describeObject(target, action)));
      return this.enqueueLater(target, action, opts, defaultPriority, tx);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async enqueueLater(target: object, action: string, opts: EnqueueOptions | undefined, defaultPriority: number, tx: ReturnType<typeof findTransaction>): Promise<Task> {
    const spec = await this.specFor(target, action, opts, defaultPriority, tx);
    if (tx) return deferUntilCommit(this, tx, spec, opts?.args);
    return this.coalesce(spec);
  }

  /** The checked, encoded task for a call: target described, per-method defaults applied. */
  private async specFor(target: object, action: string, opts: EnqueueOptions | undefined, defaultPriority: number, tx?: object | null): Promise<TaskSpec> {
    return this.specOf(target, action, opts, defaultPriority, await this.describe(target, action, tx));
  }

  private specOf(target: object, action: string, opts: EnqueueOptions | undefined, defaultPriority: number,
    { type, objectId }: { type: string; objectId: string | null }): TaskSpec {
    return buildSpec(type, objectId, action, opts, defaultPriority, enqueueDefaults(target, action, type));
  }

  /**
   * Many tasks in one go (BullMQ's addBulk): every entry is checked first, so one bad entry
   * stores nothing; then one enqueue.lua call per queue (per 1,000 tasks).
   */
  async bulk(entries: [target: object, action: string, opts?: EnqueueOptions][]): Promise<Task[]> {
    if (this.closed) throw new Error('queue is closed');
    if (!Array.isArray(entries)) throw new TypeError('bulk takes an array of [target, action, options] entries');
    const specs: TaskSpec[] = [];
    for (const [i, entry] of entries.entries()) {
      if (!Array.isArray(entry)) throw new TypeError(`bulk entry ${i} must be [target, action, options]`);
      const [target, action, opts] = entry;
      if (opts?.transaction) throw new TypeError(`bulk entry ${i}: bulk does not take a transaction; enqueue after the commit instead`);
      try {
        specs.push(this.isInstance(target) ? await this.specFor(target, action, opts, ASYNC_PRIORITY)
          : this.specOf(target, action, opts, ASYNC_PRIORITY, this.describeObject(target, action)));
      } catch (e) {
        if (e instanceof Error) e.message = `bulk entry ${i}: ${e.message}`;
        throw e;
      }
    }
    const out: Task[] = [];
    for (let i = 0; i < specs.length; i += 1000) out.push(...await this.enqueueSpecs(specs.slice(i, i + 1000)));
    return out;
  }

  // Single enqueues made in the same event-loop turn share one id block and one enqueue.lua call
  // (auto-pipelining one level up); each caller still gets its own handle, or the batch's error.
  private batch: Waiting[] = [];
  /** enqueue.lua calls for coalesced batches not yet answered. */
  private batchesInFlight = 0;

  private coalesce(spec: TaskSpec): Promise<Task> {
    return new Promise((resolve, reject) => {
      if (this.batch.push({ spec, resolve, reject }) === 1) setImmediate(() => this.flushBatch());
    });
  }

  private flushBatch(): void {
    const all = this.batch;
    this.batch = [];
    if (this.batchesInFlight === 0 && all.length >= SPLIT_AT) {
      // Many callers and Redis idle: send the batch in two halves, a turn of the event loop apart.
      // Redis stores the first while the second is sent, and the callers of the first come back
      // (and enqueue again) while Redis stores the second: from then on the two groups take turns,
      // and Redis and this process work at the same time instead of waiting for each other.
      const half = Math.ceil(all.length / 2);
      this.sendBatch(all.slice(0, half));
      const rest = all.slice(half);
      this.batchesInFlight++;
      setImmediate(() => { this.batchesInFlight--; this.sendBatch(rest); });
    } else this.sendBatch(all);
  }

  private sendBatch(all: Waiting[]): void {
    for (let i = 0; i < all.length; i += 1000) {
      const part = all.length <= 1000 ? all : all.slice(i, i + 1000);
      const specs: TaskSpec[] = new Array(part.length);
      for (let j = 0; j < part.length; j++) specs[j] = part[j].spec;
      this.batchesInFlight++;
      this.enqueueSpecs(specs).then(
        (tasks) => { this.batchesInFlight--; for (let j = 0; j < part.length; j++) part[j].resolve(tasks[j]); },
        (e) => { this.batchesInFlight--; for (const p of part) p.reject(e); });
    }
  }

  takeIds(n: number): Promise<number[]> {
    return this.ids.take(n);
  }

  /** Stores validated specs: one enqueue.lua call per queue (`given` ids: ones taken earlier, for deferred tasks). */
  async enqueueSpecs(specs: TaskSpec[], given?: number[]): Promise<Task[]> {
    const ids = given ?? await this.ids.take(specs.length);
    const now = Date.now();
    const first = specs[0]?.queue;
    let oneQueue = true;
    for (let i = 1; i < specs.length && oneQueue; i++) oneQueue = specs[i].queue === first;
    const stored = oneQueue ? (specs.length > 0 ? this.store(first, specs, ids) : Promise.resolve())
      : Promise.all([...groupByQueue(specs.keys(), (i) => specs[i].queue)].map(([queue, idx]) =>
        this.store(queue, idx.map((i) => specs[i]), idx.map((i) => ids[i]))));
    stored.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    // The handles are built while Redis runs the script: after a turn of the event loop, so that
    // ioredis (auto-pipelining writes on the next tick) has sent the command by then.
    await new Promise<void>((r) => setImmediate(r));
    const tasks: Task[] = new Array(specs.length);
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i];
      tasks[i] = Task.stored(this, ids[i], s.queue, s.type, s.objectId, s.action, s.argsValue, s.priority,
        new Date(s.scheduledAt), new Date(now), s.scheduledAt > now ? 'scheduled' : 'queued');
    }
    await stored;
    return tasks;
  }

  private async store(queue: string, specs: TaskSpec[], ids: number[]): Promise<void> {
    if (!this.knownQueues.has(queue)) {
      await this.redis.sadd(queuesKey(this.prefix), queue);
      this.knownQueues.add(queue);
    }
    const argv = enqueueArgs(specs, ids, this.mock);
    await this.scriptNow('enqueue', queue, argv);
    this.emit('enqueued', queue);
  }

  /** Whether the target is a model instance (describing it may save it first). */
  private isInstance(target: object): boolean {
    const ModelBase = this.sequelize ? (this.sequelize.constructor as unknown as { Model: typeof Model }).Model : undefined;
    return ModelBase !== undefined && target instanceof ModelBase;
  }

  /** The stored type and object id for a target, after checking the action can be called. */
  async describe(target: object, action: string, transaction?: object | null): Promise<{ type: string; objectId: string | null }> {
    if (this.isInstance(target)) {
      const instance = target as Model;
      const model = instance.constructor as ModelStatic<Model>;
      if (this.registry.lookup(model.name)?.kind !== 'model') throw new TypeError(`${model.name} is not a model of the sequelize instance given to setup()`);
      const fn = resolveAction(instance, action, model.name);
      if (fn instanceof Error) throw fn;
      const pks = model.primaryKeyAttributes;
      if (pks.length !== 1) throw new TypeError(`${model.name} has ${pks.length === 0 ? 'no' : 'a composite'} primary key: async tasks need a single-column primary key`);
      // The seed saved unsaved records first, so the worker can load them.
      if (instance.isNewRecord) await instance.save(transaction ? { transaction: transaction as Transaction } : undefined);
      const pk = instance.get(pks[0]);
      if (pk === null || pk === undefined) throw new TypeError(`${model.name} has no ${pks[0]} value after save`);
      return { type: model.name, objectId: String(pk) };
    }
    return this.describeObject(target, action);
  }

  /** describe() for a model class or a registered class/object (anything but a model instance). */
  private describeObject(target: object, action: string): { type: string; objectId: null } {
    if (target === null || (typeof target !== 'object' && typeof target !== 'function')) {
      throw new TypeError(`async needs a model instance, a model or a registered class/object (got ${String(target)})`);
    }
    const type = this.registry.nameOf(target);
    if (!type) {
      const n = (target as { name?: string }).name;
      throw new TypeError(`${n ? n : 'this object'} is not registered: call queue.register(${n ?? "'Name', obj"}) first`);
    }
    const fn = resolveAction(target, action, type);
    if (fn instanceof Error) throw fn;
    return { type, objectId: null };
  }

  async readHash(queue: string, id: number): Promise<RawHash | null> {
    const h = await this.redis.hgetallBuffer(taskKey(this.keys(queue), id)) as unknown as RawHash;
    return h && Object.keys(h).length > 0 ? h : null;
  }

  async readHistory(id: number): Promise<Partial<TaskFields> | null> {
    return this.historyReader ? this.historyReader(id) : null;
  }

  async cancel(queue: string, id: number): Promise<TaskState | ''> {
    const r = await this.script('cancel', queue, [String(id)]);
    return String(r ?? '') as TaskState | '';
  }

  /** All queue names this prefix has seen. */
  async queueNames(): Promise<string[]> {
    return (await this.redis.smembers(queuesKey(this.prefix))).sort();
  }

  /** A handle for a task id, found in whichever queue holds it (or in the mirror), else null. */
  async task(id: number | string): Promise<Task | null> {
    const n = Number(id);
    if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`task id must be a positive integer (got ${JSON.stringify(id)})`);
    for (const queue of await this.queueNames()) {
      const h = await this.readHash(queue, n);
      if (h) return new Task(this, n, fieldsFromHash(queue, h));
    }
    const row = await this.readHistory(n);
    return row ? new Task(this, n, row) : null;
  }

  worker(opts: WorkerOptions = {}): Worker {
    if (opts.mirror === true && !this.mirror) throw new TypeError('worker: mirror: true needs a queue that mirrors (setup with sequelize, and mirror not false)');
    const w = new Worker(this, opts);
    this.workers.add(w);
    w.once('stopped', () => this.workers.delete(w));
    return w;
  }

  async stats(): Promise<QueueStats> {
    const out: QueueStats = {};
    for (const queue of await this.queueNames()) {
      const k = this.keys(queue);
      // The script first: see runMirror in lib/mirror.ts (ioredis auto-pipelining vs. scripts defined late).
      const [lag, levels, scheduled, running, finished] = await Promise.all([mirrorLag(this, queue),
        this.redis.zrange(k.levels, 0, -1), this.redis.zcard(k.scheduled), this.redis.zcard(k.running),
        this.redis.zcard(k.finished)]);
      // Due tasks of a priority sit in its list (in-order arrivals) and its zset (the rest).
      const queued = (await Promise.all(levels.flatMap((p) => [this.redis.zcard(`${k.base}due:${p}`), this.redis.llen(`${k.base}fifo:${p}`).catch(() => 0)])))
        .reduce((a, b) => a + b, 0);
      out[queue] = { queued, scheduled, running, finished, mirrorLag: lag };
    }
    return out;
  }

  /** Creates the `async_tasks` table and its indexes when missing; safe to run again. */
  migrate(): Promise<void> {
    return migrate(this);
  }

  /** True while a worker of this queue object has every slot taken (the mirror loop gives way). */
  workersSaturated(): boolean {
    for (const w of this.workers) if (w.saturated) return true;
    return false;
  }

  /** For workers: a share of this process's mirror loop, or null when this worker does not mirror. */
  acquireMirror(want: boolean | undefined, onError: (e: Error) => void): (() => Promise<void>) | null {
    return this.mirror && want !== false ? acquireMirror(this, onError) : null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.emit('close');
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Gives a registered class or object its own `async` and `schedule` (not enumerable). */
export function addMixin(queue: Queue, target: object): void {
  for (const name of ['async', 'schedule'] as const) {
    const had = Object.getOwnPropertyDescriptor(target, name);
    if (had && !(had.value as { __asyncMixin?: boolean })?.__asyncMixin) throw new TypeError(`register: ${(target as { name?: string }).name ?? 'target'} already has its own '${name}'`);
  }
  const asyncFn = function (this: object, action: string, opts?: EnqueueOptions) { return queue.async(this, action, opts); };
  const scheduleFn = function (this: object, at: Date | number, action: string, opts?: EnqueueOptions) { return queue.schedule(this, at, action, opts); };
  for (const [name, fn] of [['async', asyncFn], ['schedule', scheduleFn]] as const) {
    Object.defineProperty(fn, '__asyncMixin', { value: true });
    Object.defineProperty(target, name, { value: fn, enumerable: false, configurable: true, writable: true });
  }
}
