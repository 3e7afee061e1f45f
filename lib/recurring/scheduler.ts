// The scheduler: every worker process runs one for its worker's queues (no leader). It sleeps
// until the next tick of any schedule it knows, or until a schedule changes (recur-upsert and
// recur-remove publish on a channel it subscribes to; within this process the queue context's
// 'recurring' event), computes the due ticks with croner and calls recur-tick.lua, which stores
// them only if no other scheduler did first. Many schedulers cost duplicate attempts, never
// duplicate tasks.
//
// Missed ticks: a tick that passed before this scheduler started (no scheduler of this process
// ran then; if another had, it would have advanced the schedule past it) is missed and handled as
// the schedule's `missed` says: 'skip' drops them, 'latest' runs the newest once, 'all' runs each
// (the newest 1,000). Ticks that passed while it ran (it was late: a busy event loop, a Redis
// round trip) all run.
import type { Redis } from 'ioredis';
import type { QueueContext } from '../context';
import { duplicate } from '../redis';
import { recurringChannel } from '../keys';
import { parsePattern, Pattern } from './pattern';
import { Definition, MAX_MISSED } from './definition';
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
      sub.subscribe(recurringChannel(this.ctx.prefix)).catch((e: Error) => this.onError(e));
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

  /** The ticks to store now for a schedule whose stored next tick has come. */
  ticksFor(s: Known, now: number): number[] {
    const from = s.next as number;
    const since = (t: number[]) => t.filter((x) => x >= from).reverse();
    const late = since(s.cron.previous(MAX_MISSED, now)).filter((t) => t >= this.startedAt);
    let missed: number[] = [];
    if (from < this.startedAt) {
      const before = this.startedAt - 1;
      if (s.def.missed === 'latest') missed = since(s.cron.previous(1, before));
      else if (s.def.missed === 'all') missed = since(s.cron.previous(MAX_MISSED, before));
    }
    return [...missed, ...late].slice(-MAX_MISSED);
  }

  private async due(s: Known): Promise<void> {
    const now = Date.now();
    const ticks = this.ticksFor(s, now);
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
