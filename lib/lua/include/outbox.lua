-- outbox: the SQL mirror's outbox, a list the scripts append a task's id to on each change (RPUSH:
-- O(1), no per-task bookkeeping on the hot path). A task changed three times before the mirror ran
-- has three entries; the mirror reads the CURRENT hash, so it writes that task once per batch, and
-- skips an entry of a final task it has already written (see mirrored.lua).
-- Provides: changed(id), changed_all(ids). Both do nothing when the queue does not mirror.
-- Needs: KEYS outbox; context (mirror).
--!include context

local function changed(id)
  if mirror then redis.call('RPUSH', outbox, id) end
end

-- changed() for many tasks: one RPUSH, not one per task (chunked: unpack has a stack limit).
local function changed_all(ids)
  if not mirror then return end
  for j = 1, #ids, 4000 do redis.call('RPUSH', outbox, unpack(ids, j, math.min(j + 3999, #ids))) end
end
