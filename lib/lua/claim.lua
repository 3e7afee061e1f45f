-- claim: claims up to `want` due tasks for a worker (promoting scheduled ones whose time has come).
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels     zset    priorities that have due tasks (read, write)
--   scheduled  zset    not yet due, by time (read, write: promotion)
--   running    zset    leases: id by deadline (write)
--   finished   zset    final tasks (write: a corrupt task fails)
--   marker     zset    wakes an idle worker (write: more left)
--   outbox     list    changed ids, for the mirror (write)
--   flow       hash    flow control: pause, hold, limits (read; include/flow.lua)
--   flowStarts zset    starts in the rate window (read, write)
--   metrics        hash  totals: the wait of each claimed task (write; include/metrics.lua)
--   metricsSeries  hash  per-minute/per-hour outcome counts (bound for the include; not written here)
--   idlers     zset    idle workers an enqueue may hand a task to (write: this worker leaves it once full)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    worker  the worker's name (written to each task)
--   6    lease   lease time (ms)
--   7    want    how many tasks to claim at most
--   8    metrics '0': record no metrics (setup metrics: false)
--   9-10 call id, acks: this call's id and the answered calls' ids (include/replay.lua)
--   11   idler   this worker's idlers entry (none: no hand-off): tasks an enqueue handed it and it
--                has not read (include/handoff.lua) come first in the reply; it leaves `idlers`
--                once it has all it wants
-- Also touches: base .. 'handoff:' .. worker (read, emptied), base .. 't:' .. id (task hashes, a non-hash one renamed to <key>:corrupt),
--   base .. 'due:' .. p and base .. 'fifo:' .. p (due index per priority), base .. 'call:' .. id (replay)
-- Returns: {'', claimed count, next scheduled time (ms) or '' when none was claimed (or when flow control
--   next lets a task start: include/flow.lua), then per task: id, attempt, CLAIM_FIELDS (lib/claim-reply.ts)}.
local levels, scheduled, running, finished, marker, outbox, flow, flowStarts, metrics, metricsSeries, idlers = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
--!include context
local worker, lease, want = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local metrics_on = ARGV[8] ~= '0'
local call_id, acks = ARGV[9], ARGV[10]
local idler = ARGV[11]
--!include claim
--!include handoff
--!include replay

local first = replayed(call_id, acks)
if first then return first end
return remember(call_id, handoff_claim(idler, want, function(handed) return claim_reply({}, want, worker, lease, handed) end))
