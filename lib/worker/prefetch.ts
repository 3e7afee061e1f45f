// Claims ahead of the free slots, held (leased) in this process so the next task starts without a
// Redis round trip. 'auto' claims ahead only while draining a backlog of short tasks; a held task
// that waits HAND_BACK_MS anyway (the task ahead of it ran long) goes back to the queue via
// release.lua for other workers. (graphile-worker's localQueue.ts is the model.)
import { groupByQueue } from '../keys';
import type { Claimed } from '../claim-reply';
import type { ScriptHost } from './host';

// Auto: claim ahead only while tasks take under AUTO_SHORT_MS on average, and only as many as
// finish within AUTO_BUDGET_MS.
const AUTO_SHORT_MS = 2;
const AUTO_BUDGET_MS = 2;
const AUTO_CAP = 16;
const HAND_BACK_MS = 10;
/** A claim that got all it asked for says a backlog waits, for this long. */
const BACKLOG_MS = 250;

export type PrefetchSetting = number | 'auto';

export interface PrefetchHooks {
  /**
   * Held tasks went back to the queue, or could not (then they are held again): start what fits, and
   * claim into slots still free (nothing else may be due to wake the worker: it is not resting).
   */
  resume(): void;
  error(err: unknown): void;
}

/** (id, attempt) pairs: what extend.lua and release.lua take to know an attempt is still ours. */
export const leaseTokens = (ts: Claimed[]) => ts.flatMap((t) => [t.id, t.attempt]);
/** release.lua's ARGV: the attempts that started, then those held prefetched (never started: their rate starts are refunded). */
export const releaseArgs = (started: Claimed[], held: Claimed[]) => [started.length, ...leaseTokens(started), ...leaseTokens(held)];

export class Prefetch {
  private held: { t: Claimed; since: number }[] = [];
  /** Moving average of task durations (ms); unknown until one finishes, so a new worker claims no extra. */
  private avgMs = Infinity;
  /** Start times of the running attempts, oldest first (a Map keeps insertion order). */
  private startedAt = new Map<string, number>();
  private backlogUntil = 0;
  private handBackTimer?: NodeJS.Timeout;
  private handingBack: Promise<void> | null = null;
  private closed = false;

  constructor(readonly setting: PrefetchSetting, private readonly concurrency: number,
    private readonly host: ScriptHost, private readonly hooks: PrefetchHooks) {}

  /** How many tasks to claim beyond the free slots now. */
  extra(): number {
    if (this.setting !== 'auto') return this.setting;
    // Only while draining a backlog of short tasks: a task enqueued into an idle queue is claimed alone.
    if (!(this.avgMs < AUTO_SHORT_MS) || !this.backlog) return 0;
    // A task running longer than the budget already: whatever is claimed now would wait behind it.
    const oldest = this.startedAt.values().next().value;
    if (oldest !== undefined && performance.now() - oldest > AUTO_BUDGET_MS) return 0;
    return Math.min(Math.max(AUTO_CAP, this.concurrency), Math.floor(AUTO_BUDGET_MS * this.concurrency / Math.max(this.avgMs, 0.05)));
  }

  /** A claim asked for `want` and got `got`: all of it means more is probably waiting; fewer, the queue ran dry. */
  claimed(want: number, got: number): void {
    if (want > 0) this.backlogUntil = got === want ? performance.now() + BACKLOG_MS : 0;
  }

  /** The last claims took all they asked for. */
  get backlog(): boolean { return performance.now() < this.backlogUntil; }

  get size(): number { return this.held.length; }

  /** The held tasks (their leases are renewed with the running ones). */
  *tasks(): Iterable<Claimed> { for (const h of this.held) yield h.t; }

  /** Keeps a claimed task until a slot frees. */
  hold(t: Claimed): void {
    this.held.push({ t, since: performance.now() });
    if (this.setting === 'auto') this.armHandBack();
  }

  /** The next held task, oldest first. */
  take(): Claimed | undefined { return this.held.shift()?.t; }

  /** Removes and returns the held tasks of one queue (it was paused: they go back). */
  takeQueue(queue: string): Claimed[] {
    const out = this.held.filter((h) => h.t.queue === queue).map((h) => h.t);
    if (out.length > 0) this.held = this.held.filter((h) => h.t.queue !== queue);
    return out;
  }

  /** Drops held tasks whose lease went to another worker. */
  discard(queue: string, ids: Set<string>): void {
    this.held = this.held.filter((h) => h.t.queue !== queue || !ids.has(h.t.id));
  }

  /** An attempt started (key: queue:id); its age stops auto prefetch while it runs long. */
  began(key: string): void { this.startedAt.set(key, performance.now()); }

  /** An attempt ended: returns how long it ran (ms) and folds that into the average. */
  ended(key: string): number {
    const ms = performance.now() - (this.startedAt.get(key) ?? performance.now());
    this.startedAt.delete(key);
    this.avgMs = this.avgMs === Infinity ? ms : this.avgMs * 0.8 + ms * 0.2;
    return ms;
  }

  /** Stops handing back and returns what is still held (the stopping worker releases it with the rest). */
  async close(): Promise<Claimed[]> {
    this.closed = true;
    clearTimeout(this.handBackTimer);
    await this.handingBack;
    return this.held.splice(0).map((h) => h.t);
  }

  private armHandBack(): void {
    if (this.closed || this.handBackTimer || this.held.length === 0) return;
    const due = this.held[0].since + HAND_BACK_MS - performance.now();
    this.handBackTimer = setTimeout(() => {
      this.handBackTimer = undefined;
      this.handingBack ??= this.handBack().finally(() => { this.handingBack = null; });
    }, Math.max(1, due));
  }

  /** Auto prefetch guessed wrong (the task ahead runs long): give the held ones back to the queue. */
  private async handBack(): Promise<void> {
    if (this.closed || this.held.length === 0) return;
    if (performance.now() - this.held[0].since < HAND_BACK_MS) { this.armHandBack(); return; }
    const back = this.held.splice(0).map((h) => h.t);
    // Tasks this slow are not short: claim no extra until the average says so again.
    this.avgMs = Math.max(this.avgMs, HAND_BACK_MS);
    for (const [q, ts] of groupByQueue(back, (t) => t.queue)) {
      try {
        await this.host.script('release', q, releaseArgs([], ts));
      } catch (err) {
        // Still leased to us: hold them (renewed), start them when a slot frees, try again later.
        this.hooks.error(err);
        for (const t of ts) this.held.push({ t, since: performance.now() });
      }
    }
    this.hooks.resume();
    this.armHandBack();
  }
}
