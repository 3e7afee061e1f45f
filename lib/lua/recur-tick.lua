-- recur-tick: one tick (or several missed ones) of a recurring schedule, exactly once: only if the
-- schedule's stored definition and next tick are the ones the caller computed from, store the
-- tick's task(s) and advance the schedule to the caller's next tick, all in this one step. Any
-- number of schedulers may call it for the same tick; the first wins, the others change nothing.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels         zset  priorities with due tasks (write)
--   scheduled      zset  not yet due tasks (write)
--   marker         zset  wakes an idle worker (write)
--   outbox         list  changed task ids, for the mirror (write)
--   recurring      hash  name -> definition JSON (read)
--   recurringNext  zset  name by next tick ms (read, write)
--   recurringLast  hash  name -> "lastTick:lastTaskId" (read, write)
-- ARGV
--   1-4    base, now, mirror, retention: the queue's context (include/context.lua)
--   5      name      the schedule's name
--   6      def       the definition JSON the caller read (must equal the stored one)
--   7      expected  the next tick the caller read (must equal the stored score)
--   8      nextAt    the tick after these ('' = the pattern has none: the schedule stops)
--   9-13   type, object_id ('' = none), action, args (msgpack, '' = none), priority
--   14     n         extra field/value pairs (max_attempts, backoff, timeout) that follow
--   then   count, then count pairs of tick (ms) and task id (ids allocated by the caller; a lost race wastes them)
-- Also touches: base .. 't:' .. id (task hashes), base .. 'due:' .. priority (due index)
-- Returns: {'1', stored ids comma-separated} ('' when overlap: false skipped the tick),
--   {'0', the stored next tick} when another scheduler took the tick first, or
--   {'2'} when the schedule was changed or removed since the caller read it.
local levels, scheduled, marker, outbox, recurring, recurringNext, recurringLast = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
--!include context
local name, def, expected, nextAt = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local typ, oid, action, args, priority = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local n, extra_from = tonumber(ARGV[14]), 15
local extra = {}
for j = 1, 2 * n do extra[j] = ARGV[extra_from + j - 1] end
-- The tick count, then the (tick, id) pairs.
local at = extra_from + 2 * n
local count = tonumber(ARGV[at])
--!include due

local stored = redis.call('ZSCORE', recurringNext, name)
if redis.call('HGET', recurring, name) ~= def or not stored then return {'2'} end
if tonumber(stored) ~= tonumber(expected) then return {'0', int(tonumber(stored))} end

-- Ticks to store: all given, or with overlap: false only the newest, and none while the
-- schedule's previous task is still waiting or running.
local first = 1
if cjson.decode(def).overlap == false then
  first = count
  local last = redis.call('HGET', recurringLast, name)
  local lastId = last and string.match(last, ':(%d+)$')
  local st = lastId and key_type(tkey(lastId)) == 'hash' and redis.call('HGET', tkey(lastId), 'state')
  if st == 'queued' or st == 'scheduled' or st == 'running' then first = count + 1 end
end

local ids = {}
for i = first, count do
  local tick, id = ARGV[at + 2 * i - 1], ARGV[at + 2 * i]
  local key = tkey(id)
  local due = not (tonumber(tick) > now)
  redis.call('HSET', key, 'type', typ, 'action', action, 'priority', priority, 'scheduled_at', tick,
    'state', due and 'queued' or 'scheduled', 'created_at', now_text, 'recurrence', name)
  if oid ~= '' then redis.call('HSET', key, 'object_id', oid) end
  if args ~= '' then redis.call('HSET', key, 'args', args) end
  if n > 0 then redis.call('HSET', key, unpack(extra)) end
  if due then push_due(id, priority, tick) else redis.call('ZADD', scheduled, tick, id) end
  changed(id)
  redis.call('HSET', recurringLast, name, tick .. ':' .. id)
  ids[#ids + 1] = id
end
if #ids > 0 then redis.call('ZADD', marker, 0, '0') end
if nextAt == '' then redis.call('ZREM', recurringNext, name) else redis.call('ZADD', recurringNext, nextAt, name) end
return {'1', table.concat(ids, ',')}
