-- unique: the locks of unique tasks. A lock is the string base .. 'u:' .. key holding the id of
-- the task that holds it; that task's hash names the lock (`unique`) and how long it holds it
-- (`unique_until`: absent or 'started' = while queued or scheduled, 'finished' = also while
-- running). The step that ends the hold releases the lock (claim for 'started'; retire, i.e. every
-- final state, for both), and there is no TTL: a lock whose task is gone, or past what it holds
-- for, counts as free, so a lock can never be left behind.
-- Provides: unique_take(key, id) (takes the lock for `id`; when another task holds it: that task's
--   id and its hash, flat as HGETALL gives it), unique_release(id, key) (only if `id` holds it).
-- Needs: context (base, tkey).
-- Also touches: base .. 'u:' .. key (the locks).
--!include context

local UNIQUE_HOLDS = {started = {queued = true, scheduled = true}, finished = {queued = true, scheduled = true, running = true}}

local function unique_lock(key) return base .. 'u:' .. key end

-- The usual case (no lock) costs one SET NX. A lock found is checked against its task's hash,
-- read whole since a refused enqueue returns it; a stale one is taken over.
local function unique_take(key, id)
  local lock = unique_lock(key)
  if redis.call('SET', lock, id, 'NX') then return nil end
  local holder = redis.pcall('GET', lock)
  if type(holder) == 'string' then -- else not a string (damaged by hand): free
    local h = redis.pcall('HGETALL', tkey(holder))
    if not h.err then
      local state, u, untl
      for j = 1, #h, 2 do
        local f = h[j]
        if f == 'state' then state = h[j + 1] elseif f == 'unique' then u = h[j + 1] elseif f == 'unique_until' then untl = h[j + 1] end
      end
      if u == key and (UNIQUE_HOLDS[untl] or UNIQUE_HOLDS.started)[state] then return holder, h end
    end
  end
  redis.call('SET', lock, id)
  return nil
end

local function unique_release(id, key)
  if type(key) == 'string' and redis.pcall('GET', unique_lock(key)) == id then redis.call('DEL', unique_lock(key)) end
end
