-- Shared head of every script.
-- KEYS: 1 levels (zset: priorities that have due tasks), 2 scheduled (zset: id by due time),
--       3 running (zset: id by lease deadline), 4 marker (zset: wakes an idle worker),
--       5 outbox (list: ids whose state changed, for the MySQL mirror), 6 finished (zset: id by finish time)
-- ARGV: 1 key base ("{prefix:queue}:"), 2 now (ms), 3 mirror ('1' | '0'), 4 retention (ms; 0 = drop when finished)
local base, now = ARGV[1], tonumber(ARGV[2])
local mirror, retention = ARGV[3] == '1', tonumber(ARGV[4])
local levels, scheduled, running, marker, outbox, finished = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

-- Plain integers: the VM behind ioredis-mock prints 7 as "7.0" and has only 32-bit integers.
local function int(n) return string.format('%.0f', n) end
local function tkey(id) return base .. 't:' .. id end
local function tkeys(ids, from, to)
  local k = {}
  for j = from, to do k[#k + 1] = tkey(ids[j]) end
  return k
end
-- Due members are the id behind a letter giving its length ("b17"), so that Redis's lexical
-- tie-break among equal scores (same scheduled time) is numeric id order.
local function lex(id) return string.char(96 + #id) .. id end
-- The mirror's outbox: a list the scripts append a task's id to on each change (RPUSH: O(1), no
-- per-task bookkeeping on the hot path). A task changed three times before the mirror ran has
-- three entries; the mirror reads the CURRENT hash, so it writes that task once per batch, and
-- skips an entry of a final task it has already written (see mirrored.lua).
local function changed(id)
  if mirror then redis.call('RPUSH', outbox, id) end
end

-- A list entry "time:id" as numbers (nil for an entry damaged by hand).
local function fifo_entry(e)
  local t, i = string.match(e, '^(%-?%d+):(%d+)$')
  if t then return tonumber(t), tonumber(i), i end
end

-- score, member pairs as variadic ZADDs (unpack has a stack limit, hence the chunks).
local function zadd_pairs(key, pairs)
  for j = 1, #pairs, 2000 do redis.call('ZADD', key, unpack(pairs, j, math.min(j + 1999, #pairs))) end
end

-- changed() for many tasks: one RPUSH, not one per task (chunked: unpack has a stack limit).
local function changed_all(ids)
  if not mirror then return end
  for j = 1, #ids, 4000 do redis.call('RPUSH', outbox, unpack(ids, j, math.min(j + 3999, #ids))) end
end

-- One zset per priority (score = scheduled time), and `levels` to find the highest priority:
-- priority, time and id order are each exact, which one 53-bit score cannot be.
-- A damaged priority or time (text, nan, out of range) queues at 0 / now: a NaN score would abort
-- the script, and every later claim with it.
local function priority_of(priority)
  local p = tonumber(priority)
  if not p or p ~= p or p < -2147483648 or p > 2147483647 then p = 0 end
  return int(math.floor(p))
end

local function push_due(id, priority, at)
  local p = priority_of(priority)
  local t = tonumber(at)
  if not t or t ~= t then t = now end
  redis.call('ZADD', base .. 'due:' .. p, t, lex(id))
  redis.call('ZADD', levels, p, p)
end

-- Tasks reached a final state. With the mirror on, their expiry waits for the mirror to commit them.
local function retire_all(ids)
  if #ids == 0 then return end
  if not mirror and retention == 0 then
    for j = 1, #ids, 2000 do redis.call('DEL', unpack(tkeys(ids, j, math.min(j + 1999, #ids)))) end
    return
  end
  changed_all(ids)
  local a = {}
  for j = 1, #ids do a[2 * j - 1] = now; a[2 * j] = ids[j] end
  zadd_pairs(finished, a)
  if not mirror and retention > 0 then
    for j = 1, #ids do redis.call('PEXPIRE', tkey(ids[j]), retention) end
  end
end

local function retire(id) retire_all({id}) end

-- Task keys can be damaged by hand or by other software. A script must never abort on one: Redis
-- keeps the writes made before the error, so a half-done claim would strand the tasks it took.
local function key_type(key)
  local t = redis.call('TYPE', key)
  return type(t) == 'table' and t.ok or t
end

local function mp_str(s)
  local n = #s
  if n < 32 then return string.char(160 + n) .. s end
  if n < 256 then return string.char(217, n) .. s end
  return string.char(218, math.floor(n / 256), n % 256) .. s
end

-- A stored error as the codec (msgpackr) writes it: fixext1 0x12 0x00, then the {name, message} map.
local function packed_error(name, message)
  return string.char(212, 18, 0, 130) .. mp_str('name') .. mp_str(name) .. mp_str('message') .. mp_str(string.sub(message, 1, 1000))
end

-- Ends a task that cannot be run as failed with a CorruptTaskError saying why. A key that is not
-- a hash is moved aside to <key>:corrupt (kept as long as a finished task) and a hash takes its place.
local function fail_corrupt(id, why)
  local key = tkey(id)
  local kt = key_type(key)
  if kt ~= 'hash' and kt ~= 'none' then
    if retention == 0 then redis.call('DEL', key) else
      redis.call('RENAME', key, key .. ':corrupt')
      redis.call('PEXPIRE', key .. ':corrupt', retention)
    end
  end
  redis.call('ZREM', running, id)
  redis.call('HSET', key, 'state', 'failed', 'success', '0', 'finished_at', ARGV[2],
    'error', packed_error('CorruptTaskError', 'task ' .. id .. ': ' .. why))
  retire(id)
end

-- Back in line at its own priority and time, ahead of later tasks (promotion, a stall, a hand-back).
local function requeue(id, priority, at)
  redis.call('HSET', tkey(id), 'state', 'queued')
  push_due(id, priority, at)
  changed(id)
end

-- An attempt of a task cancelled while it ran is over: the task ends cancelled.
local function end_cancelled(id)
  redis.call('HSET', tkey(id), 'state', 'cancelled', 'finished_at', ARGV[2])
  retire(id)
end

local function trim_finished()
  if retention > 0 then redis.call('ZREMRANGEBYSCORE', finished, '-inf', now - retention) end
end

local KNOWN_STATE = {queued = true, scheduled = true, running = true, succeeded = true, failed = true, cancelled = true}

-- Scheduled tasks whose time has come become due (at most 1000 per call).
local function promote()
  local ids = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, 1000)
  for i = 1, #ids do
    local id = ids[i]
    redis.call('ZREM', scheduled, id)
    local kt = key_type(tkey(id))
    local f = kt == 'hash' and redis.call('HMGET', tkey(id), 'priority', 'scheduled_at', 'state') or {}
    if kt ~= 'hash' and kt ~= 'none' then
      fail_corrupt(id, 'its key holds a ' .. kt .. ', not a hash')
    elseif f[3] == 'scheduled' then
      requeue(id, f[1], f[2])
    elseif kt == 'hash' and not KNOWN_STATE[f[3]] then
      -- Dropped from `scheduled` with a state nothing else looks at, it would be stranded.
      fail_corrupt(id, 'its state field is not a task state (' .. string.sub(tostring(f[3]), 1, 40) .. ')')
    end
  end
end

-- Takes up to `asked` ids of priority `p` in order (time asc, id asc): the heads of the list
-- `fifo:<p>` (in-order arrivals) and of the zset `due:<p>` (the rest) merged. Drops the level from
-- `levels` once both are empty, so `levels` stays exact (a stale level made every claim that
-- emptied the queue wake an idle worker for nothing).
local function take_due(p, asked)
  local dz, dl = base .. 'due:' .. p, base .. 'fifo:' .. p
  local zs = redis.call('ZRANGE', dz, 0, asked - 1, 'WITHSCORES')
  local ls = redis.pcall('LRANGE', dl, 0, asked - 1)
  if ls.err then ls = {} end
  local ids, nl, nz, nzs = {}, 0, 0, #zs / 2
  local lt, li, lid
  if #ls > 0 then lt, li, lid = fifo_entry(ls[1]) end
  while #ids < asked and (nl < #ls or nz < nzs) do
    local from_list
    if nl >= #ls then from_list = false
    elseif nz >= nzs or not lt then from_list = true
    else
      local zt, zid = tonumber(zs[2 * nz + 2]), string.sub(zs[2 * nz + 1], 2)
      local zi = tonumber(zid)
      from_list = lt < zt or (lt == zt and li < zi)
    end
    if from_list then
      nl = nl + 1
      if lid then ids[#ids + 1] = lid end
      if nl < #ls then lt, li, lid = fifo_entry(ls[nl + 1]) end
    else
      nz = nz + 1
      ids[#ids + 1] = string.sub(zs[2 * nz - 1], 2)
    end
  end
  if nl > 0 then redis.call('LTRIM', dl, nl, -1) end
  if nz > 0 then redis.call('ZREMRANGEBYRANK', dz, 0, nz - 1) end
  if #ls < asked and nzs < asked and nl == #ls and nz == nzs then redis.call('ZREM', levels, p) end
  return ids
end

-- Fields a worker needs to run a claimed task, after its id and attempt number.
--!claim-fields

-- Takes up to `want` due tasks in order (priority desc, time asc, id asc), marks each running
-- under a lease and appends id, attempt and CLAIM_FIELDS to `out`. Returns how many.
-- Per task: one HMGET (state, attempts and the claim fields together; a key that is not a hash
-- comes back as an error table from pcall) and one HSET; the pops (ZPOPMIN count) and the
-- running-set ZADD are batched.
local function claim(want, worker, lease, out)
  promote()
  local got = 0
  local run, took = {}, {}
  local deadline = now + lease
  while got < want do
    local top = redis.call('ZREVRANGE', levels, 0, 0)[1]
    if not top then break end
    local asked = want - got
    local popped = take_due(top, asked)
    if #popped == 0 then
      -- (the level was stale)
    else
      for j = 1, #popped do
        local id = popped[j]
        local key = tkey(id)
        local f = redis.pcall('HMGET', key, 'state', 'attempts', unpack(CLAIM_FIELDS))
        if f.err then
          fail_corrupt(id, 'its key holds a ' .. key_type(key) .. ', not a hash')
        elseif not f[1] then
          -- no task behind the entry (key gone)
        elseif KNOWN_STATE[f[1]] and f[1] ~= 'queued' and f[1] ~= 'scheduled' then
          -- A stray due entry (written by hand): the task already ran or runs; never run it twice.
        elseif type(f[2]) == 'string' and not (string.match(f[2], '^%d+$') and #f[2] < 15) then
          fail_corrupt(id, 'its attempts field is not a whole number (' .. string.sub(f[2], 1, 40) .. ')')
        else
          local attempt = int((tonumber(f[2]) or 0) + 1)
          redis.call('HSET', key, 'attempts', attempt, 'state', 'running', 'started_at', ARGV[2], 'worker', worker)
          run[#run + 1] = deadline
          run[#run + 1] = id
          took[#took + 1] = id
          out[#out + 1] = id
          out[#out + 1] = attempt
          for i = 1, #CLAIM_FIELDS do out[#out + 1] = f[i + 2] or '' end
          got = got + 1
        end
      end
    end
  end
  zadd_pairs(running, run)
  changed_all(took)
  -- More left: wake the next idle worker too.
  if got == want and got > 0 then
    local top = redis.call('ZREVRANGE', levels, 0, 0)[1]
    if top and redis.call('EXISTS', base .. 'due:' .. top, base .. 'fifo:' .. top) == 0 then
      redis.call('ZREM', levels, top)
      top = redis.call('ZREVRANGE', levels, 0, 0)[1]
    end
    if top then redis.call('ZADD', marker, 0, '0') end
  end
  return got
end

-- Reply of claim and finish: {refused ids (comma-separated), claimed count, next scheduled time or '', fields...}
local function claim_reply(refused, want, worker, lease)
  local out = {'', '0', ''}
  local got = claim(want, worker, lease, out)
  out[1] = table.concat(refused, ',')
  out[2] = int(got)
  if got == 0 then
    local nxt = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')[2]
    if nxt then out[3] = int(tonumber(nxt)) end
  end
  return {unpack(out)}
end
