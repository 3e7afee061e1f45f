-- hand-back: attempts a worker gives up without a failure go back to the queue, ahead of later
-- tasks (they keep their priority and scheduled time; `released` +1, which perform.ts does not count
-- as a failed attempt). A task cancelled while it ran ends as cancelled instead of running again.
-- Each leaves `running` at once, so its slot under a concurrency cap is free again; one that never
-- started (held prefetched) also gives back the start its claim logged for the rate (flow_refund).
-- Provides: hand_back(from, started): the (id, attempt) pairs of ARGV from `from` on, only those still
--   this worker's; the first `started` pairs had started (their starts stay counted), the rest had
--   not; wakes an idle worker when some went back or a start was refunded; returns how many went back.
--   hand_back_list(pairs, from, started): the same for a table of id, attempt values.
-- Needs: KEYS levels, running, finished, marker, outbox, flow, flowStarts; context; due; retire; flow.
--!include flow
local function hand_back_list(pairs, from, started)
  local n, retired, refunded = 0, false, false
  for i = from, #pairs, 2 do
    local id, attempt = pairs[i], pairs[i + 1]
    local key = tkey(id)
    local f = key_type(key) == 'hash' and redis.call('HMGET', key, 'attempts', 'state', 'priority', 'scheduled_at', 'cancelled', 'released', 'started_at') or {}
    if f[1] == attempt and f[2] == 'running' then
      redis.call('ZREM', running, id)
      if (i - from) / 2 >= started and flow_refund(f[7]) then refunded = true end
      if f[5] == '1' then
        end_cancelled(id)
        retired = true
      else
        redis.call('HSET', key, 'released', int(math.floor(tonumber(f[6]) or 0) + 1))
        requeue(id, f[3], f[4])
        n = n + 1
      end
    end
  end
  if n > 0 or refunded then redis.call('ZADD', marker, 0, '0') end
  if retired then trim_finished() end
  return n
end

local function hand_back(from, started) return hand_back_list(ARGV, from, started) end
