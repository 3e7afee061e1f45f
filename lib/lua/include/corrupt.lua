-- corrupt: tasks whose key was damaged by hand or by other software. A script must never abort on
-- one: Redis keeps the writes made before the error, so a half-done claim would strand the tasks
-- it took. Such a task ends failed with a CorruptTaskError saying why, counted in the metrics as a
-- failure of its Type#action ('?' for what its hash does not say).
-- Provides: fail_corrupt(id, why), packed_error(name, message), mp_str(s), KNOWN_STATE; and what
--   retire.lua provides.
-- Needs: KEYS running, finished, outbox, metrics, metricsSeries; context (retention, now_text, tkey,
--   key_type); `metrics_on` (include/metrics.lua); the script flushes the metrics (metrics_flush).
--!include context
--!include retire
--!include metrics

local KNOWN_STATE = {queued = true, scheduled = true, running = true, succeeded = true, failed = true, cancelled = true}

local function mp_str(s)
  local n = #s
  if n < 32 then return string.char(160 + n) .. s end
  if n < 256 then return string.char(217, n) .. s end
  return string.char(218, math.floor(n / 256), n % 256) .. s
end

-- A stored error as the codec (msgpackr) writes it: fixext1 0x12 0x00, then the {name, message} map.
local function packed_error(name, message)
  return string.char(212, 18, 0, 130) .. mp_str('name') .. mp_str(name) .. mp_str('message') .. mp_str(string.sub(message, 1, 1000))
end

-- Ends a task that cannot be run as failed, saying why. A key that is not a hash is moved aside to
-- <key>:corrupt (kept as long as a finished task) and a hash takes its place.
local function fail_corrupt(id, why)
  local key = tkey(id)
  local kt = key_type(key)
  local named = kt == 'hash' and redis.call('HMGET', key, 'type', 'action') or {}
  if kt ~= 'hash' and kt ~= 'none' then
    if retention == 0 then redis.call('DEL', key) else
      redis.call('RENAME', key, key .. ':corrupt')
      redis.call('PEXPIRE', key .. ':corrupt', retention)
    end
  end
  redis.call('ZREM', running, id)
  redis.call('HSET', key, 'state', 'failed', 'success', '0', 'finished_at', now_text,
    'error', packed_error('CorruptTaskError', 'task ' .. id .. ': ' .. why))
  retire(id)
  metric_outcome(named[1], named[2], 'fail', '')
end
