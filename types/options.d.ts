// Options objects of the public API.
import type { Redis, RedisOptions, Cluster, ClusterOptions, ClusterNode } from 'ioredis';
import type { Sequelize, Transaction } from 'sequelize';

export interface BackoffOptions {
  type: 'fixed' | 'exponential';
  /** Milliseconds before the 2nd attempt (exponential doubles it each time). */
  delay: number;
  /** 0..1: each delay is spread by ±jitter of itself. */
  jitter?: number;
}

/** Options of one enqueue; `Args` is the called method's parameter list (see AsyncArgs). */
export interface EnqueueOptions<Args extends unknown[] = unknown[]> {
  args?: Args;
  /** Integer in MIN_PRIORITY..MAX_PRIORITY; larger runs first. Default 10 (async) or 20 (schedule). */
  priority?: number;
  /** When the task becomes due; default now. */
  scheduledAt?: Date | number;
  /** Queue name, default 'default'. */
  queue?: string;
  /** Attempts in all (default 1: the seed's single attempt). */
  attempts?: number;
  backoff?: BackoffOptions;
  /** Milliseconds an attempt may run before it fails with a TimeoutError. */
  timeout?: number;
  /** Queue after this transaction commits, drop it on rollback. */
  transaction?: Transaction | null;
  /** true (key: type, object id, action, args) or a key: while such a task waits, another enqueue returns it (task.duplicate). */
  unique?: boolean | string;
  /** How long the lock holds: until the task 'started' (default) or 'finished'. */
  uniqueUntil?: 'started' | 'finished';
}

/** every()'s options: those of async (but scheduledAt, transaction and unique) plus the schedule's own. */
export interface RecurringOptions<Args extends unknown[] = unknown[]> extends Omit<EnqueueOptions<Args>, 'scheduledAt' | 'transaction' | 'unique' | 'uniqueUntil'> {
  /** Default 'Type#action', or 'Type(id)#action' for a model instance. */
  name?: string;
  /** IANA time zone of the pattern; default 'UTC'. */
  tz?: string;
  /** Ticks that passed while no scheduler ran: 'skip', 'latest' (default: run once for the newest), 'all' (each, at most 1,000). */
  missed?: 'skip' | 'latest' | 'all';
  /** false: skip a tick while the previous task of this schedule is still queued, scheduled or running. */
  overlap?: boolean;
}

export interface WaitOptions { timeout?: number }

export interface WorkerOptions {
  queues?: string[];
  concurrency?: number;
  /** A name for this worker in task hashes and `status` (default host:pid:n). */
  name?: string;
  /** Lease length in ms (renewed while a task runs). Default 30000. */
  leaseMs?: number;
  /**
   * Tasks to claim beyond `concurrency` and hold (leased) in this process, so the next one starts
   * without a Redis round trip. Default 'auto': only while draining a backlog of tasks that average
   * under 2 ms, as many as finish within about 2 ms (at most 16 or `concurrency`); one that waits
   * 10 ms anyway (the task ahead ran long) goes back to the queue. A number N always holds N (they
   * wait behind a long task); 0 claims one task per free slot. A prefetched task shows as running
   * before it starts.
   */
  prefetch?: number | 'auto';
  /** Run the MySQL mirror loop inside this worker (default: when the queue mirrors). */
  mirror?: boolean;
  /** Re-runs allowed after a task's worker died (lease expired) before it fails with "worker lost". Default 1. The worker that sweeps applies its own value: give all workers the same. */
  maxStalls?: number;
}

export interface MirrorOptions {
  /** Stops the loop (after the batch in flight and a last drain of up to drainMs). */
  signal?: AbortSignal;
  /** Each failure (MySQL unreachable, ...); the loop retries with backoff (up to 5 s) either way. */
  onError?: (err: Error) => void;
  /** Events per batch, default 500. */
  batch?: number;
  /** On stop, keep mirroring what waits for up to this long (default 2000 ms). */
  drainMs?: number;
  /**
   * Behind while a worker of the same queue object has a backlog and every slot busy, pause up to
   * this long before catching up flat out (default 5000 ms; 0 never pauses).
   */
  yieldMs?: number;
  /**
   * A task queued inside a transaction has its history row ('pending') committed with the
   * transaction; one whose process died before pushing it to Redis is pushed by the loop once
   * its row is this old (default 10000 ms). Looked for every 5 s.
   */
  recoverAfterMs?: number;
}

export interface SetupOptions {
  sequelize?: Sequelize;
  /**
   * A redis:// URL, ioredis options (Sentinel: `{ sentinels: [{ host, port }, ...], name }`), an ioredis
   * Redis or Cluster instance, `{ cluster: [{ host, port }, ...], ...ClusterOptions }`, or 'mock' for an
   * in-process Redis. Default REDIS_URL or the local Redis. Refused: an ioredis `keyPrefix`, reading from
   * replicas (`scaleReads` other than 'master', `role: 'slave'`, `readOnly`).
   */
  redis?: string | RedisOptions | Redis | Cluster | (ClusterOptions & { cluster: ClusterNode[] });
  /** Key prefix, default 'async'. Every key of a queue carries the hash tag {prefix:queue}. */
  prefix?: string;
  /**
   * Mirror tasks to SQL through the AsyncTask model (default: when sequelize is given).
   * `{ table }` mirrors into that table instead of `async_tasks` (migrate() creates it, `queue.AsyncTask`
   * reads it): one database can hold the history of several prefixes, one table each.
   */
  mirror?: boolean | { table?: string };
  /** How long finished tasks stay in Redis, in ms (default 24 h; 0 = drop once recorded). */
  retention?: number;
  /** How long the first connection to Redis may take before commands fail with RedisUnreachableError (ms; default $ASYNC_CONNECT_TIMEOUT_MS or 5000). */
  connectTimeoutMs?: number;
  /**
   * Replicas that must have an enqueue before it resolves, and a finish before it counts as recorded
   * (Redis WAIT; default 0: the master's word, which a failover can lose). Fewer within
   * replicaTimeoutMs: the call fails with NotReplicatedError.
   */
  replicas?: number;
  /** How long to wait for `replicas` (ms, default 2000). */
  replicaTimeoutMs?: number;
  /** Record task metrics in Redis (counts, durations, waits: README "Metrics"); default true. */
  metrics?: boolean;
}

/** Defaults for one method, applied at enqueue (per-call options win) and, for `signal`, by the worker. */
export interface MethodDefaults {
  attempts?: number;
  backoff?: BackoffOptions;
  timeout?: number;
  priority?: number;
  queue?: string;
  /** Pass an AbortSignal after the stored args; aborted on timeout, on hand-back at shutdown and when the lease is lost. */
  signal?: boolean;
}

export interface RegisterOptions {
  /** Per-method defaults, e.g. { deliver: { attempts: 5, backoff: { type: 'exponential', delay: 1000 } } }. A class or model may declare `static asyncDefaults` instead. */
  defaults?: Record<string, MethodDefaults>;
}
