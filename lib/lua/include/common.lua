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
-- Due members are the id behind a letter giving its length ("b17"), so that Redis's lexical
-- tie-break among equal scores (same scheduled time) is numeric id order.
local function lex(id) return string.char(96 + #id) .. id end
local function changed(id) if mirror then redis.call('RPUSH', outbox, id) end end

-- One zset per priority (score = scheduled time), and `levels` to find the highest priority:
-- priority, time and id order are each exact, which one 53-bit score cannot be.
local function push_due(id, priority, at)
  local p = int(tonumber(priority) or 0)
  redis.call('ZADD', base .. 'due:' .. p, tonumber(at) or now, lex(id))
  redis.call('ZADD', levels, p, p)
end

-- A task reached a final state. With the mirror on, its expiry waits for the mirror to commit it.
local function retire(id)
  if mirror then
    changed(id)
    redis.call('ZADD', finished, now, id)
  elseif retention == 0 then
    redis.call('DEL', tkey(id))
  else
    redis.call('ZADD', finished, now, id)
    if retention > 0 then redis.call('PEXPIRE', tkey(id), retention) end
  end
end

local function trim_finished()
  if retention > 0 then redis.call('ZREMRANGEBYSCORE', finished, '-inf', now - retention) end
end

-- Scheduled tasks whose time has come become due (at most 1000 per call).
local function promote()
  local ids = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, 1000)
  for i = 1, #ids do
    local id = ids[i]
    redis.call('ZREM', scheduled, id)
    local f = redis.call('HMGET', tkey(id), 'priority', 'scheduled_at', 'state')
    if f[3] == 'scheduled' then
      push_due(id, f[1], f[2])
      redis.call('HSET', tkey(id), 'state', 'queued')
      changed(id)
    end
  end
end

-- Fields a worker needs to run a claimed task, after its id and attempt number.
local CLAIM_FIELDS = {'type', 'object_id', 'action', 'args', 'timeout', 'max_attempts', 'backoff', 'stalled', 'released'}

-- Takes up to `want` due tasks in order (priority desc, time asc, id asc), marks each running
-- under a lease and appends id, attempt and CLAIM_FIELDS to `out`. Returns how many.
local function claim(want, worker, lease, out)
  promote()
  local got = 0
  while got < want do
    local top = redis.call('ZREVRANGE', levels, 0, 0)[1]
    if not top then break end
    local popped = redis.call('ZPOPMIN', base .. 'due:' .. top)
    if #popped == 0 then
      redis.call('ZREM', levels, top)
    else
      local id = string.sub(popped[1], 2)
      local key = tkey(id)
      if redis.call('EXISTS', key) == 1 then
        local attempt = redis.call('HINCRBY', key, 'attempts', 1)
        redis.call('HSET', key, 'state', 'running', 'started_at', ARGV[2], 'worker', worker)
        redis.call('ZADD', running, now + lease, id)
        changed(id)
        local f = redis.call('HMGET', key, unpack(CLAIM_FIELDS))
        out[#out + 1] = id
        out[#out + 1] = int(attempt)
        for i = 1, #CLAIM_FIELDS do out[#out + 1] = f[i] or '' end
        got = got + 1
      end
    end
  end
  -- More left: wake the next idle worker too.
  if got == want and got > 0 and redis.call('EXISTS', levels) == 1 then redis.call('ZADD', marker, 0, '0') end
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
