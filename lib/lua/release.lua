-- release: hands attempts a stopping worker could not finish back to the queue, ahead of later
-- tasks (they keep their priority and scheduled time), and the ones it held prefetched (at shutdown,
-- on a pause, or when auto prefetch gives them up). Not counted as a failure or a stall. A task
-- cancelled while it ran ends as cancelled instead of running again. Those that never started give
-- back the start their claim logged for a rate limit (include/flow.lua flow_refund).
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels    zset  priorities that have due tasks (write)
--   running   zset  leases (write: the attempt leaves it)
--   finished  zset  final tasks by finish time (write: a cancelled one, trimmed)
--   marker    zset  wakes an idle worker (write)
--   outbox    list  changed ids, for the mirror (write)
--   flow      hash  flow control (read rate_ms; write rate_n)
--   flowStarts zset starts in the rate window (write: the refunds)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    started  how many of the pairs, from the first, had started (their starts stay counted)
--   6..  id, attempt pairs (from `pairs_from`): the started ones, then those held prefetched
-- Also touches: base .. 't:' .. id (task hashes), base .. 'due:' .. p (due index)
-- Returns: the number released.
local levels, running, finished, marker, outbox, flow, flowStarts = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
--!include context
local started = tonumber(ARGV[5]) or 0
local pairs_from = 6
--!include due
--!include retire
--!include hand-back

return int(hand_back(pairs_from, started))
