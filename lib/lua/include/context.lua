-- context: the queue's context every script gets as ARGV 1-4, and helpers that need no keys.
-- Provides: base (key prefix "{prefix:queue}:"), now (ms, number), now_text (ARGV[2] as sent, for
--   hash fields), mirror (boolean), retention (ms; 0 = drop when finished); int, tkey, key_type,
--   zadd_pairs.
-- Needs: no KEYS. ARGV 1-4: base, now ms, mirror '1'|'0', retention ms.
local base, now, now_text = ARGV[1], tonumber(ARGV[2]), ARGV[2]
local mirror, retention = ARGV[3] == '1', tonumber(ARGV[4])

-- Plain integers: the VM behind ioredis-mock prints 7 as "7.0" and has only 32-bit integers.
local function int(n) return string.format('%.0f', n) end
-- A task's hash (keys.ts taskKey).
local function tkey(id) return base .. 't:' .. id end

-- Task keys can be damaged by hand or by other software: look before using one as a hash.
local function key_type(key)
  local t = redis.call('TYPE', key)
  return type(t) == 'table' and t.ok or t
end

-- score, member pairs as variadic ZADDs (unpack has a stack limit, hence the chunks).
local function zadd_pairs(key, pairs)
  for j = 1, #pairs, 2000 do redis.call('ZADD', key, unpack(pairs, j, math.min(j + 1999, #pairs))) end
end
