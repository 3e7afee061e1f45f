-- finish: records the outcome of finished attempts and claims the next tasks, in one round trip.
-- An attempt that is no longer this worker's (its lease was taken away, or it was retried) is refused.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels     zset    priorities that have due tasks (read, write)
--   scheduled  zset    not yet due, by time (read, write: retries later, promotion)
--   running    zset    leases: id by deadline (write)
--   finished   zset    final tasks by finish time (write, trimmed)
--   marker     zset    wakes an idle worker (write)
--   outbox     list    changed ids, for the mirror (write)
--   flow       hash    flow control: pause, hold, limits (read; include/flow.lua)
--   flowStarts zset    starts in the rate window (read, write)
--   metrics        hash  totals: outcomes, durations, waits (write; include/metrics.lua)
--   metricsSeries  hash  per-minute/per-hour outcome counts (write; include/metrics.lua)
--   idlers     zset    idle workers an enqueue may hand a task to (write: this worker leaves it when full)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    worker  the worker's name
--   6    lease   lease time (ms) of the tasks claimed
--   7    want    how many tasks to claim at most
--   8    count   how many finished attempts follow
--   9    metrics '0': record no metrics (setup metrics: false)
--   10.. per attempt (from `attempts_from`, 6 each): id, attempt, outcome ('ok' | 'fail' | 'retry'),
--        payload (result or error msgpack, '' = none), retry at (ms), duration (ms)
--   then call id, acks: this call's id and the answered calls' ids (include/replay.lua)
--   then idler: the worker's idlers entry, as claim.lua's (none: no hand-off)
-- Also touches: base .. 'handoff:' .. worker (read, emptied: as claim.lua), base .. 't:' .. id (task hashes), base .. 'due:' .. p and base .. 'fifo:' .. p,
--   base .. 'call:' .. id (replay)
-- Returns: like claim.lua, with the refused ids first; a resent call, the first call's reply.
local levels, scheduled, running, finished, marker, outbox, flow, flowStarts, metrics, metricsSeries, idlers = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
--!include context
local worker, lease, want, count = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local metrics_on = ARGV[9] ~= '0'
local attempts_from = 10
local call_id, acks = ARGV[attempts_from + 6 * count], ARGV[attempts_from + 6 * count + 1]
local idler = ARGV[attempts_from + 6 * count + 2]
--!include claim
--!include handoff
--!include metrics
--!include replay

local first = replayed(call_id, acks)
if first then return first end

local i, refused, retired, done, ok = attempts_from, {}, false, {}, {}
for _ = 1, count do
  local id, attempt, outcome, payload, retry_at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local ms = ARGV[i + 5]
  i = i + 6
  local key = tkey(id)
  local cur = redis.pcall('HMGET', key, 'attempts', 'state', 'cancelled', 'priority', 'type', 'action')
  if cur.err then
    fail_corrupt(id, 'its key was replaced by a ' .. key_type(key) .. ' while it ran')
    retired = true
  elseif cur[1] ~= attempt or cur[2] ~= 'running' then
    refused[#refused + 1] = id
  else
    done[#done + 1] = id
    -- A cancelled task is not retried: it fails.
    metric_outcome(cur[5], cur[6], (outcome == 'retry' and cur[3] == '1') and 'fail' or outcome, ms)
    if outcome == 'ok' and retention == 0 and not mirror then
      -- Nothing will read the final fields: the hash goes at once.
      redis.call('DEL', key)
    elseif outcome == 'ok' then
      if payload ~= '' then
        redis.call('HSET', key, 'state', 'succeeded', 'success', '1', 'finished_at', now_text, 'result', payload)
      else
        redis.call('HSET', key, 'state', 'succeeded', 'success', '1', 'finished_at', now_text)
      end
      ok[#ok + 1] = id
    else
      redis.call('HSET', key, 'error', payload)
      if outcome == 'retry' or tonumber(attempt) > 1 then redis.call('HSET', key, 'error:' .. attempt, payload) end
      if outcome == 'retry' and cur[3] ~= '1' then
        local at = tonumber(retry_at)
        -- The first scheduled time stays known (the mirror's history reads it) once the retry moves it.
        local first = redis.call('HGET', key, 'scheduled_at')
        if first then redis.call('HSETNX', key, 'first_scheduled_at', first) end
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
        redis.call('HSET', key, 'state', 'failed', 'success', '0', 'finished_at', now_text)
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
return remember(call_id, handoff_claim(idler, want, function(handed) return claim_reply(refused, want, worker, lease, handed) end), count > 0)
