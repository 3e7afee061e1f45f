--!include common
-- Records the outcome of finished attempts and claims the next tasks, in one round trip.
-- ARGV from 5: worker name, lease (ms), want (tasks to claim), n, then per finished attempt:
--   id, attempt, outcome ('ok' | 'fail' | 'retry'), payload (result or error msgpack, '' = none), retry at (ms)
-- An attempt that is no longer this worker's (its lease was taken away, or it was retried) is refused.
-- Returns like claim.lua, with the refused ids first.
local i, refused, retired, done, ok = 9, {}, false, {}, {}
for _ = 1, tonumber(ARGV[8]) do
  local id, attempt, outcome, payload, retry_at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  i = i + 5
  local key = tkey(id)
  local cur = redis.pcall('HMGET', key, 'attempts', 'state', 'cancelled', 'priority')
  if cur.err then
    fail_corrupt(id, 'its key was replaced by a ' .. key_type(key) .. ' while it ran')
    retired = true
  elseif cur[1] ~= attempt or cur[2] ~= 'running' then
    refused[#refused + 1] = id
  else
    done[#done + 1] = id
    if outcome == 'ok' and retention == 0 and not mirror then
      -- Nothing will read the final fields: the hash goes at once.
      redis.call('DEL', key)
    elseif outcome == 'ok' then
      if payload ~= '' then
        redis.call('HSET', key, 'state', 'succeeded', 'success', '1', 'finished_at', ARGV[2], 'result', payload)
      else
        redis.call('HSET', key, 'state', 'succeeded', 'success', '1', 'finished_at', ARGV[2])
      end
      ok[#ok + 1] = id
    else
      redis.call('HSET', key, 'error', payload)
      if outcome == 'retry' or tonumber(attempt) > 1 then redis.call('HSET', key, 'error:' .. attempt, payload) end
      if outcome == 'retry' and cur[3] ~= '1' then
        local at = tonumber(retry_at)
        if at > now then
          redis.call('HSET', key, 'state', 'scheduled', 'scheduled_at', retry_at)
          redis.call('ZADD', scheduled, at, id)
        else
          redis.call('HSET', key, 'state', 'queued', 'scheduled_at', retry_at)
          push_due(id, cur[4], at)
        end
        redis.call('ZADD', marker, 0, '0')
        changed(id)
      else
        redis.call('HSET', key, 'state', 'failed', 'success', '0', 'finished_at', ARGV[2])
        retire(id)
        retired = true
      end
    end
  end
end
for j = 1, #done, 4000 do redis.call('ZREM', running, unpack(done, j, math.min(j + 3999, #done))) end
-- Succeeded ones retire together: one RPUSH to the outbox and one ZADD to `finished` per call.
if #ok > 0 then retire_all(ok); retired = true end
if retired then trim_finished() end
return claim_reply(refused, tonumber(ARGV[7]), ARGV[5], tonumber(ARGV[6]))
