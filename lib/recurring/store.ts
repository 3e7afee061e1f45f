// The recurring schedules in Redis: per queue, in that queue's hash-tag slot, the hashes
// `recurring` (name -> definition JSON) and `recurring-last` (name -> "tick:taskId") and the
// zset `recurring-next` (name by next tick). Every change is one Lua script: recur-upsert,
// recur-remove, recur-tick (the exactly-once step).
import type { QueueContext } from '../context';
import { recurringChannel, taskKey } from '../keys';
import { fieldsFromHash } from '../task';
import type { TaskState } from '../../types';
import { Definition, decodeDefinition, encodeDefinition, targetLabel } from './definition';

/** One schedule as `queue.recurring()` lists it. */
export interface RecurringInfo {
  name: string;
  queue: string;
  pattern: string;
  tz: string;
  /** 'Type' or 'Type(id)'. */
  target: string;
  action: string;
  /** Its next tick (null: the pattern has none left). */
  next: Date | null;
  /** The tick of its last stored task (null: none yet). */
  last: Date | null;
  lastTaskId: number | null;
  /** That task's state (null: none, or it is gone). */
  lastState: TaskState | null;
  /** That task's error message when it failed (e.g. the target no longer exists in the code). */
  lastError: string | null;
  /** Set when the stored definition cannot be read (then the other fields are empty). */
  problem?: string;
}

/** recur-upsert.lua: true when stored or replaced, false when it was stored exactly so. */
export async function upsert(ctx: QueueContext, def: Definition, nextAt: number | null): Promise<boolean> {
  await ctx.noteQueue(def.queue);
  const r = await ctx.script('recur-upsert', def.queue, [def.name, encodeDefinition(def), nextAt === null ? '' : String(nextAt),
    recurringChannel(ctx.prefix), def.queue]);
  return Number(r) === 1;
}

/** recur-remove.lua in every queue (or one): true when a schedule of that name was removed. */
export async function remove(ctx: QueueContext, name: string, queue?: string): Promise<boolean> {
  if (typeof name !== 'string' || name === '') throw new TypeError(`unschedule: give a schedule name (got ${JSON.stringify(name)})`);
  const queues = queue !== undefined ? [queue] : await ctx.queueNames();
  let removed = false;
  for (const q of queues) {
    if (Number(await ctx.script('recur-remove', q, [name, recurringChannel(ctx.prefix), q])) === 1) removed = true;
  }
  return removed;
}

export interface StoredSchedule { name: string; json: string; def: Definition | Error; next: number | null }

/** Every schedule of one queue, as stored. */
export async function readQueue(ctx: QueueContext, queue: string): Promise<StoredSchedule[]> {
  const k = ctx.keys(queue);
  const [defs, nexts] = await Promise.all([ctx.redis.hgetall(k.recurring), ctx.redis.zrange(k.recurringNext, 0, -1, 'WITHSCORES')]);
  const next = new Map<string, number>();
  for (let i = 0; i < nexts.length; i += 2) next.set(nexts[i], Number(nexts[i + 1]));
  return Object.entries(defs).map(([name, json]) => ({ name, json, def: decodeDefinition(name, json), next: next.get(name) ?? null }));
}

/** `queue.recurring()`: every schedule of every queue, by queue then name. */
export async function list(ctx: QueueContext): Promise<RecurringInfo[]> {
  const out: RecurringInfo[] = [];
  for (const queue of await ctx.queueNames()) {
    const stored = (await readQueue(ctx, queue)).sort((a, b) => (a.name < b.name ? -1 : 1));
    if (stored.length === 0) continue;
    const lasts = await ctx.redis.hgetall(ctx.keys(queue).recurringLast);
    for (const s of stored) {
      const [lastTick, lastId] = (lasts[s.name] ?? '').split(':');
      const info: RecurringInfo = {
        name: s.name, queue, pattern: '', tz: '', target: '', action: '', next: s.next === null ? null : new Date(s.next),
        last: lastTick ? new Date(Number(lastTick)) : null, lastTaskId: lastId ? Number(lastId) : null, lastState: null, lastError: null,
      };
      if (s.def instanceof Error) info.problem = s.def.message;
      else Object.assign(info, { pattern: s.def.pattern, tz: s.def.tz, target: targetLabel(s.def.type, s.def.objectId), action: s.def.action });
      if (lastId) {
        const h = await ctx.redis.hgetallBuffer(taskKey(ctx.keys(queue), lastId)) as unknown as Record<string, Buffer>;
        if (h && Object.keys(h).length > 0) {
          const f = fieldsFromHash(queue, h);
          info.lastState = f.state;
          if (f.state === 'failed') info.lastError = f.errors[f.errors.length - 1]?.message ?? null;
        }
      }
      out.push(info);
    }
  }
  return out;
}

/** One schedule's part of a recur-tick call: its due `ticks` (with `ids` taken for them), from its stored next tick `expected` to `nextAt`. */
export interface TickPlan { s: StoredSchedule & { def: Definition }; expected: number; nextAt: number | null; ticks: number[]; ids: number[] }

export type TickResult = { ids: number[] } | { lost: number } | { changed: true };

/** A definition's task fields as recur-tick.lua takes them, built once per definition. */
const taskArgs = new WeakMap<Definition, (string | Buffer)[]>();
function taskArgsOf(d: Definition): (string | Buffer)[] {
  let a = taskArgs.get(d);
  if (!a) {
    a = [d.type, d.objectId ?? '', d.action, d.args ? Buffer.from(d.args, 'base64') : '', String(d.priority), d.overlap === false ? '0' : '1',
      String(d.extra.length / 2), ...d.extra];
    taskArgs.set(d, a);
  }
  return a;
}

/**
 * recur-tick.lua for schedules of one queue, in one call: for each, stores a task for each of its
 * ticks if the schedule still has `expected` as its next tick and `json` as its definition, and
 * advances it to `nextAt`. Per plan, in order: the ids stored, { lost: stored next tick } when
 * another scheduler came first, or { changed: true } when the schedule was replaced or removed
 * since it was read.
 */
export async function tickBatch(ctx: QueueContext, queue: string, plans: TickPlan[]): Promise<TickResult[]> {
  const argv: (string | Buffer)[] = [String(plans.length)];
  for (const p of plans) {
    argv.push(p.s.name, p.s.json, String(p.expected), p.nextAt === null ? '' : String(p.nextAt), ...taskArgsOf(p.s.def), String(p.ticks.length));
    for (let i = 0; i < p.ticks.length; i++) argv.push(String(p.ticks[i]), String(p.ids[i]));
  }
  // A pipeline of its own per call, written at once: the first batch of a burst reaches Redis, and
  // its tasks a worker, without waiting for the auto-pipeline that carries the others.
  const r = await ctx.scriptNow('recur-tick', queue, argv) as string[];
  return plans.map((_, i) => {
    const [status, value] = [String(r[2 * i]), String(r[2 * i + 1] ?? '')];
    if (status === '1') return { ids: value ? value.split(',').map(Number) : [] };
    if (status === '0') return { lost: Number(value) };
    return { changed: true };
  });
}
