-- enqueue-handoff: enqueue.lua gives the first due task to an idle worker, claimed as claim.lua
-- would (include/claim.lua: flow control, lease, metrics, outbox), and puts it in the worker's
-- handoff key (include/handoff.lua), which its BZPOPMIN reads.
-- Provides: hand_off().
-- Needs: include/enqueue-direct.lua (pop_idler, hand_to), what include/claim.lua needs;
--   `metrics_on` (include/metrics.lua), set here from the idler's entry.
--!include enqueue-direct

-- One due task to the idler whose wait ends first (pop_idler); more due ones wake others through the
-- marker (claim() sets it when tasks are left). Held back, the idler stays registered. The claim
-- (include/claim.lua, with the metrics) is built only here, when there is an idler to hand a task to.
local function hand_off()
  if no_idler then return false end
  local lease, flag, worker, e = pop_idler()
  if not worker then return false end
--!include claim
  metrics_on = flag ~= '0'
  local r = claim_reply({}, 1, worker, lease)
  if r[2] == '1' then hand_to(worker, lease, r, 4); return true end
  redis.call('ZADD', idlers, e[2], e[1])
  return false
end
