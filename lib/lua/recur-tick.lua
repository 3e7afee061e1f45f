-- recur-tick: the due ticks of a batch of recurring schedules of one queue, each exactly once: for
-- each schedule, only if its stored definition and next tick are the ones the caller computed from,
-- store its tick's task(s) and advance it to the caller's next tick. Schedule by schedule, in this
-- one step. Any number of schedulers may call it for the same tick; for each schedule the first
-- wins, the others change nothing. The caller caps a batch (lib/recurring/scheduler.ts), so one call
-- stays short.
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
--   5      count  how many schedules follow, from ARGV 6 on; each is:
--     name, def (the definition JSON the caller read: must equal the stored one), expected (the next
--     tick the caller read: must equal the stored score), nextAt (the tick after these; '' = the
--     pattern has none: the schedule stops), type, object_id ('' = none), action, args (msgpack,
--     '' = none), priority, overlap ('0' = overlap: false, as in def), n, then n extra field/value
--     pairs (max_attempts, backoff, timeout), then ticks, then that many pairs of tick (ms) and task
--     id (ids allocated by the caller; a lost race wastes them)
-- Also touches: base .. 't:' .. id (task hashes), base .. 'due:' .. priority (due index)
-- Returns: per schedule, in the order given, two entries: '1' and its stored ids comma-separated
--   ('' when overlap: false skipped the tick); '0' and the stored next tick when another scheduler
--   took the tick first; or '2' and '' when the schedule was changed or removed since it was read.
local levels, scheduled, marker, outbox, recurring, recurringNext, recurringLast = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
--!include context
local count, schedules_from = tonumber(ARGV[5]), 6
--!include due

local reply, woke = {}, false

-- One schedule's ticks from ARGV position `at`; returns the position after it.
local function tick_one(at)
  local name, def, expected, nextAt = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local typ, oid, action, args, priority, overlap = ARGV[at + 4], ARGV[at + 5], ARGV[at + 6], ARGV[at + 7], ARGV[at + 8], ARGV[at + 9]
  local n = tonumber(ARGV[at + 10])
  local extra = {}
  for j = 1, 2 * n do extra[j] = ARGV[at + 10 + j] end
  local ticks_at = at + 11 + 2 * n
  local ticks = tonumber(ARGV[ticks_at])
  local after = ticks_at + 1 + 2 * ticks

  local stored = redis.call('ZSCORE', recurringNext, name)
  if redis.call('HGET', recurring, name) ~= def or not stored then
    reply[#reply + 1] = '2'
    reply[#reply + 1] = ''
    return after
  end
  if tonumber(stored) ~= tonumber(expected) then
    reply[#reply + 1] = '0'
    reply[#reply + 1] = int(tonumber(stored))
    return after
  end

  -- Ticks to store: all given, or with overlap: false only the newest, and none while the
  -- schedule's previous task is still waiting or running.
  local first = 1
  if overlap == '0' then
    first = ticks
    local last = redis.call('HGET', recurringLast, name)
    local lastId = last and string.match(last, ':(%d+)$')
    local st = lastId and key_type(tkey(lastId)) == 'hash' and redis.call('HGET', tkey(lastId), 'state')
    if st == 'queued' or st == 'scheduled' or st == 'running' then first = ticks + 1 end
  end

  local ids = {}
  for i = first, ticks do
    local tick, id = ARGV[ticks_at + 2 * i - 1], ARGV[ticks_at + 2 * i]
    local key = tkey(id)
    local due = not (tonumber(tick) > now)
    redis.call('HSET', key, 'type', typ, 'action', action, 'priority', priority, 'scheduled_at', tick,
      'state', due and 'queued' or 'scheduled', 'created_at', now_text, 'recurrence', name)
    if oid ~= '' then redis.call('HSET', key, 'object_id', oid) end
    if args ~= '' then redis.call('HSET', key, 'args', args) end
    if n > 0 then redis.call('HSET', key, unpack(extra)) end
    if due then push_due(id, priority, tick) else redis.call('ZADD', scheduled, tick, id) end
    changed(id)
    ids[#ids + 1] = id
  end
  if #ids > 0 then
    redis.call('HSET', recurringLast, name, ARGV[ticks_at + 2 * ticks - 1] .. ':' .. ids[#ids])
    woke = true
  end
  if nextAt == '' then redis.call('ZREM', recurringNext, name) else redis.call('ZADD', recurringNext, nextAt, name) end
  reply[#reply + 1] = '1'
  reply[#reply + 1] = table.concat(ids, ',')
  return after
end

local at = schedules_from
for _ = 1, count do at = tick_one(at) end
if woke then redis.call('ZADD', marker, 0, '0') end
return reply
