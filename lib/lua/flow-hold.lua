-- flow-hold: a task's method threw RateLimitedError(ms): its attempt goes back to the queue at its
-- place without using up an attempt (like release.lua), with the tasks the worker held prefetched
-- for this queue, and the queue starts nothing until now + ms (include/flow.lua reads `hold`). The
-- held ones never started: they give back the start their claim logged for a rate limit; the one
-- that threw did start (it reached the provider), so its start stays counted.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels    zset  priorities that have due tasks (write)
--   running   zset  leases (write: the attempts leave it)
--   finished  zset  final tasks by finish time (write: a cancelled one, trimmed)
--   marker    zset  wakes an idle worker (write)
--   outbox    list  changed ids, for the mirror (write)
--   flow      hash  flow control (write: hold, rate_n)
--   flowStarts zset starts in the rate window (write: the refunds)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    queue    the queue's name (for the message)
--   6    channel  the flow channel (keys.ts flowChannel)
--   7    ms       how long the queue starts nothing
--   8..  id, attempt pairs (from `pairs_from`): the attempt that threw, then the ones held prefetched
-- Also touches: base .. 't:' .. id (task hashes), base .. 'due:' .. p (due index); publishes
--   "<queue> hold <until ms>" on the channel.
-- Returns: the number put back.
local levels, running, finished, marker, outbox, flow, flowStarts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
--!include context
local queue, channel, ms = ARGV[5], ARGV[6], tonumber(ARGV[7])
local pairs_from = 8
--!include due
--!include retire
--!include hand-back

local until_ms = now + (ms or 0)
local held = tonumber(redis.call('HGET', flow, 'hold')) or 0
if until_ms > held then redis.call('HSET', flow, 'hold', int(until_ms)); held = until_ms end

-- An idle worker wakes, finds the hold, and sleeps until it ends (the reply's next time). The message
-- names the hold's end: a worker whose claim is answered after it hands back what the claim held.
local n = hand_back(pairs_from, 1)
redis.pcall('PUBLISH', channel, queue .. ' hold ' .. int(held))
return int(n)
