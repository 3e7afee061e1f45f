-- sweep: recovers tasks whose worker died: their lease ran out without renewal. Each goes back to
-- the queue with its stalled count +1, or fails with the given "worker lost" error once the count
-- passes the maximum. A task cancelled while it ran ends as cancelled instead. Throttled by a
-- lock so one worker sweeps a queue at a time.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   sweeper   string  the throttle lock (write: SET NX PX)
--   levels    zset    priorities that have due tasks (write)
--   running   zset    leases: id by deadline (read, write: expired ones leave it)
--   finished  zset    final tasks by finish time (write, trimmed)
--   marker    zset    wakes an idle worker (write)
--   outbox    list    changed ids, for the mirror (write)
--   metrics        hash  a final failure counted (include/metrics.lua; a corrupt task's too)
--   metricsSeries  hash  the failure's minute and hour slots (include/metrics.lua)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    max_stalls  recoveries allowed before "worker lost"
--   6    lost_error  the "worker lost" error (msgpack)
--   7    throttle    how long the lock keeps other sweeps off (ms)
--   8    sweeper_name  who sweeps (the lock's value)
--   9    metrics  '0': count nothing (setup metrics: false)
-- Also touches: base .. 't:' .. id (task hashes, a non-hash one renamed to <key>:corrupt),
--   base .. 'due:' .. p (due index)
-- Returns: {recovered count, failed count}, or {'-1', '-1'} when another worker swept recently.
local sweeper, levels, running, finished, marker, outbox, metrics, metricsSeries = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
--!include context
local max_stalls, lost_error, throttle, sweeper_name = tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8]
local metrics_on = ARGV[9] ~= '0'
--!include due
--!include corrupt
--!include metrics

if not redis.call('SET', sweeper, sweeper_name, 'NX', 'PX', throttle) then return {'-1', '-1'} end
local ids = redis.call('ZRANGEBYSCORE', running, '-inf', now, 'LIMIT', 0, 1000)
local back, failed = 0, 0
for i = 1, #ids do
  local id = ids[i]
  local key = tkey(id)
  redis.call('ZREM', running, id)
  local kt = key_type(key)
  local f = kt == 'hash' and redis.call('HMGET', key, 'state', 'priority', 'scheduled_at', 'cancelled', 'stalled', 'type', 'action') or {}
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
      redis.call('HSET', key, 'state', 'failed', 'success', '0', 'finished_at', now_text, 'error', lost_error)
      retire(id)
      -- A final failure, as a worker's would be (its attempt ran, maybe to the end, unmeasured).
      metric_outcome(f[6], f[7], 'fail', '')
      failed = failed + 1
    else
      requeue(id, f[2], f[3])
      back = back + 1
    end
  end
end
if back > 0 then redis.call('ZADD', marker, 0, '0') end
if failed > 0 then trim_finished() end
metrics_flush()
return {int(back), int(failed)}
