-- search: which of a range of tasks match the dashboard's filter (its search without the mirror),
-- read inside Redis so that only the matches cross the network: one call looks at up to `count`
-- tasks (the caller walks the newest ones chunk by chunk and stops once its page is full). Reads only.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   finished   zset  final tasks by finish time (read: walked newest first)
--   running    zset  running tasks by lease deadline (read: walked in order)
--   scheduled  zset  not yet due, by time (read: walked in order)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    source      'finished', 'running', 'scheduled' (a range of that zset), or 'ids' (the ids given)
--   6    from        the first position of the range (0 = newest finished, soonest otherwise)
--   7    count       how many tasks of the range to look at (at most 2000: the reply is unpacked)
--   8    state       the state a task must be in ('' = any)
--   9    type        its type ('' = any)
--   10   action      its action ('' = any)
--   11   object_id   its object id ('' = any)
--   12   has_error   '1': it must have an error (the error-text filter)
--   13   nw          number of words
--   14.. nw words (ASCII lowercase) that must each occur in its stored error, ASCII-lowered; then,
--        for source 'ids', the task ids
-- Also touches: base .. 't:' .. id (task hashes, read)
-- Returns: {looked, id, error, id, error, ...}: how many tasks were looked at (fewer than count:
--   the range ended), then each match's id and its stored error (msgpack; false without the
--   error-text filter). The words only narrow: the caller checks the decoded message
--   (lib/web/error-text.ts errorMatches), since the stored error also holds the name and stack.
local finished, running, scheduled = KEYS[1], KEYS[2], KEYS[3]
--!include context
local source, from, count = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local want_state, want_type, want_action, want_object = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local has_error, nw = ARGV[12] == '1', tonumber(ARGV[13])
local FIRST_WORD = 14
local words = {unpack(ARGV, FIRST_WORD, FIRST_WORD + nw - 1)}
local FIRST_ID = FIRST_WORD + nw

local out, n = {0}, 1
local function want(expected, got) return expected == '' or got == expected end

local function check(id)
  local key = tkey(id)
  -- The state alone first: most tasks are turned down by it, at the cost of one HGET.
  local state = redis.pcall('HGET', key, 'state')
  -- Gone since the range was read (false), or not a hash (lib/lua/include/corrupt.lua deals with those).
  if type(state) ~= 'string' or not want(want_state, state) then return end
  if want_type ~= '' or want_action ~= '' or want_object ~= '' then
    local f = redis.call('HMGET', key, 'type', 'action', 'object_id')
    if not (want(want_type, f[1]) and want(want_action, f[2]) and want(want_object, f[3])) then return end
  end
  local e = false
  if has_error then
    e = redis.call('HGET', key, 'error')
    if not e then return end
    -- (Strings only: ioredis-mock hands binary values to Lua as objects; there the caller checks all.)
    if type(e) == 'string' and nw > 0 then
      local low = string.lower(e)
      for j = 1, nw do
        if not string.find(low, words[j], 1, true) then return end
      end
    end
  end
  out[n + 1], out[n + 2] = id, e
  n = n + 2
end

local looked = 0
if source == 'ids' then
  for i = FIRST_ID, #ARGV do
    check(ARGV[i])
    looked = looked + 1
  end
else
  local ids
  if source == 'finished' then ids = redis.call('ZREVRANGE', finished, from, from + count - 1)
  elseif source == 'running' then ids = redis.call('ZRANGE', running, from, from + count - 1)
  else ids = redis.call('ZRANGE', scheduled, from, from + count - 1) end
  for _, id in ipairs(ids) do check(id) end
  looked = #ids
end
out[1] = looked
return {unpack(out)}
