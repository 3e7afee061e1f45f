// The dashboard's search without the mirror: the Redis indexes of each queue (finished newest
// first; running, scheduled and queued in their order) walked chunk by chunk by search.lua, which
// checks state, type, action and object id inside Redis and sends back only the matches (with
// their stored error when the filter has error text, checked here by errorMatches). The walk
// stops once the page is full, so its cost follows the page, not how many finished tasks Redis
// keeps; a filter that matches few tasks looks at REDIS_LOOK of each index at most.
import type { QueueContext } from '../context';
import { fieldsFromHash } from '../task';
import { dueKey, fifoKey } from '../keys';
import { isFinal } from '../states';
import { recovery, TaskRow } from '../queries';
import { asciiWords, errorMatches } from './error-text';
import type { Filter } from './filter';

/** A filtered list looks at this many tasks of each index of a queue at most. */
export const REDIS_LOOK = 20000;
// Tasks one search.lua call looks at (a few ms of Redis time; its reply is unpacked in Lua).
const CHUNK = 2000;

export interface Hit { id: number; queue: string }

type Source = 'finished' | 'running' | 'scheduled' | 'queued';

function sources(f: Filter): Source[] {
  if (f.state === undefined) return ['running', 'scheduled', 'queued', 'finished'];
  return isFinal(f.state) ? ['finished'] : [f.state as Source];
}

/** Ids of queued tasks, highest priority first (in-order arrivals, then the rest), at most `n`. */
async function queuedIds(ctx: QueueContext, queue: string, n: number): Promise<string[]> {
  const k = ctx.keys(queue);
  const ids: string[] = [];
  for (const p of await ctx.redis.zrevrange(k.levels, 0, -1)) {
    if (ids.length >= n) break;
    ids.push(...(await ctx.redis.lrange(fifoKey(k, p), 0, n - 1).catch(() => [] as string[])).map((e) => e.slice(e.indexOf(':') + 1)));
    ids.push(...(await ctx.redis.zrange(dueKey(k, p), 0, n - 1)).map((m) => m.slice(1)));
  }
  return ids.slice(0, n);
}

function messageOf(queue: string, stored: unknown): string | null {
  if (!Buffer.isBuffer(stored) && typeof stored !== 'string') return null;
  return fieldsFromHash(queue, { error: stored }).errors[0]?.message ?? null;
}

/** Matches in one index of one queue, in its order, until `need` are found or REDIS_LOOK looked at. */
async function walk(ctx: QueueContext, queue: string, source: Source, f: Filter, need: number): Promise<number[]> {
  const words = f.error !== undefined ? asciiWords(f.error) : [];
  const filter = [f.state ?? '', f.type ?? '', f.action ?? '', f.objectId ?? '', f.error !== undefined ? '1' : '0', String(words.length), ...words];
  const given = source === 'queued' ? await queuedIds(ctx, queue, REDIS_LOOK) : undefined;
  const found: number[] = [];
  for (let from = 0; from < REDIS_LOOK && found.length < need; from += CHUNK) {
    const ids = given?.slice(from, from + CHUNK) ?? [];
    if (given && ids.length === 0) break;
    const reply = await ctx.script('search', queue, [given ? 'ids' : source, String(from), String(CHUNK), ...filter, ...ids], true) as unknown[];
    for (let i = 1; i < reply.length; i += 2) {
      if (f.error === undefined || errorMatches(messageOf(queue, reply[i + 1]), f.error)) found.push(Number(String(reply[i])));
    }
    if (Number(reply[0]) < CHUNK) break;
  }
  return found;
}

/** Up to `n + 1` matches after skipping `skip`, newest (highest id) first, over every queue (or the filter's). */
export async function redisHits(ctx: QueueContext, f: Filter, skip: number, n: number): Promise<Hit[]> {
  const need = skip + n + 1;
  const byId = new Map<number, Hit>();
  for (const queue of f.queue !== undefined ? [f.queue] : await ctx.queueNames()) {
    for (const s of sources(f)) for (const id of await walk(ctx, queue, s, f, need)) byId.set(id, { id, queue });
  }
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(skip, need);
}

/** The listing rows of some tasks (one gone meanwhile is left out). */
export async function redisRows(ctx: QueueContext, hits: Hit[]): Promise<TaskRow[]> {
  const hashes = await Promise.all(hits.map((h) => ctx.readHash(h.queue, h.id)));
  const rows: TaskRow[] = [];
  hits.forEach((h, i) => { const raw = hashes[i]; if (raw) rows.push({ ...fieldsFromHash(h.queue, raw), id: h.id, ...recovery(raw) }); });
  return rows;
}
