// The scheduler: every worker process runs one for its worker's queues (no leader). It sleeps
// until the next tick of any schedule it knows, or until a schedule changes (recur-upsert and
// recur-remove publish on a channel it subscribes to; within this process the queue context's
// 'recurring' event), computes the due ticks with croner and calls recur-tick.lua, which stores
// them only if no other scheduler did first. Many schedulers cost duplicate attempts, never
// duplicate tasks.
// The ticks due at once (many schedules on the same second) go to Redis in one recur-tick call
// per queue and batch, the batches sent together: one round trip for them all, not one per
// schedule, while a capped batch keeps each script short. Each pattern remembers its next ticks
// (remembering()) and is shared by the schedules that have it, so croner computes each tick once.
// Which due ticks it stores (missed ones included): missed.ts.
import type { Redis } from 'ioredis';
import type { QueueContext } from '../context';
import { duplicate } from '../redis';
import { recurringChannel } from '../keys';
import { parsePattern, remembering, Pattern } from './pattern';
import type { Definition } from './definition';
import { dueTicks } from './missed';
import { readQueue, tickBatch, StoredSchedule, TickPlan } from './store';

type Known = StoredSchedule & { def: Definition; cron: Pattern };
type Plan = TickPlan & { s: Known };
const MAX_TIMER = 2 ** 31 - 1;
const RETRY_MS = 1000;
/** At most this many schedules, and (unless one schedule alone has more) ticks, per recur-tick call. */
export const BATCH_SCHEDULES = 200;
export const BATCH_TICKS = 500;

export class Scheduler {
  /** When it started: ticks before this are missed ones. */
  readonly startedAt = Date.now();
  private known = new Map<string, Map<string, Known>>();
  private patterns = new Map<string, Pattern>();
  private dirty = new Set<string>();
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private wakeUp: (() => void) | null = null;
  private sub: Redis | null = null;
  private loop: Promise<void> = Promise.resolve();
  private onLocal = (q: string) => this.changed(q);

  constructor(private readonly ctx: QueueContext, readonly queues: string[], private readonly onError: (e: Error) => void) {}

  start(): void {
    for (const q of this.queues) this.dirty.add(q);
    this.ctx.on('recurring', this.onLocal);
    if (!this.ctx.mock) {
      const sub = duplicate(this.ctx.redis);
      this.sub = sub;
      sub.on('error', () => undefined); // reconnects by itself; what it missed meanwhile is read again below
      sub.on('message', (_ch: string, q: string) => this.changed(q));
      // After a reconnect, changes published meanwhile were lost: read everything again.
      sub.on('ready', () => { for (const q of this.queues) this.changed(q); });
      sub.subscribe(recurringChannel(this.ctx.prefix)).catch((e: Error) => { if (!this.stopped) this.onError(e); }); // cut off by stop(): no error
    }
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ctx.off('recurring', this.onLocal);
    this.wake();
    await this.loop;
    if (this.sub) this.sub.disconnect();
  }

  private changed(queue: string): void {
    if (!this.queues.includes(queue)) return;
    this.dirty.add(queue);
    this.wake();
  }

  private wake(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        for (const q of [...this.dirty]) {
          this.dirty.delete(q);
          await this.load(q);
        }
        await this.tickDue();
        let soonest = Infinity;
        for (const schedules of this.known.values()) {
          for (const s of schedules.values()) if (s.next !== null) soonest = Math.min(soonest, s.next);
        }
        if (this.dirty.size === 0) await this.sleep(soonest - Date.now());
      } catch (e) {
        if (this.stopped) break;
        this.onError(e as Error);
        for (const q of this.queues) this.dirty.add(q);
        await this.sleep(RETRY_MS);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      if (ms === Infinity) return; // until a change
      this.timer = setTimeout(() => this.wake(), Math.max(0, Math.min(ms, MAX_TIMER)));
    });
  }

  private async load(queue: string): Promise<void> {
    const schedules = new Map<string, Known>();
    for (const s of await readQueue(this.ctx, queue)) {
      if (s.def instanceof Error) { this.onError(s.def); continue; }
      let cron: Pattern;
      try {
        cron = this.patternOf(s.def);
      } catch (e) {
        this.onError(new Error(`recurring schedule ${JSON.stringify(s.name)} in queue ${queue}: ${(e as Error).message}`));
        continue;
      }
      schedules.set(s.name, { ...s, def: s.def, cron });
    }
    this.known.set(queue, schedules);
    // Patterns no schedule uses any more are dropped.
    const used = new Set<Pattern>();
    for (const q of this.known.values()) for (const k of q.values()) used.add(k.cron);
    for (const [key, p] of this.patterns) if (!used.has(p)) this.patterns.delete(key);
  }

  /**
   * One remembering Pattern per pattern and zone, shared by the schedules that have it: schedules
   * of the same pattern tick together, so croner computes each of those ticks once for all.
   */
  private patternOf(def: Definition): Pattern {
    const key = `${def.tz} ${def.pattern}`;
    let p = this.patterns.get(key);
    if (!p) {
      p = remembering(parsePattern(def.pattern, def.tz), 8);
      this.patterns.set(key, p);
    }
    return p;
  }

  /** Every schedule whose next tick has come: per queue, batches of them, all sent at once. */
  private async tickDue(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const batches: [string, Plan[]][] = [];
    let total = 0;
    for (const [queue, schedules] of this.known) {
      let batch: Plan[] = [], ticks = 0;
      for (const s of schedules.values()) {
        if (s.next === null || s.next > now) continue;
        const plan: Plan = { s, expected: s.next, ticks: dueTicks(s.cron, s.def.missed, s.next, this.startedAt, now), nextAt: s.cron.next(now), ids: [] };
        if (batch.length > 0 && (batch.length >= BATCH_SCHEDULES || ticks + plan.ticks.length > BATCH_TICKS)) {
          batches.push([queue, batch]);
          batch = [];
          ticks = 0;
        }
        batch.push(plan);
        ticks += plan.ticks.length;
        total += plan.ticks.length;
      }
      if (batch.length > 0) batches.push([queue, batch]);
    }
    if (batches.length === 0) return;
    const ids = total > 0 ? await this.ctx.ids.take(total) : [];
    let taken = 0;
    for (const [, batch] of batches) for (const p of batch) { p.ids = ids.slice(taken, taken += p.ticks.length); }
    const done = await Promise.allSettled(batches.map(([queue, batch]) => this.store(queue, batch)));
    const failed = done.find((d): d is PromiseRejectedResult => d.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async store(queue: string, batch: Plan[]): Promise<void> {
    const results = await tickBatch(this.ctx, queue, batch);
    let stored = false;
    results.forEach((r, i) => {
      const { s, nextAt } = batch[i];
      if ('ids' in r) {
        s.next = nextAt;
        // The tick after it, now while nothing is due, rather than when it is: then that call
        // finds it remembered (remembering()), and planning a tick asks croner nothing.
        if (nextAt !== null) s.cron.next(nextAt);
        if (r.ids.length > 0) stored = true;
      } else if ('lost' in r) s.next = r.lost;
      else this.dirty.add(queue);
    });
    if (stored) this.ctx.emit('enqueued', queue);
  }
}
