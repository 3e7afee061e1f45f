// Opens the Redis connections a queue needs: a URL, ioredis options, an ioredis instance
// (borrowed, never closed by us), an ioredis Cluster instance, `{ cluster: [{ host, port }, ...],
// ...ClusterOptions }`, ioredis Sentinel options (`{ sentinels, name }`), or 'mock' for
// ioredis-mock in this process. Options that would break later are refused here (checkUsable).
//
// Until a connection has been ready once, its commands wait at most the connect timeout
// (setup({ connectTimeoutMs }), else $ASYNC_CONNECT_TIMEOUT_MS, else 5 s), then fail with
// RedisUnreachableError naming the address and the cause. Once it has been up, a Redis that goes
// away is waited out for ever (ioredis reconnects; commands stay queued), as a worker must.
import Redis, { Cluster, RedisOptions, ClusterOptions, ClusterNode } from 'ioredis';
import { RedisUnreachableError } from './errors';

export interface Connection {
  /** A Redis, or a Cluster typed as one (both take the same commands; see isCluster). */
  client: Redis;
  mock: boolean;
  cluster: boolean;
  /** Whether close() should quit the client (false for an instance the user handed us). */
  owned: boolean;
  /** host:port (or the socket path) the client talks to. */
  address: string;
  /** Resolves once the client is ready; rejects with RedisUnreachableError after the connect timeout. */
  connected(): Promise<void>;
}

export interface ConnectOptions { connectTimeoutMs?: number }

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

// Blocking and worker connections must wait out a Redis restart instead of failing commands.
const DEFAULTS: RedisOptions = { maxRetriesPerRequest: null, enableAutoPipelining: true };

// After a Sentinel failover the old master answers writes with READONLY, and blocked commands get
// UNBLOCKED: reconnect (the sentinels then name the new master) and resend the command.
export const reconnectOnFailover = (err: Error): 2 | false => (/^(READONLY|UNBLOCKED)/.test(err.message) ? 2 : false);

// A cluster waits out a failover (node timeout + election, seconds) before a command fails.
const CLUSTER_DEFAULTS: ClusterOptions = { enableAutoPipelining: true, retryDelayOnFailover: 300, retryDelayOnClusterDown: 300, maxRedirections: 40 };

export type ClusterSpec = ClusterOptions & { cluster: ClusterNode[] };
export type RedisSpec = string | RedisOptions | Redis | Cluster | ClusterSpec;

const usage = (got: string) => `redis must be a redis:// URL, ioredis options, Sentinel options ({ sentinels, name }), { cluster: [{ host, port }, ...] }, an ioredis Redis or Cluster instance, or 'mock' (got ${got})`;

export function connect(spec: RedisSpec | undefined, o: ConnectOptions = {}): Connection {
  const timeoutMs = connectTimeout(o.connectTimeoutMs);
  if (spec === 'mock') {
    // ioredis-mock is an optional peer dependency (tests and demos only), so it may be absent.
    let RedisMock;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      RedisMock = require('ioredis-mock');
    } catch (e) {
      if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND' || !String((e as Error).message).includes("'ioredis-mock'")) throw e;
      throw new Error("redis: 'mock' needs the ioredis-mock package, which is not installed: npm install --save-dev ioredis-mock@^8.13.1");
    }
    return { client: new RedisMock() as Redis, mock: true, cluster: false, owned: true, address: 'mock', connected: () => Promise.resolve() };
  }
  if (spec instanceof Cluster || spec instanceof Redis || isRedisLike(spec)) {
    const client = spec as Redis;
    checkUsable(client);
    const mock = isMock(client);
    return { client, mock, cluster: isCluster(client), owned: false, address: addressOf(client), connected: mock ? () => Promise.resolve() : guard(client, timeoutMs, false) };
  }
  if (spec === undefined) spec = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  let client: Redis;
  if (typeof spec === 'string') {
    if (!/^rediss?:\/\//.test(spec)) throw new TypeError(usage(JSON.stringify(spec)));
    client = new Redis(spec, DEFAULTS);
  } else if (typeof spec === 'object' && spec !== null && 'cluster' in spec) {
    const { cluster: nodes, ...rest } = spec;
    if (!Array.isArray(nodes) || nodes.length === 0) throw new TypeError(usage('cluster: not a list of { host, port }'));
    checkOptions(rest, rest.redisOptions);
    const c = new Cluster(nodes, { ...CLUSTER_DEFAULTS, ...rest, redisOptions: { maxRetriesPerRequest: null, ...rest.redisOptions } });
    // A cluster's own errors (node down, slots refresh) reach 'error'/'node error': ours are the worker's and the queue's.
    return { client: c as unknown as Redis, mock: false, cluster: true, owned: true, address: addressOf(c as unknown as Redis), connected: guard(c as unknown as Redis, timeoutMs, false) };
  } else if (typeof spec === 'object' && spec !== null) {
    checkOptions(undefined, spec as RedisOptions);
    // Sentinel: reconnecting asks the sentinels for the master, so READONLY/UNBLOCKED end there,
    // and failoverDetector leaves the old master as soon as a sentinel announces +switch-master
    // (else writes go on landing there, to be dropped once it is made a replica). A plain server
    // that became a replica stays one: the error reaches the caller instead.
    const sentinel = Array.isArray((spec as RedisOptions).sentinels);
    client = new Redis({ ...DEFAULTS, ...(sentinel ? { reconnectOnError: reconnectOnFailover, failoverDetector: true } : {}), ...(spec as RedisOptions) });
  } else throw new TypeError(usage(typeof spec));
  return { client, mock: false, cluster: false, owned: true, address: addressOf(client), connected: guard(client, timeoutMs, true) };
}

export function isCluster(c: unknown): boolean {
  return c instanceof Cluster || (typeof c === 'object' && c !== null && (c as { isCluster?: unknown }).isCluster === true);
}

/** Refuses client options that break the queue later: key names of our own, replica reads. */
function checkUsable(c: Redis): void {
  if (isMock(c)) return;
  if (isCluster(c)) {
    const o = (c as unknown as Cluster).options;
    checkOptions(o, o.redisOptions);
  } else checkOptions(undefined, c.options);
}

function checkOptions(cluster: ClusterOptions | undefined, r: RedisOptions | undefined): void {
  const keyPrefix = cluster?.keyPrefix || r?.keyPrefix;
  if (keyPrefix) {
    throw new TypeError(`setup: the ioredis keyPrefix option (${JSON.stringify(keyPrefix)}) is not supported: key names are built inside Lua scripts, `
      + 'which would not see it; use setup({ prefix }) instead');
  }
  if (cluster?.scaleReads !== undefined && cluster.scaleReads !== 'master') {
    throw new TypeError(`setup: redis scaleReads must be 'master' (got ${JSON.stringify(typeof cluster.scaleReads === 'function' ? 'a function' : cluster.scaleReads)}): `
      + 'a replica lags its master, and a worker reading from one would claim and report stale state');
  }
  if (r?.role === 'slave' || r?.readOnly === true) {
    throw new TypeError(`setup: redis ${r.role === 'slave' ? "role: 'slave'" : 'readOnly: true'} reads from a replica: `
      + 'a queue writes on every operation and must talk to the master');
  }
}

/** The connect timeout: the option, else $ASYNC_CONNECT_TIMEOUT_MS, else 5 s. */
export function connectTimeout(given?: number): number {
  if (given !== undefined) {
    if (!Number.isInteger(given) || given < 1) throw new RangeError(`setup: connectTimeoutMs must be a whole number of ms >= 1 (got ${String(given)})`);
    return given;
  }
  const v = process.env.ASYNC_CONNECT_TIMEOUT_MS;
  if (v === undefined || v === '') return DEFAULT_CONNECT_TIMEOUT_MS;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`ASYNC_CONNECT_TIMEOUT_MS must be a whole number of ms >= 1 (got ${JSON.stringify(v)})`);
  return n;
}

export function addressOf(c: Redis): string {
  if (isCluster(c)) {
    const nodes = ((c as unknown as { startupNodes?: ClusterNode[] }).startupNodes ?? []).map((n) =>
      (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : String(n)));
    return `cluster ${nodes.join(',')}`;
  }
  const opt = c.options ?? {};
  return opt.path ? String(opt.path) : `${opt.host ?? '127.0.0.1'}:${opt.port ?? 6379}`;
}

// ioredis internals used here (pinned version): the offline queue's flush, and the command entry point.
interface Internal {
  flushQueue(error: Error, o: { offlineQueue: boolean; commandQueue: boolean }): void;
  sendCommand(cmd: { reject(e: Error): void; promise: Promise<unknown> }, stream?: unknown): Promise<unknown>;
}

/**
 * Bounds the wait for the first 'ready': after timeoutMs without it, the commands waiting in
 * ioredis's offline queue are rejected, and so is every command sent before the client is ready
 * (ioredis keeps reconnecting meanwhile: once Redis answers, commands go through again). No
 * command pays anything once ready. A borrowed client's commands are left alone (only connected()
 * is bounded). Returns connected().
 */
function guard(client: Redis, timeoutMs: number, own: boolean): () => Promise<void> {
  const c = client as unknown as Internal;
  if (client.status === 'ready') return () => Promise.resolve();
  let ready = false;
  let lastCause = '';
  let failing: RedisUnreachableError | null = null;
  const waiters: { res: () => void; rej: (e: Error) => void }[] = [];
  const unreachable = () => new RedisUnreachableError(
    `Redis at ${addressOf(client)} unreachable: ${lastCause || `no answer within ${timeoutMs / 1000} s`}`
    + ` (gave up after ${timeoutMs / 1000} s; connect timeout: setup({ connectTimeoutMs }) or ASYNC_CONNECT_TIMEOUT_MS)`, addressOf(client));
  const giveUp = () => {
    if (ready) return;
    failing = unreachable();
    if (own) c.flushQueue(failing, { offlineQueue: true, commandQueue: false });
    for (const w of waiters.splice(0)) w.rej(failing);
  };
  const timer = setTimeout(giveUp, timeoutMs);
  timer.unref();
  const onError = (e: Error) => {
    lastCause = e.message;
    // Commands sent after giving up and queued between two attempts: refuse them too.
    if (own && failing && !ready) { failing = unreachable(); c.flushQueue(failing, { offlineQueue: true, commandQueue: false }); }
  };
  client.on('error', onError);
  client.once('ready', () => {
    ready = true;
    client.off('error', onError);
    failing = null;
    clearTimeout(timer);
    for (const w of waiters.splice(0)) w.res();
  });
  client.on('end', () => clearTimeout(timer));
  if (own) {
    const send = c.sendCommand.bind(c);
    c.sendCommand = (cmd, stream) => {
      if (failing && client.status !== 'ready') { cmd.reject(failing); return cmd.promise; }
      return send(cmd, stream);
    };
  }
  return () => {
    if (ready) return Promise.resolve();
    if (failing) return Promise.reject(failing);
    return new Promise<void>((res, rej) => waiters.push({ res, rej }));
  };
}

function isRedisLike(x: unknown): boolean {
  return typeof x === 'object' && x !== null && typeof (x as Redis).defineCommand === 'function' && typeof (x as Redis).hgetall === 'function';
}

function isMock(c: Redis): boolean {
  return /RedisMock/.test(c.constructor?.name ?? '');
}

/** A second connection for blocking reads (BZPOPMIN holds the connection while it waits). */
export function duplicate(c: Redis): Redis {
  // On a cluster, a Cluster of its own: it sends the BZPOPMIN to the node owning the key's slot
  // and follows the slot when it moves (MOVED after a failover).
  if (isCluster(c)) return (c as unknown as Cluster).duplicate([], { enableAutoPipelining: false }) as unknown as Redis;
  return c.duplicate({ ...DEFAULTS, enableAutoPipelining: false });
}
