-- handoff: an enqueue hands a due task straight to an idle worker blocked on its handoff key
-- (lib/worker/handoff.ts), claimed as claim.lua would (include/claim.lua), so the worker skips the
-- wake-up-then-claim round trip. A handed task travels as one string: each value of the claim reply
-- for one task (id, attempt, CLAIM_FIELDS) as "<length>:<bytes>", in order.
-- Provides: handoff_key, handoff_frame, handoff_unframe (include/handoff-frame.lua),
--   idler_parse(member) (include/idler.lua), handoff_take(worker): the tasks waiting for that worker (unframed);
--   handoff_retract(member): the same, and it leaves `idlers`; handoff_claim(member, want, reply):
--   claim.lua's and finish.lua's claim with it.
-- Needs: KEYS idlers; context (base, int).
--!include idler
--!include handoff-frame

-- (An `idlers` entry's score is until when it counts: lib/worker/idle.ts registers again before each
-- BZPOPMIN, with its wait's end plus slack; enqueue.lua's pop_idler drops one past it.)

-- What was handed to the worker and not read yet (it is leased to it already), taken out of its key.
local function handoff_take(worker)
  local key = handoff_key(worker)
  local items = redis.call('ZRANGE', key, 0, -1)
  if #items == 0 then return {} end
  redis.call('DEL', key)
  local out = {}
  for i = 1, #items do
    if items[i] ~= 'stop' then out[#out + 1] = handoff_unframe(items[i]) end
  end
  return out
end

-- The worker stops waiting (it stops): no enqueue may hand it more; returns what it was handed.
local function handoff_retract(member)
  if not member or member == '' then return {} end
  redis.call('ZREM', idlers, member)
  local _, _, worker = idler_parse(member)
  return worker and handoff_take(worker) or {}
end

-- A claim of the worker's own (`reply(handed)` builds it; `want` 0 claims nothing): what it was
-- handed comes first, and once it has all it wants (every slot taken) it leaves `idlers`, so no
-- enqueue hands a task to a full worker. Short of that it stays registered: its wait loop reads
-- the handoff key next.
local function handoff_claim(member, want, reply)
  local _, _, worker
  if member and member ~= '' and want > 0 then _, _, worker = idler_parse(member) end
  if not worker then return reply(nil) end
  local r = reply(handoff_take(worker))
  if tonumber(r[2]) >= want then redis.call('ZREM', idlers, member) end
  return r
end
