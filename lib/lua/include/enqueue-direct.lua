-- enqueue-direct: enqueue.lua's hand-off of its lone task to an idle worker, tried before the rest
-- of enqueue.lua is set up (include/enqueue-handoff.lua hands a due task otherwise), and what both
-- use: finding an idle worker in `idlers`, putting a task in its handoff key (include/handoff.lua).
-- Provides: pop_idler(), hand_to(worker, lease, values, from), direct_lone(task_hset, fmt).
-- Needs: KEYS idlers, levels, flow, scheduled, running, metrics, outbox; context, idler,
--   handoff-frame, metric-bucket.
--!include idler
--!include handoff-frame
--!include metric-bucket
--!claim-fields

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

-- Puts one claimed task (its claim-reply values) in the worker's handoff key, which its BZPOPMIN reads.
local function hand_to(worker, lease, values, from)
  local key = handoff_key(worker)
  redis.call('ZADD', key, now, handoff_frame(values, from))
  redis.call('PEXPIRE', key, lease)
end

-- Direct hand-off: a lone due task, with nothing else due, no scheduled task come due and no flow
-- control set (no `flow` hash), is the next task a claim would take; with an idler waiting it is
-- stored as running for it at once: no due entry, no generic claim, and none of the rest of
-- enqueue.lua's setup (cold, every step of a pickup counts). Only a task without a unique key (its
-- lock is taken by the general path). `task_hset(key, ..., state, extra)` stores the hash; `fmt`
-- reads one task from the blob. Returns true when handed; false, having written nothing, otherwise.
local function direct_lone(task_hset, fmt)
  local id, typ, oid, action, args, pr, sat, n, pos = struct.unpack(fmt, ARGV[7])
  if tonumber(sat) > now then return false end
  local v = {type = typ, object_id = oid, action = action, args = args}
  local x = {'attempts', '1', 'started_at', now_text}
  for _ = 1, n do
    local f, val
    f, val, pos = struct.unpack('<Bc0I4c0', ARGV[7], pos)
    if f == 'unique' then return false end
    v[f] = val
    x[#x + 1] = f
    x[#x + 1] = val
  end
  local busy = redis.call('EXISTS', levels, flow, scheduled)
  if busy > 1 then return false end
  if busy == 1 then
    -- (either `scheduled` alone, which is fine while its earliest task is not due yet, or not fine)
    local first = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')[2]
    if not first or tonumber(first) <= now then return false end
  end
  local lease, flag, worker = pop_idler()
  if not worker then return false end
  x[#x + 1] = 'worker'
  x[#x + 1] = worker
  task_hset(tkey(id), typ, oid, action, args, pr, sat, 'running', x)
  redis.call('ZADD', running, now + lease, id)
  -- Its wait (due to started: about 0), written as include/metrics.lua's flush writes the waits.
  local w = flag ~= '0' and metric_wait_ms(sat)
  if w then metric_histo('w', '', {[metric_bucket(w)] = 1}, 'ws', w) end
  if mirror then redis.call('RPUSH', outbox, id) end
  local values = {id, '1'}
  for i = 1, #CLAIM_FIELDS do values[i + 2] = v[CLAIM_FIELDS[i]] or '' end
  hand_to(worker, lease, values, 1)
  return true
end
