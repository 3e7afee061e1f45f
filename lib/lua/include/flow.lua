-- flow: flow control inside the claim. A paused queue, or one held by a RateLimitedError, starts
-- nothing; the rate limit is a sliding log of start times (at most rate_max starts in any window
-- of rate_ms: a start is allowed once the oldest logged start is rate_ms old); the concurrency cap
-- counts the queue's leases (`running`), so a dead worker's slot comes back when its lease is swept.
-- Provides: flow_allowed(want), flow_started(ids), flow_reply(next_text).
-- Needs: KEYS levels, running, marker, flow, flowStarts; context (now, now_text, int, zadd_pairs).
--!include context

-- What flow_allowed read, for flow_started and flow_reply of the same claim.
local flow_wait, flow_cap, flow_max, flow_ms = nil, nil, nil, nil

-- How many of `want` tasks may start now (0 when paused or held).
local function flow_allowed(want)
  flow_wait, flow_cap, flow_max, flow_ms = nil, nil, nil, nil
  local f = redis.call('HMGET', flow, 'paused', 'hold', 'rate_max', 'rate_ms', 'concurrency')
  if f[1] == '1' then return 0 end
  local hold = tonumber(f[2])
  if hold and hold > now then flow_wait = hold; return 0 end
  local allowed = want
  flow_cap = tonumber(f[5])
  if flow_cap then allowed = math.min(allowed, flow_cap - redis.call('ZCARD', running)) end
  flow_max, flow_ms = tonumber(f[3]), tonumber(f[4])
  if flow_max and flow_ms then
    -- Starts at or before now - rate_ms are out of the window (now - rate_ms, now].
    redis.call('ZREMRANGEBYSCORE', flowStarts, '-inf', now - flow_ms)
    allowed = math.min(allowed, flow_max - redis.call('ZCARD', flowStarts))
  else
    flow_max = nil
  end
  return math.max(allowed, 0)
end

-- The claimed ids started now: log them for the rate.
local function flow_started(ids)
  if not flow_max or #ids == 0 then return end
  local pairs_ = {}
  for i = 1, #ids do
    pairs_[#pairs_ + 1] = now
    pairs_[#pairs_ + 1] = now_text .. ':' .. ids[i]
  end
  zadd_pairs(flowStarts, pairs_)
  redis.call('PEXPIRE', flowStarts, flow_ms + 1000)
end

-- The reply's "next time" (ms as text, '' none): the earlier of `next_text` and when the flow lets
-- the next start happen (the hold's end, or when the oldest start leaves a full rate window).
-- A finish that freed a capped slot without filling it wakes an idle worker.
local function flow_reply(next_text)
  local at = flow_wait
  if flow_max and redis.call('ZCARD', flowStarts) >= flow_max then
    local oldest = redis.call('ZRANGE', flowStarts, 0, 0, 'WITHSCORES')[2]
    if oldest then at = tonumber(oldest) + flow_ms end
  end
  if flow_cap and not at and redis.call('ZCARD', running) < flow_cap and redis.call('ZCARD', levels) > 0 then
    redis.call('ZADD', marker, 0, '0')
  end
  if at and (next_text == '' or at < tonumber(next_text)) then return int(at) end
  return next_text
end
