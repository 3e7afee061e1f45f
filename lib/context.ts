// The internals a queue's parts share: its Redis connection and key names, the script runner
// (every script gets the queue context as ARGV 1-4), the registry of callable targets, the id
// allocator, and the SQL history. Workers, the enqueue pipeline, the mirror, the read layer and
// task handles take this (through their narrow host interfaces), never the public Queue.
import { EventEmitter } from 'events';
import type { Redis } from 'ioredis';
import type { Sequelize } from 'sequelize';
import type { TaskState } from '../types';
import { queueKeys, QueueKeys, taskKey, queuesKey, checkQueueName } from './keys';
import { runScript, runScriptNow, ScriptName } from './scripts';
import { Durability, ACKNOWLEDGED, runScriptReplicated } from './durability';
import { Registry } from './registry';
import { IdAllocator } from './ids';
import type { RawHash } from './util/values';
import type { TaskFields } from './task';

type Arg = string | number | Buffer;

export interface ContextOptions {
  redis: Redis;
  mock: boolean;
  prefix: string;
  mirror: boolean;
  /** The SQL history table (default async_tasks). */
  table: string;
  retention: number;
  sequelize: Sequelize | undefined;
  /** setup({ replicas, replicaTimeoutMs }); absent: no WAIT. */
  durability?: Durability;
  /** False: the scripts record no metrics (setup metrics: false). */
  metrics?: boolean;
}

/** Events: 'enqueued' (queue name; wakes this process's idle workers), 'close'. */
export class QueueContext extends EventEmitter {
  readonly redis: Redis;
  /** Running on ioredis-mock (no blocking commands: workers poll). */
  readonly mock: boolean;
  readonly prefix: string;
  readonly mirror: boolean;
  readonly table: string;
  readonly retention: number;
  readonly metrics: boolean;
  readonly sequelize: Sequelize | undefined;
  readonly durability: Durability;
  readonly registry: Registry;
  readonly ids: IdAllocator;
  /** Set by the mirror: where a task hash is gone, its history row. */
  historyReader?: (id: number) => Promise<Partial<TaskFields> | null>;
  /** Set by the queue: resolves once Redis has answered; rejects with RedisUnreachableError after the connect timeout. */
  connected: () => Promise<void> = () => Promise.resolve();
  /** Set by the queue: whether a worker of it has every slot taken (the mirror loop gives way). */
  workersSaturated?: () => boolean;
  /** Set by the queue: a worker's share of this process's mirror loop, or null when it does not mirror. */
  acquireMirror?: (want: boolean | undefined, onError: (e: Error) => void) => (() => Promise<void>) | null;
  private readonly keyCache = new Map<string, QueueKeys>();
  private readonly knownQueues = new Set<string>();

  constructor(o: ContextOptions) {
    super();
    this.setMaxListeners(0);
    this.redis = o.redis;
    this.mock = o.mock;
    this.prefix = o.prefix;
    this.mirror = o.mirror;
    this.table = o.table;
    this.retention = o.retention;
    this.metrics = o.metrics !== false;
    this.sequelize = o.sequelize;
    this.durability = o.durability ?? { replicas: 0, timeoutMs: 0 };
    this.registry = new Registry(o.sequelize);
    this.ids = new IdAllocator(o.redis, o.prefix);
  }

  keys(queue: string): QueueKeys {
    let k = this.keyCache.get(queue);
    if (!k) {
      k = queueKeys(this.prefix, checkQueueName(queue));
      this.keyCache.set(queue, k);
    }
    return k;
  }

  private argv(k: QueueKeys, argv: Arg[]): Arg[] {
    return [k.base, Date.now(), this.mirror ? '1' : '0', this.retention, ...argv];
  }

  /** Runs a Lua script on a queue: the keys it names, the queue context (ARGV 1-4), then its own args. */
  script(name: ScriptName, queue: string, argv: Arg[], binary = false, client: Redis = this.redis) {
    const k = this.keys(queue);
    if (this.durability.replicas > 0 && ACKNOWLEDGED.has(name)) return runScriptReplicated(client, name, queue, k, this.argv(k, argv), binary, this.durability);
    return runScript(client, name, k, this.argv(k, argv), binary);
  }

  /** Like script(), sent at once in a pipeline of its own (see runScriptNow): for the hot paths. */
  scriptNow(name: ScriptName, queue: string, argv: Arg[], binary = false) {
    if (this.mock || (this.durability.replicas > 0 && ACKNOWLEDGED.has(name))) return this.script(name, queue, argv, binary);
    const k = this.keys(queue);
    return runScriptNow(this.redis, name, k, this.argv(k, argv), binary);
  }

  /** Records a queue name in `{prefix}:queues` the first time this process uses it (undefined: known already). */
  noteQueue(queue: string): Promise<void> | undefined {
    if (this.knownQueues.has(queue)) return undefined;
    return this.redis.sadd(queuesKey(this.prefix), queue).then(() => { this.knownQueues.add(queue); });
  }

  /** All queue names this prefix has seen. */
  async queueNames(): Promise<string[]> {
    return (await this.redis.smembers(queuesKey(this.prefix))).sort();
  }

  async readHash(queue: string, id: number): Promise<RawHash | null> {
    const h = await this.redis.hgetallBuffer(taskKey(this.keys(queue), id)) as unknown as RawHash;
    return h && Object.keys(h).length > 0 ? h : null;
  }

  async readHistory(id: number): Promise<Partial<TaskFields> | null> {
    return this.historyReader ? this.historyReader(id) : null;
  }

  /** retry.lua: a failed task queued again as a new attempt; 'queued', the state that prevented it, or '' when gone. */
  async retry(queue: string, id: number): Promise<string> {
    return String(await this.script('retry', queue, [String(id)]) ?? '');
  }

  async cancel(queue: string, id: number): Promise<TaskState | ''> {
    const r = await this.script('cancel', queue, [String(id)]);
    return String(r ?? '') as TaskState | '';
  }
}
