-- The queue context every script gets as ARGV 1-4 (the queue's script() prepends them).
-- ARGV: 1 key base ("{prefix:queue}:"), 2 now (ms), 3 mirror ('1' | '0'), 4 retention (ms; 0 = drop when finished)
local base, now = ARGV[1], tonumber(ARGV[2])
local mirror, retention = ARGV[3] == '1', tonumber(ARGV[4])

-- Plain integers: the VM behind ioredis-mock prints 7 as "7.0" and has only 32-bit integers.
local function int(n) return string.format('%.0f', n) end
local function tkey(id) return base .. 't:' .. id end
