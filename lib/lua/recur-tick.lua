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
-- Also touches: base .. 't:' .. id (task hashes, created), base .. 'due:' .. priority (due index)
-- Returns: per schedule, in the order given, two entries: '1' and its stored ids comma-separated
--   ('' when overlap: false skipped the tick); '0' and the stored next tick when another scheduler
--   took the tick first; or '2' and '' when the schedule was changed or removed since it was read
--   (or its name came twice in the call).
local levels, scheduled, marker, outbox, recurring, recurringNext, recurringLast = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
--!include context
local count, schedules_from = tonumber(ARGV[5]), 6
--!include entry
--!include outbox

local reply, woke = {}, false
-- Gathered over the whole batch and written once at the end: one variadic command per key, not
-- one per task (the due entries per priority, as push_due in include/due.lua writes them).
local due_by_p, due_ps, scheduled_pairs, out_ids, last_pairs, next_pairs, ended = {}, {}, {}, {}, {}, {}, {}
-- A name given twice would pass its check twice (its next tick is written at the end): the repeat is refused.
local seen = {}

local function add_due(id, priority, tick)
  local p = priority_of(priority)
  local t = tonumber(tick)
  if not t or t ~= t then t = now end
  local d = due_by_p[p]
  if not d then d = {}; due_by_p[p] = d; due_ps[#due_ps + 1] = p end
  d[#d + 1] = t
  d[#d + 1] = lex(id)
end

-- One schedule's ticks from ARGV position `at`; returns the position after it.
local function tick_one(at)
  local name, def, expected, nextAt = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local typ, oid, action, args, priority, overlap = ARGV[at + 4], ARGV[at + 5], ARGV[at + 6], ARGV[at + 7], ARGV[at + 8], ARGV[at + 9]
  local n = tonumber(ARGV[at + 10])
  local ticks_at = at + 11 + 2 * n
  local ticks = tonumber(ARGV[ticks_at])
  local after = ticks_at + 1 + 2 * ticks

  local stored = redis.call('ZSCORE', recurringNext, name)
  if seen[name] or redis.call('HGET', recurring, name) ~= def or not stored then
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

  -- The task hash's fields but the tick's own (scheduled_at, state: slots 8 and 10).
  local h = {'type', typ, 'action', action, 'priority', priority, 'scheduled_at', '', 'state', '', 'created_at', now_text, 'recurrence', name}
  if oid ~= '' then h[#h + 1] = 'object_id'; h[#h + 1] = oid end
  if args ~= '' then h[#h + 1] = 'args'; h[#h + 1] = args end
  for j = 1, 2 * n do h[#h + 1] = ARGV[at + 10 + j] end
  local ids = {}
  for i = first, ticks do
    local tick, id = ARGV[ticks_at + 2 * i - 1], ARGV[ticks_at + 2 * i]
    local due = not (tonumber(tick) > now)
    h[8], h[10] = tick, due and 'queued' or 'scheduled'
    redis.call('HSET', tkey(id), unpack(h))
    if due then add_due(id, priority, tick) else scheduled_pairs[#scheduled_pairs + 1] = tick; scheduled_pairs[#scheduled_pairs + 1] = id end
    out_ids[#out_ids + 1] = id
    ids[#ids + 1] = id
  end
  if #ids > 0 then
    last_pairs[#last_pairs + 1] = name
    last_pairs[#last_pairs + 1] = ARGV[ticks_at + 2 * ticks - 1] .. ':' .. ids[#ids]
  end
  if nextAt == '' then ended[#ended + 1] = name else next_pairs[#next_pairs + 1] = nextAt; next_pairs[#next_pairs + 1] = name end
  seen[name] = true
  reply[#reply + 1] = '1'
  reply[#reply + 1] = table.concat(ids, ',')
  return after
end

local at = schedules_from
for _ = 1, count do at = tick_one(at) end

for _, p in ipairs(due_ps) do
  zadd_pairs(base .. 'due:' .. p, due_by_p[p])
  redis.call('ZADD', levels, p, p)
end
zadd_pairs(scheduled, scheduled_pairs)
changed_all(out_ids)
for j = 1, #last_pairs, 2000 do redis.call('HSET', recurringLast, unpack(last_pairs, j, math.min(j + 1999, #last_pairs))) end
zadd_pairs(recurringNext, next_pairs)
for j = 1, #ended, 2000 do redis.call('ZREM', recurringNext, unpack(ended, j, math.min(j + 1999, #ended))) end
if #out_ids > 0 then redis.call('ZADD', marker, 0, '0') end
-- A table constructor: ioredis-mock's VM returns nothing for a table filled by index (2 entries
-- per schedule, far below unpack's limit: the caller caps a batch at a few hundred).
return {unpack(reply)}
