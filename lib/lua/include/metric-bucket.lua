-- metric-bucket: the buckets durations and waits are counted in, a task's wait, and how a histogram
-- is written to `metrics`, without the rest of include/metrics.lua (enqueue.lua's direct hand-off
-- counts one wait and needs no more).
-- Provides: METRIC_BUCKETS, METRIC_MAX_MS, metric_bucket(ms) -> bucket index, metric_wait_ms(due_at)
--   -> the wait from due_at (ms) to now, clamped to 0..METRIC_MAX_MS, or nil when due_at is damaged;
--   metric_incr(field, n), metrics_add(fields, incs), metric_histo_fields(fields, incs, prefix, suffix,
--   counts by bucket, sum_field, sum), metric_histo(prefix, suffix, counts by bucket, sum_field, sum).
-- Needs: KEYS metrics; context (now, int).

-- Upper bounds (ms) of the duration and wait buckets (lib/metrics/read.ts has the same list).
local METRIC_BUCKETS = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}

-- Durations and waits are counted up to this (a year): sums stay whole numbers HINCRBY takes.
local METRIC_MAX_MS = 31536000000
-- (locals: a global or math.x is a table lookup per use, on the per-task path)
local floor, tonumber = math.floor, tonumber

local function metric_bucket(ms)
  if ms <= 5 then return 1 end
  for b = 1, #METRIC_BUCKETS do if ms <= METRIC_BUCKETS[b] then return b end end
  return #METRIC_BUCKETS + 1
end

-- (A damaged scheduled_at, text, NaN or 1e400, must not make HINCRBY fail and abort the call.)
local function metric_wait_ms(due_at)
  local at = tonumber(due_at)
  if not at or at ~= at then return nil end
  local w = floor(now - at)
  if w < 0 then return 0 elseif w > METRIC_MAX_MS then return METRIC_MAX_MS end
  return w
end

-- Adds n to a field of `metrics`. A damaged field (not a whole number) starts again at n instead of
-- making HINCRBY abort the call after its other writes (ioredis-mock's HINCRBY answers false there).
local function metric_incr(field, n)
  if type(redis.pcall('HINCRBY', metrics, field, int(n))) ~= 'number' then redis.call('HSET', metrics, field, int(n)) end
end

-- Totals are whole numbers below this (2^53: Lua's numbers add exactly up to there); anything else
-- in a field is damage.
local METRIC_MAX_TOTAL = 9007199254740992

-- Adds incs[i] to fields[i] of `metrics`: one HMGET and one HSET (per 2000 fields) instead of one
-- HINCRBY per field (a flush changes ~5-10 fields, and each command a script calls costs more than
-- the adding in Lua); a lone field takes metric_incr, one command either way. A damaged field counts
-- from 0 instead of aborting the call.
local function metrics_add(fields, incs)
  if #fields == 0 then return end
  if #fields == 1 then metric_incr(fields[1], incs[1]); return end
  for j = 1, #fields, 2000 do
    local last = math.min(j + 1999, #fields)
    local old = redis.call('HMGET', metrics, unpack(fields, j, last))
    local kv = {}
    for i = j, last do
      local v = tonumber(old[i - j + 1])
      if not v or v ~= v or v >= METRIC_MAX_TOTAL or v < 0 then v = 0 end
      kv[#kv + 1] = fields[i]
      kv[#kv + 1] = int(v + incs[i])
    end
    redis.call('HSET', metrics, unpack(kv))
  end
end

-- A histogram's counted buckets and its sum (when not 0: the usual wait of a task handed at once)
-- appended to the fields to add (names: prefix .. <bucket> .. suffix, sum_field).
local function metric_histo_fields(fields, incs, prefix, suffix, h, sum_field, sum)
  local any = false
  for b = 1, #METRIC_BUCKETS + 1 do
    local n = h[b]
    if n then fields[#fields + 1] = prefix .. b .. suffix; incs[#fields] = n; any = true end
  end
  if any and sum ~= 0 then fields[#fields + 1] = sum_field; incs[#fields] = sum end
end

-- One histogram written to `metrics` on its own (the direct hand-off's one wait).
local function metric_histo(prefix, suffix, h, sum_field, sum)
  local fields, incs = {}, {}
  metric_histo_fields(fields, incs, prefix, suffix, h, sum_field, sum)
  metrics_add(fields, incs)
end
