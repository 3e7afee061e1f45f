-- delete: removes one task for good (the dashboard's Delete): its hash and its entry in every
-- index (due zset or in-order list of its priority, scheduled, finished), in one step. A running
-- task is refused: its worker holds it and would finish a task that no longer exists.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels      zset    priorities that have due tasks (read, write)
--   scheduled   zset    not yet due tasks (write)
--   running     zset    running tasks by lease deadline (read)
--   finished    zset    finished tasks by finish time (write)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context
--   5    id    the task's id
-- Also touches: base .. 't:' .. id (the task hash), base .. 'due:' .. p, base .. 'fifo:' .. p
-- Returns: 'deleted', 'running' (refused: nothing changed), or '' when there is no such task.
-- The SQL history row, if any, is deleted by the caller (lib/web/actions.ts).
local levels, scheduled, running, finished = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
-- (include/context.lua does not exist yet: the context ARGV is bound here as it would bind it)
local base = ARGV[1]
local id = ARGV[5]

local key = base .. 't:' .. id
local kt = redis.call('TYPE', key)
if type(kt) == 'table' then kt = kt.ok end
local lease = redis.call('ZSCORE', running, id)
if kt == 'none' and not lease and not redis.call('ZSCORE', scheduled, id) and not redis.call('ZSCORE', finished, id) then return '' end

local f = {}
if kt == 'hash' then f = redis.call('HMGET', key, 'state', 'priority', 'scheduled_at') end
if lease or f[1] == 'running' then return 'running' end

if f[1] == 'queued' then
  -- Same rules as include/common.lua: due members are a length letter and the id, list entries
  -- "time:id" with the task's scheduled time; a damaged priority is 0.
  local p = tonumber(f[2])
  if not p or p ~= p or p < -2147483648 or p > 2147483647 then p = 0 end
  p = string.format('%.0f', math.floor(p))
  local dz, dl = base .. 'due:' .. p, base .. 'fifo:' .. p
  if redis.call('ZREM', dz, string.char(96 + #id) .. id) == 0 and f[3] then
    -- LREM scans: start from the end nearer in time (the list is in time order), as cancel does.
    local at = tonumber(f[3])
    local function t_of(e) return type(e) == 'string' and tonumber(string.match(e, '^(%-?%d+):')) end
    local ht, tt = t_of(redis.pcall('LINDEX', dl, 0)), t_of(redis.pcall('LINDEX', dl, -1))
    local dir = (at and ht and tt and at - ht > tt - at) and -1 or 1
    redis.pcall('LREM', dl, dir, f[3] .. ':' .. id)
  end
  -- Keep `levels` exact, as claiming does: a level without due tasks is dropped.
  local left = redis.call('ZCARD', dz)
  local ll = redis.pcall('LLEN', dl)
  if left == 0 and (type(ll) ~= 'number' or ll == 0) then redis.call('ZREM', levels, p) end
end
redis.call('ZREM', scheduled, id)
redis.call('ZREM', finished, id)
redis.call('DEL', key, key .. ':corrupt')
return 'deleted'
