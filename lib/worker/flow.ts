// Flow control, the worker's side. The limits themselves are enforced by the claim script
// (include/flow.lua); here: a pause (or a RateLimitedError's hold) makes the worker hand back the
// tasks it holds prefetched for that queue at once, told by pub/sub on flowChannel rather than found
// by polling; a resume or new limits wake it. A method that throws RateLimitedError puts its task back
// (flow-hold.lua) instead of recording a failure.
import type { Redis } from 'ioredis';
import type { Claimed } from '../claim-reply';
import type { Outcome } from '../perform';
import { RateLimitedError } from '../errors';
import { flowChannel } from '../keys';
import { duplicate } from '../redis';
import type { WorkerHost } from './host';
import { leaseTokens, releaseArgs } from './prefetch';
import { sleep } from '../util/sleep';

/** How long start() waits for the flow subscription before claiming anyway (it goes on subscribing). */
const SUBSCRIBE_WAIT_MS = 2000;

export interface FlowHooks {
  /** Removes and returns the tasks of `queue` held prefetched (not started). */
  takeHeld(queue: string): Claimed[];
  /** Look for work (a resume, new limits, a hold whose end to wait for). */
  wake(): void;
  error(err: unknown): void;
}

/** The ms of a RateLimitedError outcome, else undefined (by name too: another copy of the package may have thrown it). */
function rateLimitedMs(o: Outcome): number | undefined {
  const e = o.error as Partial<RateLimitedError> | undefined;
  if (!e || !(e instanceof RateLimitedError || e.name === 'RateLimitedError')) return undefined;
  return typeof e.ms === 'number' && Number.isFinite(e.ms) && e.ms >= 0 ? e.ms : 0;
}

export class FlowWatch {
  private sub?: Redis;
  /**
   * Queues a pause was heard for and no resume since, and held queues with the hold's end (ms). A claim
   * sent before the pause or hold can be answered after its message is read (two connections, no order
   * between them): what it brings beyond the free slots must go back too, not wait in the prefetch.
   */
  private readonly paused = new Set<string>();
  private readonly heldUntil = new Map<string, number>();

  constructor(private readonly host: Pick<WorkerHost, 'redis' | 'mock' | 'prefix' | 'script'>, private readonly queues: string[],
    private readonly hooks: FlowHooks) {}

  /**
   * Subscribes to the flow channel (not on ioredis-mock: the claim still refuses paused queues
   * there). Resolves once subscribed, or after SUBSCRIBE_WAIT_MS: a pause published before then
   * would not hand back what the worker holds prefetched.
   */
  start(): Promise<void> {
    if (this.host.mock) return Promise.resolve();
    const sub = this.sub = duplicate(this.host.redis);
    sub.on('error', () => undefined); // it reconnects and resubscribes by itself
    sub.on('message', (_ch: string, msg: string) => this.message(msg));
    sub.on('ready', () => this.paused.clear()); // (re)subscribed: a resume may have gone unheard meanwhile (holds end by time)
    // Cut off by stop() (the worker stopped while it subscribed): not an error.
    const subscribed = sub.subscribe(flowChannel(this.host.prefix)).then(() => undefined, (e) => { if (this.sub === sub) this.hooks.error(e); });
    return Promise.race([subscribed, sleep(SUBSCRIBE_WAIT_MS)]);
  }

  stop(): void {
    this.sub?.disconnect();
    this.sub = undefined;
  }

  /** After a claim's reply (or a hand-off) is handled: held tasks of a queue paused or held meanwhile go back at once. */
  claimed(queue: string): void {
    if (this.paused.has(queue) || (this.heldUntil.get(queue) ?? 0) > Date.now()) this.handBack(queue);
  }

  /**
   * After perform(): a RateLimitedError puts the task back at its place, with the ones held for its
   * queue, and holds the queue (one flow-hold.lua call: `t` first, as the one that started). True when it
   * did (the outcome is not recorded).
   */
  rateLimited(t: Claimed, o: Outcome): boolean {
    const ms = rateLimitedMs(o);
    if (ms === undefined) return false;
    const back = [t, ...this.hooks.takeHeld(t.queue)];
    this.host.script('flow-hold', t.queue, [t.queue, flowChannel(this.host.prefix), Math.ceil(ms), ...leaseTokens(back)])
      .then(() => this.hooks.wake(), (e) => this.hooks.error(e)); // unanswered: the leases run out and the sweep queues them
    return true;
  }

  private message(msg: string): void {
    const [queue, op, until] = msg.split(' ');
    if (!this.queues.includes(queue)) return;
    if (op === 'pause') this.paused.add(queue); else if (op === 'resume') this.paused.delete(queue);
    if (op === 'hold' && Number(until) > 0) this.heldUntil.set(queue, Number(until));
    if (op === 'pause' || op === 'hold') this.handBack(queue);
    if (op !== 'pause') this.hooks.wake();
  }

  private handBack(queue: string): void {
    const ts = this.hooks.takeHeld(queue);
    if (ts.length === 0) return;
    this.host.script('release', queue, releaseArgs([], ts)).catch((e) => this.hooks.error(e));
  }
}
