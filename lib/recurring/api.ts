// What Queue delegates to: every() (an upsert by name: meant to be called in every process at
// boot), recurring() (the list) and unschedule(name); and the scheduler a worker starts.
import type { QueueContext } from '../context';
import { describeObject, describeInstance } from '../enqueue/target';
import { enqueueDefaults } from '../registry';
import { buildDefinition, RecurringOptions } from './options';
import { upsert, remove, list, RecurringInfo } from './store';
import { Scheduler } from './scheduler';

export type { RecurringOptions } from './options';
export type { RecurringInfo } from './store';

/** What every() resolves to. */
export interface RecurringSchedule {
  name: string;
  queue: string;
  pattern: string;
  tz: string;
  /** Its first tick from now (null: the pattern has none). */
  next: Date | null;
  /** false when the same schedule was stored already (it keeps its next tick). */
  changed: boolean;
}

export async function every(ctx: QueueContext, target: object, pattern: string, action: string, opts?: RecurringOptions): Promise<RecurringSchedule> {
  const d = ctx.registry.isInstance(target) ? await describeInstance(ctx.registry, target, action)
    : describeObject(ctx.registry, target, action);
  const { def, cron } = buildDefinition(d, pattern, action, opts, enqueueDefaults(target, action, d.type));
  const next = cron.next(Date.now());
  const changed = await upsert(ctx, def, next);
  if (changed) ctx.emit('recurring', def.queue);
  return { name: def.name, queue: def.queue, pattern: def.pattern, tz: def.tz, next: next === null ? null : new Date(next), changed };
}

export function recurring(ctx: QueueContext): Promise<RecurringInfo[]> {
  return list(ctx);
}

/** Removes the schedule `name` (from every queue that has one of that name); false when there was none. */
export async function unschedule(ctx: QueueContext, name: string): Promise<boolean> {
  const removed = await remove(ctx, name);
  if (removed) for (const q of await ctx.queueNames()) ctx.emit('recurring', q);
  return removed;
}

/** The part of a Worker its scheduler needs. */
export interface SchedulerHost {
  readonly queues: string[];
  once(event: 'started' | 'stopped', fn: () => void): unknown;
  listenerCount(event: 'error'): number;
  emit(event: 'error', e: Error): boolean;
}

/** Every worker runs a scheduler for its queues while it runs (from 'started' to 'stopped'); its errors go to the worker's 'error'. */
export function attachScheduler(ctx: QueueContext, w: SchedulerHost): void {
  w.once('started', () => {
    const s = new Scheduler(ctx, w.queues, (e) => { if (w.listenerCount('error') > 0) w.emit('error', e); });
    s.start();
    w.once('stopped', () => void s.stop());
  });
}
