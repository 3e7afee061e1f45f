// Redis key layout. Every key of one queue shares the hash tag {prefix:queue}, so each Lua
// script touches a single Redis Cluster slot; only the id counter and queue set are global.

export const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function checkQueueName(name: unknown): string {
  if (typeof name !== 'string' || !QUEUE_NAME.test(name)) {
    throw new TypeError(`queue name must be 1-64 characters of A-Z a-z 0-9 _ . - (got ${JSON.stringify(name)})`);
  }
  return name;
}

export interface QueueKeys {
  /** Prefix of every key of this queue, e.g. "{async:default}:"; task hashes are base + "t:" + id. */
  base: string;
  /** The fixed KEYS every script receives, in this order. */
  scriptKeys: string[];
  marker: string;
  outbox: string;
  levels: string;
  scheduled: string;
  running: string;
  finished: string;
}

export function queueKeys(prefix: string, queue: string): QueueKeys {
  const base = `{${prefix}:${queue}}:`;
  const levels = base + 'levels';
  const scheduled = base + 'scheduled';
  const running = base + 'running';
  const marker = base + 'marker';
  const outbox = base + 'outbox';
  const finished = base + 'finished';
  return { base, levels, scheduled, running, marker, outbox, finished,
    scriptKeys: [levels, scheduled, running, marker, outbox, finished] };
}

/** Items grouped by their queue, in first-seen order (one script call per queue). */
export function groupByQueue<T>(items: Iterable<T>, queueOf: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of items) {
    const q = queueOf(x);
    const l = out.get(q);
    if (l) l.push(x); else out.set(q, [x]);
  }
  return out;
}

export const taskKey = (k: QueueKeys, id: number | string) => `${k.base}t:${id}`;
export const idsKey = (prefix: string) => `{${prefix}}:ids`;
export const queuesKey = (prefix: string) => `{${prefix}}:queues`;
