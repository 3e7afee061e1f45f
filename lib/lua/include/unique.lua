-- unique: the locks of unique tasks. A lock is the string base .. 'u:' .. key holding the id of
-- the task that holds it; that task's hash names the lock (`unique`) and how long it holds it
-- (`unique_until`: 'started' = while queued or scheduled, 'finished' = also while running). The
-- step that ends the hold releases the lock (claim for 'started'; retire, i.e. every final state,
-- for both), and there is no TTL: a lock whose task is gone, or past what it holds for, counts as
-- free, so a lock can never be left behind.
-- Provides: unique_holder(key) (the id of the task holding the lock, or nil), unique_take(key, id),
--   unique_release(id, key) (only if `id` holds it).
-- Needs: context (base, tkey).
-- Also touches: base .. 'u:' .. key (the locks).
--!include context

local UNIQUE_HOLDS = {started = {queued = true, scheduled = true}, finished = {queued = true, scheduled = true, running = true}}

local function unique_lock(key) return base .. 'u:' .. key end

local function unique_holder(key)
  local id = redis.pcall('GET', unique_lock(key))
  if type(id) ~= 'string' then return nil end -- none, or not a string (damaged by hand): free
  local f = redis.pcall('HMGET', tkey(id), 'state', 'unique', 'unique_until')
  if f.err or f[2] ~= key then return nil end
  if (UNIQUE_HOLDS[f[3]] or UNIQUE_HOLDS.started)[f[1]] then return id end
  return nil
end

local function unique_take(key, id) redis.call('SET', unique_lock(key), id) end

local function unique_release(id, key)
  if type(key) == 'string' and redis.pcall('GET', unique_lock(key)) == id then redis.call('DEL', unique_lock(key)) end
end
