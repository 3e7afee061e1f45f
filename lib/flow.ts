// Flow control, the queue's side: pause, resume and limits are stored in the queue's `flow` hash
// (flow-set.lua), which include/flow.lua reads inside every claim; stats read it back.
import type { QueueLimits } from '../types';
import type { QueueContext } from './context';
import { checkQueueName, flowChannel } from './keys';

const LIMIT_KEYS = ['rate', 'concurrency'];
const RATE_KEYS = ['max', 'duration'];

const whole = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= Number.MAX_SAFE_INTEGER;
const unknownKeys = (o: object, known: string[]) => Object.keys(o).filter((k) => !known.includes(k));

/** Checks limits; throws naming what is wrong (nothing is stored then). */
export function checkLimits(queue: string, limits: unknown): QueueLimits | null {
  const at = `limit ${queue}`;
  if (limits === null) return null;
  if (typeof limits !== 'object' || Array.isArray(limits)) throw new TypeError(`${at}: limits must be { rate?: { max, duration }, concurrency? } or null (got ${String(limits)})`);
  const extra = unknownKeys(limits, LIMIT_KEYS);
  if (extra.length > 0) throw new TypeError(`${at}: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k}'`).join(', ')} (known: ${LIMIT_KEYS.join(', ')})`);
  const { rate, concurrency } = limits as QueueLimits;
  const out: QueueLimits = {};
  if (rate !== undefined) {
    if (typeof rate !== 'object' || rate === null || Array.isArray(rate)) throw new TypeError(`${at}: rate must be { max, duration } (got ${String(rate)})`);
    const bad = unknownKeys(rate, RATE_KEYS);
    if (bad.length > 0) throw new TypeError(`${at}: rate: unknown key${bad.length > 1 ? 's' : ''} ${bad.map((k) => `'${k}'`).join(', ')} (known: max, duration)`);
    if (!whole(rate.max)) throw new RangeError(`${at}: rate.max must be a whole number >= 1 (got ${String(rate.max)})`);
    if (!whole(rate.duration)) throw new RangeError(`${at}: rate.duration must be a whole number of ms >= 1 (got ${String(rate.duration)})`);
    out.rate = { max: rate.max, duration: rate.duration };
  }
  if (concurrency !== undefined) {
    if (!whole(concurrency)) throw new RangeError(`${at}: concurrency must be a whole number >= 1 (got ${String(concurrency)})`);
    out.concurrency = concurrency;
  }
  if (out.rate === undefined && out.concurrency === undefined) throw new TypeError(`${at}: give rate and/or concurrency, or null to remove the limits`);
  return out;
}

async function flowSet(ctx: QueueContext, queue: string, op: 'pause' | 'resume' | 'limit', limits: QueueLimits | null = null): Promise<void> {
  // Sent together: the queue's name is listed (for stats and status) in the same round trip.
  await Promise.all([ctx.noteQueue(queue), ctx.script('flow-set', queue, [queue, flowChannel(ctx.prefix), op,
    limits?.rate?.max ?? '', limits?.rate?.duration ?? '', limits?.concurrency ?? ''])]);
}

export function pauseQueue(ctx: QueueContext, queue: unknown): Promise<void> {
  return flowSet(ctx, checkQueueName(queue), 'pause');
}

export function resumeQueue(ctx: QueueContext, queue: unknown): Promise<void> {
  return flowSet(ctx, checkQueueName(queue), 'resume');
}

export function limitQueue(ctx: QueueContext, queue: unknown, limits: unknown): Promise<void> {
  const q = checkQueueName(queue);
  return flowSet(ctx, q, 'limit', checkLimits(q, limits));
}

export interface FlowState { paused: boolean; limits: QueueLimits | null; heldUntil: number | null }

/** A queue's flow state as stats() shows it. */
export async function readFlow(ctx: QueueContext, queue: string): Promise<FlowState> {
  const [paused, hold, max, ms, cap] = await ctx.redis.hmget(ctx.keys(queue).flow, 'paused', 'hold', 'rate_max', 'rate_ms', 'concurrency');
  const limits: QueueLimits = {};
  if (max && ms) limits.rate = { max: Number(max), duration: Number(ms) };
  if (cap) limits.concurrency = Number(cap);
  const until = Number(hold);
  return { paused: paused === '1', limits: limits.rate || limits.concurrency ? limits : null, heldUntil: until > Date.now() ? until : null };
}
