-- mirror-lag: how many outbox entries wait, and about how long the oldest has waited.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   outbox       list    ids of changed tasks (read)
--   outboxDone   string  entries removed so far (read)
--   mirrorMarks  zset    lag samples (read, write: a sample of now)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    none: no arguments of its own
-- Also touches: nothing else
-- Returns: {entries waiting, age in ms of the oldest ('' when none)}.
local outbox, outboxDone, mirrorMarks = KEYS[1], KEYS[2], KEYS[3]
--!include context
--!include mirror-marks

local waiting = mark()
if waiting == 0 then return {'0', ''} end
local first = redis.call('ZRANGEBYSCORE', mirrorMarks, int(removed() + 1), '+inf', 'LIMIT', 0, 1)[1]
local age = ''
if first then
  local t = tonumber(string.match(first, ':(%d+)$'))
  if t then age = int(math.max(0, now - t)) end
end
return {int(waiting), age}
