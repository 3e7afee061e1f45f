--!include common
-- Recovers tasks whose worker died: their lease ran out without renewal. Each goes back to the
-- queue with its stalled count +1, or fails with the given "worker lost" error once the count
-- passes the maximum. A task cancelled while it ran ends as cancelled instead. Throttled by a
-- lock so one worker sweeps a queue at a time.
-- ARGV from 5: max stalls, worker-lost error (msgpack), throttle (ms), sweeper name
-- Returns {recovered count, failed count}, or {'-1', '-1'} when another worker swept recently.
if not redis.call('SET', base .. 'sweeper', ARGV[8], 'NX', 'PX', ARGV[7]) then return {'-1', '-1'} end
local max_stalls = tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', running, '-inf', now, 'LIMIT', 0, 1000)
local back, failed = 0, 0
for i = 1, #ids do
  local id = ids[i]
  local key = tkey(id)
  redis.call('ZREM', running, id)
  local kt = key_type(key)
  local f = kt == 'hash' and redis.call('HMGET', key, 'state', 'priority', 'scheduled_at', 'cancelled', 'stalled') or {}
  if kt ~= 'hash' and kt ~= 'none' then
    fail_corrupt(id, 'its key was replaced by a ' .. kt .. ' while it ran')
    failed = failed + 1
  elseif f[1] == 'running' then
    -- Not HINCRBY: a damaged count must not abort the sweep of every other task.
    local stalls = math.floor(tonumber(f[5]) or 0) + 1
    redis.call('HSET', key, 'stalled', int(stalls))
    if f[4] == '1' then
      end_cancelled(id)
      failed = failed + 1
    elseif stalls > max_stalls then
      redis.call('HSET', key, 'state', 'failed', 'success', '0', 'finished_at', ARGV[2], 'error', ARGV[6])
      retire(id)
      failed = failed + 1
    else
      requeue(id, f[2], f[3])
      back = back + 1
    end
  end
end
if back > 0 then redis.call('ZADD', marker, 0, '0') end
if failed > 0 then trim_finished() end
return {int(back), int(failed)}
