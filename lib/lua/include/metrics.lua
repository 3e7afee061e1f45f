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

--!include metric-bucket
local METRIC_OUTCOME = {ok = 's', fail = 'f', retry = 'r'}
-- This call's sums: per type and action {label, s, f, r, ds, d = {bucket -> n}} (also listed in
-- metric_labels, in first-seen order), the wait's {ws, d}, the outcomes.
-- Field names are built once per label at the flush, not per task.
local metric_tasks, metric_labels, metric_waits = {}, {}, {ws = 0, d = {}}
local metric_counts = {s = 0, f = 0, r = 0}

-- One attempt's outcome ('ok' | 'fail' | 'retry') and duration (ms, '' = not measured).
local function metric_outcome(typ, action, outcome, ms)
  local o = METRIC_OUTCOME[outcome]
  if not metrics_on or not o then return end
  -- Looked up by type, then action: no label string is built per task. The fields' types are
  -- checked only for a label not seen yet in this call (a missing field is false on Redis, a null
  -- object on ioredis-mock: counted as '?'; such a key is never stored, so it is checked each time).
  local by_type = metric_tasks[typ]
  local m = by_type and by_type[action]
  if not m then
    if type(typ) ~= 'string' then typ = '?' end
    if type(action) ~= 'string' then action = '?' end
    by_type = metric_tasks[typ]
    if not by_type then by_type = {}; metric_tasks[typ] = by_type end
    m = by_type[action]
    if not m then
      m = {label = typ .. '#' .. action, s = 0, f = 0, r = 0, ds = 0, d = {}}
      by_type[action] = m
      metric_labels[#metric_labels + 1] = m
    end
  end
  m[o] = m[o] + 1
  metric_counts[o] = metric_counts[o] + 1
  local d = tonumber(ms)
  if d and d == d then
    d = floor(d)
    if d < 0 then d = 0 elseif d > METRIC_MAX_MS then d = METRIC_MAX_MS end
    local b = d <= 5 and 1 or metric_bucket(d)
    m.d[b] = (m.d[b] or 0) + 1
    m.ds = m.ds + d
  end
end

-- A claimed task's wait: from when it was due (its scheduled_at, ms) to now.
local function metric_wait(due_at)
  local w = metrics_on and metric_wait_ms(due_at)
  if not w then return end
  local b = w <= 5 and 1 or metric_bucket(w)
  local d = metric_waits.d
  d[b] = (d[b] or 0) + 1
  metric_waits.ws = metric_waits.ws + w
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
  local fields, incs = {}, {}
  for j = 1, #metric_labels do
    local m = metric_labels[j]
    local label = m.label
    if m.s > 0 then fields[#fields + 1] = 's:' .. label; incs[#fields] = m.s end
    if m.f > 0 then fields[#fields + 1] = 'f:' .. label; incs[#fields] = m.f end
    if m.r > 0 then fields[#fields + 1] = 'r:' .. label; incs[#fields] = m.r end
    metric_histo_fields(fields, incs, 'd', ':' .. label, m.d, 'ds:' .. label, m.ds)
  end
  metric_histo_fields(fields, incs, 'w', '', metric_waits.d, 'ws', metric_waits.ws)
  metrics_add(fields, incs)
  local c = metric_counts
  if c.s + c.f + c.r > 0 then
    local minute, hour = math.floor(now / 60000), math.floor(now / 3600000)
    local mf, hf = 'm' .. int(minute % 1440), 'h' .. int(hour % 720)
    local old = redis.call('HMGET', metricsSeries, mf, hf)
    redis.call('HSET', metricsSeries, mf, metric_slot(old[1], minute), hf, metric_slot(old[2], hour))
  end
  metric_tasks, metric_labels, metric_waits = {}, {}, {ws = 0, d = {}}
  metric_counts = {s = 0, f = 0, r = 0}
end
