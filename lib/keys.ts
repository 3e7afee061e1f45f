// Every Redis key name, in one place. Every key of one queue shares the hash tag {prefix:queue},
// so each Lua script touches a single Redis Cluster slot; the global keys ({prefix}:...) share
// the tag {prefix}, a slot of their own. Lua scripts get a queue's keys by these names (a script's
// KEYS binding line names them; see lib/scripts.ts) and build the per-task and per-priority keys
// from `base` exactly as taskKey/dueKey/fifoKey do here.

export const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function checkQueueName(name: unknown): string {
  if (typeof name === 'string' && /[{}]/.test(name)) {
    throw new TypeError(`queue name ${JSON.stringify(name)} contains a brace: its keys carry the Redis Cluster hash tag {prefix:queue}, and a brace inside would split them over slots`);
  }
  if (typeof name !== 'string' || !QUEUE_NAME.test(name)) {
    throw new TypeError(`queue name must be 1-64 characters of A-Z a-z 0-9 _ . - (got ${JSON.stringify(name)})`);
  }
  return name;
}

/** The fixed keys of one queue. The property names are the names Lua scripts bind them to. */
export interface QueueKeys {
  /** Prefix of every key of this queue, e.g. "{async:default}:". */
  base: string;
  /** zset: priorities that have due tasks (member = score = priority). */
  levels: string;
  /** zset: not yet due, score = scheduled_at ms. */
  scheduled: string;
  /** zset: running, score = lease deadline ms. */
  running: string;
  /** zset: finished/cancelled, score = finished_at ms. */
  finished: string;
  /** zset: wake-up marker that idle workers BZPOPMIN. */
  marker: string;
  /** list: ids of changed tasks, for the SQL mirror. */
  outbox: string;
  /** string: outbox entries removed so far by the mirror. */
  outboxDone: string;
  /** zset: samples of the outbox's running count with their time (mirror lag age). */
  mirrorMarks: string;
  /** string: lock of the mirror loop that owns this queue's outbox. */
  mirrorLock: string;
  /** string: lock that throttles the dead-worker sweep. */
  sweeper: string;
  /** hash: recurring schedules, name -> definition JSON (lib/recurring/definition.ts). */
  recurring: string;
  /** zset: recurring schedules, name by next tick ms. */
  recurringNext: string;
  /** hash: recurring schedules, name -> "lastTickMs:lastTaskId" (task id '' when the tick stored none). */
  recurringLast: string;
  /** hash: flow control (paused, hold = no starts until ms, rate_max, rate_ms, rate_n = starts in flowStarts, concurrency). */
  flow: string;
  /** zset: claims inside the rate window (member "ms:first id:its attempt:count", score = start ms; their total is flow.rate_n). */
  flowStarts: string;
  /** hash: task metrics since the start: counts, duration and wait buckets (lib/lua/include/metrics.lua). */
  metrics: string;
  /** hash: per-minute (24 h) and per-hour (30 days) outcome counts, ring slots (lib/lua/include/metrics.lua). */
  metricsSeries: string;
  /** zset: idle workers an enqueue may hand a task to (member "leaseMs:metricsFlag:worker", score = registered ms; lib/worker/handoff.ts). */
  idlers: string;
}

export type QueueKeyName = Exclude<keyof QueueKeys, 'base'>;

export function queueKeys(prefix: string, queue: string): QueueKeys {
  const base = `{${prefix}:${queue}}:`;
  return {
    base,
    levels: base + 'levels',
    scheduled: base + 'scheduled',
    running: base + 'running',
    finished: base + 'finished',
    marker: base + 'marker',
    outbox: base + 'outbox',
    outboxDone: base + 'outbox-done',
    mirrorMarks: base + 'mirror-marks',
    mirrorLock: base + 'mirror-lock',
    sweeper: base + 'sweeper',
    recurring: base + 'recurring',
    recurringNext: base + 'recurring-next',
    recurringLast: base + 'recurring-last',
    flow: base + 'flow',
    flowStarts: base + 'flow-starts',
    metrics: base + 'metrics',
    metricsSeries: base + 'metrics-series',
    idlers: base + 'idlers',
  };
}

/** Task hash: base + 't:' + id. */
export const taskKey = (k: QueueKeys, id: number | string) => `${k.base}t:${id}`;
/** zset of due tasks of one priority that arrived out of order (member: length letter + id). */
export const dueKey = (k: QueueKeys, priority: number | string) => `${k.base}due:${priority}`;
/** list of due tasks of one priority that arrived in order ("time:id"). */
export const fifoKey = (k: QueueKeys, priority: number | string) => `${k.base}fifo:${priority}`;

/** zset: a task handed to an idle worker by enqueue.lua, read by its BZPOPMIN (member: framed task, lib/worker/handoff.ts). */
export const handoffKey = (k: QueueKeys, worker: string) => `${k.base}handoff:${worker}`;

/** string: a unique task's lock, value = the id of the task holding it (lib/unique.ts). */
export const uniqueLockKey = (k: QueueKeys, key: string) => `${k.base}u:${key}`;

/** Global: the task id counter. */
export const idsKey = (prefix: string) => `{${prefix}}:ids`;
/** Global: set of queue names this prefix has seen. */
export const queuesKey = (prefix: string) => `{${prefix}}:queues`;
/** Pub/sub channel: a queue's recurring schedules changed (message: the queue name). */
export const recurringChannel = (prefix: string) => `{${prefix}}:recurring-changed`;
/** Global: worker presence hash (field = worker name, value = JSON). */
export const workersKey = (prefix: string) => `{${prefix}}:workers`;

/** Global pub/sub channel: "<queue> pause|resume|hold" (flow-set.lua, flow-hold.lua), so workers hand back prefetched tasks at once. */
export const flowChannel = (prefix: string) => `{${prefix}}:flow`;

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
