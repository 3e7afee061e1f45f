// Unique tasks: `unique: true` (the key is the type, object id, action and args) or
// `unique: 'crm-42'` (the key given), held until the task started (default) or finished. The
// lock lives in Redis next to the task (base + 'u:' + key, value = the holder's id); enqueue.lua
// takes it, the claim ('started') or the final state ('finished', and always) releases it, in the
// same step (lib/lua/include/unique.lua). A lock whose task is gone counts as free.
import { createHash } from 'crypto';
import type { QueueContext } from './context';
import { uniqueLockKey, checkQueueName } from './keys';

export type UniqueUntil = 'started' | 'finished';
const UNTIL: readonly UniqueUntil[] = ['started', 'finished'];

/** The task hash fields of a unique task, checked: ['unique', key], and ['unique_until', 'finished'] for that hold. */
export function uniqueFields(type: string, objectId: string | null, action: string, args: Buffer | null,
  unique: unknown, until: unknown): string[] {
  if (unique === undefined || unique === false) {
    if (until !== undefined) throw new TypeError('uniqueUntil needs unique: true or unique: \'key\'');
    return [];
  }
  let key: string;
  if (unique === true) {
    const digest = createHash('sha1').update(args ?? Buffer.alloc(0)).digest('hex');
    key = `${type}:${objectId ?? ''}:${action}:${digest}`;
  } else if (typeof unique === 'string' && unique.length >= 1 && unique.length <= 200) key = unique;
  else throw new TypeError(`unique must be true or a key of 1-200 characters (got ${JSON.stringify(unique)})`);
  const u = until ?? 'started';
  if (!UNTIL.includes(u as UniqueUntil)) throw new TypeError(`uniqueUntil must be 'started' or 'finished' (got ${JSON.stringify(until)})`);
  // 'started' is what a hash without unique_until holds for (include/unique.lua, claim.lua): one field fewer to store.
  return u === 'started' ? ['unique', key] : ['unique', key, 'unique_until', u as string];
}

/** `unlock KEY`: frees a unique lock by hand; true when there was one. */
export async function unlock(ctx: QueueContext, key: string, queue = 'default'): Promise<boolean> {
  if (typeof key !== 'string' || key === '') throw new TypeError(`unlock: give a unique key (got ${JSON.stringify(key)})`);
  return (await ctx.redis.del(uniqueLockKey(ctx.keys(checkQueueName(queue)), key))) === 1;
}

/** The id of the task holding a unique lock, or null (a lock whose task is gone is reported too: the id it names). */
export async function lockHolder(ctx: QueueContext, key: string, queue = 'default'): Promise<number | null> {
  const v = await ctx.redis.get(uniqueLockKey(ctx.keys(checkQueueName(queue)), key));
  return v === null ? null : Number(v);
}
