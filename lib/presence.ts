// Worker presence: every CLI worker keeps an entry in the hash `{prefix}:workers` (field = worker
// name, value = JSON) and refreshes it on a heartbeat, so `status` can list workers of every host
// from Redis alone. An entry carries its own expiry time: a reader drops entries whose writer
// stopped heart-beating (killed, host gone), whatever heartbeat interval that writer used.
import { hostname } from 'os';
import type { Redis } from 'ioredis';
import { workersKey } from './keys';


/** A heartbeat is missed this many times before the entry counts as gone. */
const MISSES = 3;

export interface PresenceEntry {
  name: string;
  uid: number | null;
  pid: number;
  /** The supervisor's pid for a worker started by `start`, else null. */
  supervisor: number | null;
  host: string;
  queues: string[];
  concurrency: number;
  started: number;
  heartbeat: number;
  /** heartbeat + MISSES intervals: after this the entry is stale. */
  expires: number;
  done: number;
  failed: number;
  running: number;
  rss: number;
  /** 'running', or 'stopping' once shutdown began. */
  state: string;
}

export type PresenceInfo = Omit<PresenceEntry, 'heartbeat' | 'expires' | 'host' | 'rss' | 'started' | 'state' | 'done' | 'failed' | 'running'>;

export interface StatsSource { readonly stats: { done: number; failed: number; running: number } }

/** Keeps one worker's entry fresh until stop(). */
export class Presence {
  private timer?: NodeJS.Timeout;
  private readonly started = Date.now();
  private state = 'running';
  private readonly host = hostname();
  private inFlight = false;

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly info: PresenceInfo,
    private readonly source: StatsSource, private readonly intervalMs = heartbeatInterval()) {}

  entry(): PresenceEntry {
    const now = Date.now();
    const { done, failed, running } = this.source.stats;
    return { ...this.info, host: this.host, started: this.started, heartbeat: now, expires: now + MISSES * this.intervalMs,
      done, failed, running, rss: process.memoryUsage().rss, state: this.state };
  }

  async beat(): Promise<void> {
    await this.redis.hset(workersKey(this.prefix), this.info.name, JSON.stringify(this.entry()));
  }

  /** Writes the entry now, then on every interval; a failed write is retried on the next beat. */
  async start(onError: (err: Error) => void = () => undefined): Promise<void> {
    await this.beat();
    // While Redis is away a beat waits in ioredis's queue: no second one piles up behind it.
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = true;
      this.beat().catch(onError).finally(() => { this.inFlight = false; });
    }, this.intervalMs);
    this.timer.unref();
  }

  async stopping(): Promise<void> {
    this.state = 'stopping';
    await this.beat().catch(() => undefined);
  }

  /** Removes the entry: the worker is gone. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(workersKey(this.prefix), this.info.name);
  }
}

/** ASYNC_HEARTBEAT_MS, default 5000 (lower only makes `status` notice dead workers sooner). */
export function heartbeatInterval(): number {
  const v = process.env.ASYNC_HEARTBEAT_MS;
  if (v === undefined || v === '') return 5000;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 50) throw new RangeError(`ASYNC_HEARTBEAT_MS must be an integer >= 50 (got ${JSON.stringify(v)})`);
  return n;
}

/** Live entries of every host, oldest first; stale and unreadable entries are removed on the way. */
export async function listWorkers(redis: Redis, prefix: string, now = Date.now()): Promise<PresenceEntry[]> {
  const raw = await redis.hgetall(workersKey(prefix));
  const live: PresenceEntry[] = [];
  const stale: string[] = [];
  for (const [name, json] of Object.entries(raw)) {
    let e: PresenceEntry | null = null;
    try { e = JSON.parse(json) as PresenceEntry; } catch { /* unreadable: dropped below */ }
    if (!e || typeof e.expires !== 'number' || e.expires < now) stale.push(name);
    else live.push(e);
  }
  // HDEL only what is still the stale value, so a worker that beat meanwhile is not removed.
  for (const name of stale) {
    await redis.eval("if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0",
      1, workersKey(prefix), name, raw[name]);
  }
  return live.sort((a, b) => a.started - b.started || a.name.localeCompare(b.name));
}
