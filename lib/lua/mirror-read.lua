-- mirror-read: the fields of many task hashes in one call (the mirror's read of what to write).
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   outbox       list    not read: names the queue's hash slot (Redis Cluster routes by it)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    nf      number of field names
--   6... nf field names, then task ids
-- Also touches: base .. 't:' .. id (task hashes, read)
-- Returns: nf values per id (false for a missing field; all false for a missing key, a key that is
-- not a hash, or a final task the mirror already wrote as it is: an older entry of it).
local outbox = KEYS[1]
--!include context
local nf = tonumber(ARGV[5])
local FIRST_FIELD = 6
local fields = {unpack(ARGV, FIRST_FIELD, FIRST_FIELD + nf - 1)}

local out, k = {}, 0
for i = FIRST_FIELD + nf, #ARGV do
  local r = redis.pcall('HMGET', tkey(ARGV[i]), 'mirrored', 'attempts', 'finished_at', unpack(fields))
  -- (Strings only: ioredis-mock hands binary values to Lua as objects; there nothing is skipped.)
  local m, a, f = r[1], r[2] or '', r[3] or ''
  local skip = r.err ~= nil or (type(m) == 'string' and type(a) == 'string' and type(f) == 'string' and m == a .. ':' .. f)
  for j = 1, nf do
    k = k + 1
    out[k] = not skip and r[j + 3] or false
  end
end
return {unpack(out)}
