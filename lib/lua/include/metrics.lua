-- metrics: task metrics recorded by the scripts themselves (issue 12), gathered during one call and
-- written once at its end, so a batch of outcomes costs a few writes, not a few per task.
-- Provides: metric_outcome(type, action, outcome, ms), metric_wait(due_at), metrics_flush().
-- Needs: KEYS metrics, metricsSeries; context (now, int); the script binds `metrics_on` (false:
--   nothing is recorded) before this include.
-- Keys (lib/metrics/read.ts reads them):
--   metrics        hash  totals since the start, never decreased: 's:<Type#action>', 'f:..', 'r:..'
--                        (succeeded, failed, retried), 'd<i>:..' (attempts whose duration fell in
--                        bucket i of METRIC_BUCKETS, not cumulative), 'ds:..' (duration sum, ms);
--                        'w<i>', 'ws' the same for the wait (due to started) of the queue.
--   metricsSeries  hash  rings of fixed slots: 'm<minute % 1440>' and 'h<hour % 720>', each
--                        "<minute or hour number>:<succeeded>:<failed>:<retried>"; a slot whose
--                        number is not the current one is stale and starts again at 0. So the
--                        last 24 hours per minute and 30 days per hour, in at most 2160 fields.

-- Upper bounds (ms) of the duration and wait buckets (lib/metrics/read.ts has the same list).
local METRIC_BUCKETS = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}
local METRIC_OUTCOME = {ok = 's', fail = 'f', retry = 'r'}
local metric_add, metric_order, metric_counts = {}, {}, {s = 0, f = 0, r = 0}

local function metric_incr(field, n)
  local v = metric_add[field]
  if v then metric_add[field] = v + n else metric_add[field] = n; metric_order[#metric_order + 1] = field end
end

local function metric_bucket(ms)
  for b = 1, #METRIC_BUCKETS do if ms <= METRIC_BUCKETS[b] then return b end end
  return #METRIC_BUCKETS + 1
end

-- One attempt's outcome ('ok' | 'fail' | 'retry') and duration (ms, '' = not measured).
local function metric_outcome(typ, action, outcome, ms)
  local o = METRIC_OUTCOME[outcome]
  if not metrics_on or not o then return end
  local label = (type(typ) == 'string' and typ or '?') .. '#' .. (type(action) == 'string' and action or '?')
  metric_incr(o .. ':' .. label, 1)
  metric_counts[o] = metric_counts[o] + 1
  local d = tonumber(ms)
  if d then
    d = math.max(0, math.floor(d))
    metric_incr('d' .. metric_bucket(d) .. ':' .. label, 1)
    metric_incr('ds:' .. label, d)
  end
end

-- A claimed task's wait: from when it was due (its scheduled_at, ms) to now.
local function metric_wait(due_at)
  local at = tonumber(due_at)
  if not metrics_on or not at then return end
  local w = math.max(0, now - at)
  metric_incr('w' .. metric_bucket(w), 1)
  metric_incr('ws', w)
end

-- Adds this call's counts to a ring slot's "<n>:<s>:<f>:<r>", starting again when the slot is stale.
local function metric_slot(old, n)
  local c = metric_counts
  -- (a missing field is false on Redis, a null object on ioredis-mock)
  local on, s, f, r = string.match(type(old) == 'string' and old or '', '^(%d+):(%d+):(%d+):(%d+)$')
  if on ~= int(n) then s, f, r = 0, 0, 0 end
  return int(n) .. ':' .. int(s + c.s) .. ':' .. int(f + c.f) .. ':' .. int(r + c.r)
end

local function metrics_flush()
  for j = 1, #metric_order do
    local field = metric_order[j]
    redis.call('HINCRBY', metrics, field, int(metric_add[field]))
  end
  if metric_counts.s + metric_counts.f + metric_counts.r > 0 then
    local minute, hour = math.floor(now / 60000), math.floor(now / 3600000)
    local mf, hf = 'm' .. int(minute % 1440), 'h' .. int(hour % 720)
    local old = redis.call('HMGET', metricsSeries, mf, hf)
    redis.call('HSET', metricsSeries, mf, metric_slot(old[1], minute), hf, metric_slot(old[2], hour))
  end
  metric_add, metric_order, metric_counts = {}, {}, {s = 0, f = 0, r = 0}
end
