-- release: hands attempts a stopping worker could not finish back to the queue, ahead of later
-- tasks (they keep their priority and scheduled time). Not counted as a failure or a stall. A task
-- cancelled while it ran ends as cancelled instead of running again.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels    zset  priorities that have due tasks (write)
--   running   zset  leases (write: the attempt leaves it)
--   finished  zset  final tasks by finish time (write: a cancelled one, trimmed)
--   marker    zset  wakes an idle worker (write)
--   outbox    list  changed ids, for the mirror (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5..  id, attempt pairs (from `pairs_from`)
-- Also touches: base .. 't:' .. id (task hashes), base .. 'due:' .. p (due index)
-- Returns: the number released.
local levels, running, finished, marker, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
--!include context
local pairs_from = 5
--!include due
--!include retire
--!include hand-back

return int(hand_back(pairs_from))
