-- idle-leave: a stopping worker leaves a queue's idlers and hands back what an enqueue handed it
-- and it has not read (include/handoff.lua), then unblocks its BZPOPMIN on the handoff key.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels    zset  priorities that have due tasks (write)
--   running   zset  leases (write: a handed-back attempt leaves it)
--   finished  zset  final tasks by finish time (write: a cancelled one, trimmed)
--   marker    zset  wakes an idle worker (write)
--   outbox    list  changed ids, for the mirror (write)
--   flow      hash  flow control (read rate_ms; write rate_n: a handed task never started gives its start back)
--   flowStarts zset starts in the rate window (write: the refunds)
--   idlers    zset  idle workers waiting for a hand-off (write: this one leaves)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    idler   the worker's idlers entry ("leaseMs:metricsFlag:worker")
-- Also touches: base .. 'handoff:' .. worker (emptied; then holds 'stop' for 10 s so a BZPOPMIN
--   in flight returns at once), base .. 't:' .. id (task hashes), base .. 'due:' .. p (due index)
-- Returns: the number handed back.
local levels, running, finished, marker, outbox, flow, flowStarts, idlers = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
--!include context
local idler = ARGV[5]
--!include due
--!include retire
--!include hand-back
--!include handoff

local given = {}
for _, t in ipairs(handoff_retract(idler)) do
  given[#given + 1] = t[1]
  given[#given + 1] = t[2]
end
local n = hand_back_list(given, 1, 0) -- (none of them started)
local _, _, worker = idler_parse(idler)
if worker then
  local key = handoff_key(worker)
  redis.call('ZADD', key, '+inf', 'stop')
  redis.call('PEXPIRE', key, 10000)
end
return int(n)
