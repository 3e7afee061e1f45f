--!include common
-- Stores tasks and makes each due or scheduled, all in one step.
-- ARGV from 5: count, then per task: id, type, object_id ('' = none), action, args (msgpack, '' = none),
--   priority, scheduled_at (ms), n, then n extra field/value pairs (attempts, backoff, timeout).
-- Returns the number of tasks stored.
local i, woke = 6, false
local earliest = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')[2]
earliest = earliest and tonumber(earliest)
for _ = 1, tonumber(ARGV[5]) do
  local id, at = ARGV[i], tonumber(ARGV[i + 6])
  local state = at > now and 'scheduled' or 'queued'
  local h = {tkey(id), 'type', ARGV[i + 1], 'action', ARGV[i + 3], 'priority', ARGV[i + 5],
    'scheduled_at', ARGV[i + 6], 'state', state, 'created_at', ARGV[2]}
  if ARGV[i + 2] ~= '' then h[#h + 1] = 'object_id'; h[#h + 1] = ARGV[i + 2] end
  if ARGV[i + 4] ~= '' then h[#h + 1] = 'args'; h[#h + 1] = ARGV[i + 4] end
  local n = tonumber(ARGV[i + 7])
  for j = 1, 2 * n do h[#h + 1] = ARGV[i + 7 + j] end
  redis.call('HSET', unpack(h))
  if state == 'queued' then
    push_due(id, ARGV[i + 5], at)
    woke = true
  else
    redis.call('ZADD', scheduled, at, id)
    -- A new earliest time: wake a worker so it shortens its wait.
    if not earliest or at < earliest then earliest = at; woke = true end
  end
  changed(id)
  i = i + 8 + 2 * n
end
if woke then redis.call('ZADD', marker, 0, '0') end
return int(tonumber(ARGV[5]))
