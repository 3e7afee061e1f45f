// The scheduler: every worker process runs one for its worker's queues (no leader). It sleeps
// until the next tick of any schedule it knows, or until a schedule changes (recur-upsert and
// recur-remove publish on a channel it subscribes to; within this process the queue context's
// 'recurring' event), computes the due ticks with croner and calls recur-tick.lua, which stores
// them only if no other scheduler did first. Many schedulers cost duplicate attempts, never
// duplicate tasks.
// Which due ticks it stores (missed ones included): missed.ts.
import type { Redis } from 'ioredis';
import type { QueueContext } from '../context';
import { duplicate } from '../redis';
import { recurringChannel } from '../keys';
import { parsePattern, Pattern } from './pattern';
import type { Definition } from './definition';
import { dueTicks } from './missed';
import { readQueue, tick, StoredSchedule } from './store';

type Known = StoredSchedule & { def: Definition; cron: Pattern };
const MAX_TIMER = 2 ** 31 - 1;
const RETRY_MS = 1000;

export class Scheduler {
  /** When it started: ticks before this are missed ones. */
  readonly startedAt = Date.now();
  private known = new Map<string, Map<string, Known>>();
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
        let soonest = Infinity;
        for (const schedules of this.known.values()) {
          for (const s of schedules.values()) {
            if (this.stopped || s.next === null) continue;
            if (s.next <= Date.now()) await this.due(s);
            if (s.next !== null) soonest = Math.min(soonest, s.next);
          }
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
    const old = this.known.get(queue);
    for (const s of await readQueue(this.ctx, queue)) {
      if (s.def instanceof Error) { this.onError(s.def); continue; }
      let cron = old?.get(s.name)?.json === s.json ? old.get(s.name)?.cron : undefined;
      try {
        cron ??= parsePattern(s.def.pattern, s.def.tz);
      } catch (e) {
        this.onError(new Error(`recurring schedule ${JSON.stringify(s.name)} in queue ${queue}: ${(e as Error).message}`));
        continue;
      }
      schedules.set(s.name, { ...s, def: s.def, cron });
    }
    this.known.set(queue, schedules);
  }

  private async due(s: Known): Promise<void> {
    const now = Date.now();
    const ticks = dueTicks(s.cron, s.def.missed, s.next as number, this.startedAt, now);
    const nextAt = s.cron.next(now);
    const ids = ticks.length > 0 ? await this.ctx.ids.take(ticks.length) : [];
    const r = await tick(this.ctx, s, s.next as number, nextAt, ticks, ids);
    if ('ids' in r) {
      s.next = nextAt;
      if (r.ids.length > 0) this.ctx.emit('enqueued', s.def.queue);
    } else if ('lost' in r) s.next = r.lost;
    else this.dirty.add(s.def.queue);
  }
}
