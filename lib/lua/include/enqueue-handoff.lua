-- enqueue-handoff: enqueue.lua's side of the hand-off (include/handoff.lua): finding an idle
-- worker in `idlers` and giving it a due task, either the lone task just stored (stored as running
-- for it at once: direct_idler, then hand_direct) or the first due task, claimed as claim.lua would.
-- Provides: pop_idler(), direct_idler(lone), handing() -> hand_direct(d), claim_for(worker, lease,
--   flag) (built only when a task is to be handed), hand_off().
-- Needs: KEYS idlers, levels, flow, scheduled, running, and what include/claim.lua needs; context,
--   unique, idler; `metrics_on` (include/metrics.lua), which hand_direct and claim_for set from the
--   idler's entry.

-- The idler whose wait ends first: lease, metrics flag, worker, and its entry (member, score) to put
-- back should it not be handed a task. Its score is until when the entry counts (lib/worker/idle.ts:
-- the wait's end plus slack); entries past it, of workers killed or busy, are dropped: a live one
-- registers again before each wait.
local no_idler = false
local function pop_idler()
  while true do
    local e = redis.call('ZPOPMIN', idlers)
    if not e[1] then no_idler = true; return nil end
    local lease, flag, worker = idler_parse(e[1])
    if worker and tonumber(e[2]) >= now then return lease, flag, worker, e end
  end
end

-- Direct hand-off: a lone due task, with nothing else due, no scheduled task come due and no flow
-- control set (no `flow` hash), is the next task a claim would take; with an idler waiting it is
-- stored as running for it at once (no due entry, no generic claim: the larger part of the cost
-- of an idle worker's pickup). `lone`: the task is due and alone in its call (real Redis). Returns
-- the idler ({lease, flag, worker}) it goes to, or nil.
local function direct_idler(lone)
  if not lone then return nil end
  local n = redis.call('EXISTS', levels, flow, scheduled)
  if n > 1 then return nil end
  if n == 1 then
    -- (either `scheduled` alone, which is fine while its earliest task is not due yet, or not fine)
    local first = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')[2]
    if not first or tonumber(first) <= now then return nil end
  end
  local lease, flag, worker = pop_idler()
  if worker then return {lease = lease, flag = flag, worker = worker} end
end

-- What hands a task to an idle worker, built only when there is one to hand a task to (most
-- enqueues find none): the handoff key, the claim's reply values, its metrics; and the claim of
-- include/claim.lua, built only when the generic hand-off below claims.
local function handing()
--!include handoff
--!include metrics
--!claim-fields
  -- Puts one claimed task (its claim-reply values) in the worker's handoff key, which its BZPOPMIN reads.
  local function hand_to(worker, lease, values, from)
    local key = handoff_key(worker)
    redis.call('ZADD', key, now, handoff_frame(values, from))
    redis.call('PEXPIRE', key, lease)
  end

  -- The direct hand-off's claim, as claim.lua's would be: lease, unique lock, wait metric, the handoff key.
  local function hand_direct(d)
    local v = {type = d.typ, object_id = d.oid, action = d.action, args = d.args}
    local ex = d.ex or {}
    for j = 1, #ex, 2 do v[ex[j]] = ex[j + 1] end
    redis.call('ZADD', running, now + d.lease, d.id)
    -- uniqueUntil 'started': its start frees the lock for the next one.
    if v.unique and v.unique_until ~= 'finished' then unique_release(d.id, v.unique) end
    metrics_on = d.flag ~= '0'
    metric_wait(d.sat)
    metrics_flush()
    local values = {d.id, '1'}
    for i = 1, #CLAIM_FIELDS do values[i + 2] = v[CLAIM_FIELDS[i]] or '' end
    hand_to(d.worker, d.lease, values, 1)
    return true
  end

  -- Claims one due task for an idle worker (want 1) and puts it in its handoff key; false when flow
  -- control (a pause, a limit) holds it back.
  local function claim_for(worker, lease, flag)
--!include claim
    metrics_on = flag ~= '0'
    local r = claim_reply({}, 1, worker, lease)
    if r[2] ~= '1' then return false end
    hand_to(worker, lease, r, 4)
    return true
  end
  return hand_direct, claim_for
end

-- One due task to the idler whose wait ends first (pop_idler); more due ones wake others through the
-- marker (claim() sets it when tasks are left). Held back, the idler stays registered.
local function hand_off()
  if no_idler then return false end
  local lease, flag, worker, e = pop_idler()
  if not worker then return false end
  local _, claim_for = handing()
  if claim_for(worker, lease, flag) then return true end
  redis.call('ZADD', idlers, e[2], e[1])
  return false
end
