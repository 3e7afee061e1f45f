-- due: the due index. Per priority p, the list base .. 'fifo:' .. p (in-order arrivals,
-- "time:id") and the zset base .. 'due:' .. p (the rest, score = time); `levels` lists the
-- priorities that have either.
-- Provides: push_due(id, priority, at), take_due(p, asked), requeue(id, priority, at); and what
--   entry.lua and outbox.lua provide.
-- Needs: KEYS levels, outbox; context (base, now, tkey).
--!include context
--!include entry
--!include outbox

local function push_due(id, priority, at)
  local p = priority_of(priority)
  local t = tonumber(at)
  -- A damaged time (text, nan) queues at now.
  if not t or t ~= t then t = now end
  redis.call('ZADD', base .. 'due:' .. p, t, lex(id))
  redis.call('ZADD', levels, p, p)
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

-- Back in line at its own priority and time, ahead of later tasks (promotion, a stall, a hand-back).
local function requeue(id, priority, at)
  redis.call('HSET', tkey(id), 'state', 'queued')
  push_due(id, priority, at)
  changed(id)
end
