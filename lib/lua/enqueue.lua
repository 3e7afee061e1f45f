--!include common
-- Stores tasks and makes each due or scheduled, all in one step.
-- ARGV from 5: count, then per task: id, type, object_id ('' = none), action, args (msgpack, '' = none),
--   priority, scheduled_at (ms), n, then n extra field/value pairs (attempts, backoff, timeout).
-- Returns the number of tasks stored.
-- One HSET per task; due entries are added with one ZADD per priority (and one to `levels`) per
-- call, and the earliest scheduled time is read only when the batch holds a scheduled task.
local i, woke = 6, false
local earliest, looked = nil, false
local due, order = {}, {}
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
    local p = tonumber(ARGV[i + 5])
    if not p or p ~= p or p < -2147483648 or p > 2147483647 then p = 0 end
    p = int(math.floor(p))
    local l = due[p]
    if not l then l = {}; due[p] = l; order[#order + 1] = p end
    l[#l + 1] = at
    l[#l + 1] = lex(id)
    woke = true
  else
    redis.call('ZADD', scheduled, at, id)
    if not looked then
      earliest = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')[2]
      earliest = earliest and tonumber(earliest)
      looked = true
    end
    -- A new earliest time: wake a worker so it shortens its wait.
    if not earliest or at <= earliest then earliest = at; woke = true end
  end
  changed(id)
  i = i + 8 + 2 * n
end
if #order > 0 then
  local lv = {}
  for _, p in ipairs(order) do
    local l = due[p]
    for j = 1, #l, 2000 do redis.call('ZADD', base .. 'due:' .. p, unpack(l, j, math.min(j + 1999, #l))) end
    lv[#lv + 1] = p
    lv[#lv + 1] = p
  end
  redis.call('ZADD', levels, unpack(lv))
end
if woke then redis.call('ZADD', marker, 0, '0') end
return int(tonumber(ARGV[5]))
