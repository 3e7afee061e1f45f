-- flow: flow control inside the claim. A paused queue, or one held by a RateLimitedError, starts
-- nothing; the rate limit is a sliding log of start times (at most rate_max starts in any window
-- of rate_ms: a start is allowed once the oldest logged start is rate_ms old); the concurrency cap
-- counts the queue's leases (`running`), so a dead worker's slot comes back when its lease is swept.
-- A task handed back before it started gives back the start its claim logged (flow_refund).
-- Provides: flow_allowed(want), flow_started(ids, first_attempt), flow_reply(next_text) (called in this
--   order, once per claim); flow_refund(claimed_at) (release, flow-hold: once per task handed back unstarted).
-- Needs: KEYS levels, running, marker, flow, flowStarts; context (now, now_text, int).
--!include context

-- What flow_allowed read, for flow_started and flow_reply of the same claim.
local flow_wait, flow_cap, flow_max, flow_ms, flow_n, flow_n_read, flow_running = nil, nil, nil, nil, 0, 0, 0

-- How many of `want` tasks may start now (0 when paused or held).
-- The rate log holds one entry per claim, "now:first id:its attempt:count" at score now, and the flow
-- hash field rate_n their total, so a claim of many tasks costs one entry (not one per task). A
-- claim of an attempt happens once, so no two entries share a name (flow_refund relies on it).
local function flow_allowed(want)
  flow_wait, flow_cap, flow_max, flow_ms, flow_n, flow_n_read = nil, nil, nil, nil, 0, 0
  local f = redis.call('HMGET', flow, 'paused', 'hold', 'rate_max', 'rate_ms', 'concurrency', 'rate_n')
  if f[1] == '1' then return 0 end
  local hold = tonumber(f[2])
  if hold and hold > now then flow_wait = hold; return 0 end
  local allowed = want
  flow_cap = tonumber(f[5])
  if flow_cap then
    flow_running = redis.call('ZCARD', running)
    allowed = math.min(allowed, flow_cap - flow_running)
  end
  flow_max, flow_ms = tonumber(f[3]), tonumber(f[4])
  if flow_max and flow_ms then
    -- Starts at or before now - rate_ms are out of the window (now - rate_ms, now].
    flow_n = tonumber(f[6]) or 0
    flow_n_read = flow_n
    local edge = int(now - flow_ms) -- as text: the mock's VM would pass a float otherwise
    local gone = redis.call('ZRANGEBYSCORE', flowStarts, '-inf', edge)
    if #gone > 0 then
      for i = 1, #gone do flow_n = flow_n - (tonumber(string.match(gone[i], ':(%d+)$')) or 1) end
      redis.call('ZREMRANGEBYSCORE', flowStarts, '-inf', edge)
    end
    -- An empty log counts nothing: a count left behind (the log deleted by hand) must not hold the queue for ever.
    if flow_n > 0 and (#gone > 0 or flow_n >= flow_max) and redis.call('EXISTS', flowStarts) == 0 then flow_n = 0 end
    if flow_n < 0 then flow_n = 0 end
    allowed = math.min(allowed, flow_max - flow_n)
  else
    flow_max = nil
  end
  return math.max(allowed, 0)
end

-- The claimed ids started now: one log entry for the rate.
local function flow_started(ids, first_attempt)
  if flow_cap then flow_running = flow_running + #ids end
  if not flow_max or #ids == 0 then return end
  redis.call('ZADD', flowStarts, now, now_text .. ':' .. ids[1] .. ':' .. first_attempt .. ':' .. #ids)
  flow_n = flow_n + #ids
end

-- A task handed back before it started (it waited prefetched): its claim's start is taken off the
-- log, so the rate's budget is not used up by tasks that never ran. `claimed_at` is its started_at,
-- the claim's now, which is the score of the entry that counted it. Entries of one score leave the
-- window together, so taking the start off any of them is the same: the first one's count drops by
-- one (its name otherwise kept, so it cannot meet another's), and at 0 it goes; rate_n drops with
-- it, never below 0. Nothing to refund when no rate is set, when no entry has that score (the rate
-- was set after the claim) or when it is out of the window (at or before now - rate_ms: it limits
-- nothing any more, and the next claim drops it and its count whole). Returns true when refunded.
local function flow_refund(claimed_at)
  local at = tonumber(claimed_at)
  local f = redis.call('HMGET', flow, 'rate_ms', 'rate_n')
  local ms = tonumber(f[1])
  if not at or not ms or at <= now - ms then return false end
  local entry = redis.call('ZRANGEBYSCORE', flowStarts, claimed_at, claimed_at, 'LIMIT', 0, 1)[1]
  if not entry then return false end
  redis.call('ZREM', flowStarts, entry)
  local name, count = string.match(entry, '^(.*):(%d+)$')
  count = tonumber(count) or 1 -- (an entry without a count counts one, as in flow_allowed)
  if count > 1 then redis.call('ZADD', flowStarts, claimed_at, name .. ':' .. int(count - 1)) end
  local n = tonumber(f[2]) or 0
  if n > 0 then redis.call('HSET', flow, 'rate_n', int(n - 1)) end
  return true
end

-- The reply's "next time" (ms as text, '' none): the earlier of `next_text` and when the flow lets
-- the next start happen (the hold's end, or when the oldest entry leaves a full rate window).
-- A finish that freed a capped slot without filling it wakes an idle worker.
local function flow_reply(next_text)
  local at = flow_wait
  -- The count, written once per claim (expired entries out, this claim's in).
  if flow_max and flow_n ~= flow_n_read then redis.call('HSET', flow, 'rate_n', int(flow_n)) end
  if flow_max and flow_n >= flow_max then
    local oldest = redis.call('ZRANGE', flowStarts, 0, 0, 'WITHSCORES')[2]
    if oldest then at = tonumber(oldest) + flow_ms end
  end
  if flow_cap and not at and flow_running < flow_cap and redis.call('ZCARD', levels) > 0 then
    redis.call('ZADD', marker, 0, '0')
  end
  if at and (next_text == '' or at < tonumber(next_text)) then return int(at) end
  return next_text
end
