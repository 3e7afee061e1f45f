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
--   1-4    base, now, mirror, retention: the queue's context
--   5      name      the schedule's name
--   6      def       the definition JSON the caller read (must equal the stored one)
--   7      expected  the next tick the caller read (must equal the stored score)
--   8      nextAt    the tick after these ('' = the pattern has none: the schedule stops)
--   9-13   type, object_id ('' = none), action, args (msgpack, '' = none), priority
--   14     n         extra field/value pairs (max_attempts, backoff, timeout) that follow
--   then   count, then count pairs of tick (ms) and task id (ids allocated by the caller; a lost race wastes them)
-- Also touches: base .. 't:' .. id (task hashes), base .. 'due:' .. priority
-- Returns {'1', stored ids comma-separated} ('' when overlap: false skipped the tick),
--   {'0', the stored next tick} when another scheduler took the tick first, or
--   {'2'} when the schedule was changed or removed since the caller read it.
local levels, scheduled, marker, outbox, recurring, recurringNext, recurringLast = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local base, now, mirror = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local name, def, expected, nextAt = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local typ, oid, action, args, priority = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local n = tonumber(ARGV[14])
local extra = {}
for j = 1, 2 * n do extra[j] = ARGV[14 + j] end
local at = 15 + 2 * n
local count = tonumber(ARGV[at])

local stored = redis.call('ZSCORE', recurringNext, name)
local function int(x) return string.format('%.0f', x) end
if redis.call('HGET', recurring, name) ~= def or not stored then return {'2'} end
if tonumber(stored) ~= tonumber(expected) then return {'0', int(tonumber(stored))} end

-- Ticks to store: all given, or with overlap: false only the newest, and none while the
-- schedule's previous task is still waiting or running.
local first = 1
if cjson.decode(def).overlap == false then
  first = count
  local last = redis.call('HGET', recurringLast, name)
  local lastId = last and string.match(last, ':(%d+)$')
  local st = lastId and redis.call('HGET', base .. 't:' .. lastId, 'state')
  if st == 'queued' or st == 'scheduled' or st == 'running' then first = count + 1 end
end

local ids = {}
for i = first, count do
  local tick, id = ARGV[at + 2 * i - 1], ARGV[at + 2 * i]
  local key = base .. 't:' .. id
  local due = not (tonumber(tick) > now)
  redis.call('HSET', key, 'type', typ, 'action', action, 'priority', priority, 'scheduled_at', tick,
    'state', due and 'queued' or 'scheduled', 'created_at', ARGV[2], 'recurrence', name)
  if oid ~= '' then redis.call('HSET', key, 'object_id', oid) end
  if args ~= '' then redis.call('HSET', key, 'args', args) end
  if n > 0 then redis.call('HSET', key, unpack(extra)) end
  if due then
    redis.call('ZADD', base .. 'due:' .. priority, tonumber(tick), string.char(96 + #id) .. id)
    redis.call('ZADD', levels, priority, priority)
  else
    redis.call('ZADD', scheduled, tick, id)
  end
  if mirror then redis.call('RPUSH', outbox, id) end
  redis.call('HSET', recurringLast, name, tick .. ':' .. id)
  ids[#ids + 1] = id
end
if #ids > 0 then redis.call('ZADD', marker, 0, '0') end
if nextAt == '' then redis.call('ZREM', recurringNext, name) else redis.call('ZADD', recurringNext, nextAt, name) end
return {'1', table.concat(ids, ',')}
