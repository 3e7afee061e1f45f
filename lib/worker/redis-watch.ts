// Tells an outage from an error Redis answered with, and reports each outage once: the worker's
// loops retry every 200 ms while Redis is away, and an 'error' per retry would bury the one fact
// (Redis went away at T) under noise. 'reconnected' follows when a command gets an answer again.
import { ReplyError } from 'ioredis';
import type { Redis } from 'ioredis';
import { RedisUnreachableError } from '../errors';
export { addressOf } from '../redis';

// Socket-level failures (Node's errno codes) that mean "no answer", not "Redis said no".
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH',
  'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']);

// Answers that mean "a failover is under way" (the node is no longer, or not yet, the master; the
// cluster is electing one): an outage like no answer at all, waited out and retried.
const FAILOVER = /^(UNBLOCKED|READONLY|CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN)\b|Too many Cluster redirections|Cluster isn't ready|None of startup nodes is available|Failed to refresh slots cache/;

/** A failover's sign: UNBLOCKED, READONLY, CLUSTERDOWN, ... or ioredis's cluster giving up a redirection. */
export function isFailoverError(err: unknown): boolean {
  return FAILOVER.test(String((err as Error | null)?.message ?? ''));
}

/** True when a failed command never got a usable answer from Redis (as against a ReplyError, which is one; a failover's are not). */
export function isConnectionError(err: unknown): boolean {
  if (isFailoverError(err)) return true;
  if (err instanceof ReplyError) return false;
  if (err instanceof RedisUnreachableError) return true;
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  return (typeof e.code === 'string' && NET_CODES.has(e.code)) || e.name === 'MaxRetriesPerRequestError'
    || /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|Command aborted due to connection close/.test(String(e.message ?? ''));
}

// One 'error' listener per client, fanned out to its watchers: many workers share a queue's client,
// and a listener each would pass EventEmitter's limit of 10.
const watchers = new WeakMap<Redis, { fn: (e: Error) => void; set: Set<RedisWatch> }>();

export class RedisWatch {
  private downSince: number | null = null;
  private clients = new Set<Redis>();

  constructor(
    private readonly who: string,
    private readonly address: string,
    private readonly onDown: (e: RedisUnreachableError) => void,
    private readonly onUp: (downMs: number) => void,
  ) {}

  /** ioredis reports each failed (re)connect attempt on its 'error' event: each is a sign of the outage. */
  watch(client: Redis): void {
    let w = watchers.get(client);
    if (!w) {
      const set = new Set<RedisWatch>();
      w = { set, fn: (e: Error) => { for (const x of set) x.lost(e); } };
      watchers.set(client, w);
      client.on('error', w.fn);
    }
    w.set.add(this);
    this.clients.add(client);
  }

  unwatch(): void {
    for (const client of this.clients) {
      const w = watchers.get(client);
      if (!w) continue;
      w.set.delete(this);
      if (w.set.size === 0) { client.off('error', w.fn); watchers.delete(client); }
    }
    this.clients.clear();
  }

  /** A command got an answer (a ReplyError is one too). */
  answered(): void {
    if (this.downSince === null) return;
    const downMs = Date.now() - this.downSince;
    this.downSince = null;
    this.onUp(downMs);
  }

  /** No answer: the first sign of an outage is reported, the rest are the same outage. */
  lost(cause: unknown): void {
    if (this.downSince !== null) return;
    this.downSince = Date.now();
    const why = (cause as Error)?.message ?? String(cause);
    this.onDown(cause instanceof RedisUnreachableError ? cause
      : new RedisUnreachableError(`${this.who}: Redis at ${this.address} unreachable (${why}); retrying until it answers`, this.address));
  }
}
