-- retire: tasks that reached a final state leave the live structures. With the mirror on, their
-- expiry waits for the mirror to commit them (the mirror then applies retention); without,
-- retention 0 deletes the hash at once, else it expires after `retention`.
-- Provides: retire_all(ids), retire(id), end_cancelled(id), trim_finished(); and what outbox.lua
--   provides.
-- Needs: KEYS finished, outbox; context (now, now_text, mirror, retention, tkey, zadd_pairs).
-- Also touches: base .. 'u:' .. key (a unique task's lock, released: include/unique.lua).
--!include context
--!include outbox
--!include unique

local function tkeys(ids, from, to)
  local k = {}
  for j = from, to do k[#k + 1] = tkey(ids[j]) end
  return k
end

local function retire_all(ids)
  if #ids == 0 then return end
  -- A final state ends every unique task's hold on its lock.
  for j = 1, #ids do
    local u = redis.pcall('HGET', tkey(ids[j]), 'unique')
    if type(u) == 'string' then unique_release(ids[j], u) end
  end
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

-- An attempt of a task cancelled while it ran is over: the task ends cancelled.
local function end_cancelled(id)
  redis.call('HSET', tkey(id), 'state', 'cancelled', 'finished_at', now_text)
  retire(id)
end

-- Finished tasks older than the retention leave `finished` (their hashes expire on their own).
local function trim_finished()
  if retention > 0 then redis.call('ZREMRANGEBYSCORE', finished, '-inf', now - retention) end
end
