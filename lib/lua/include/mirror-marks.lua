-- mirror-marks: the outbox's position and age samples, for the mirror's lag (mirror-take, mirror-done, mirror-lag).
-- Provides: removed (entries ever removed), mark (samples the count now; returns how many wait).
-- Needs: KEYS outbox, outboxDone, mirrorMarks; context.
-- Age: `outboxDone` counts the entries ever removed, so the oldest waiting one is number done + 1
-- of all ever appended. `mirrorMarks` samples that count (done + LLEN) with the time it was seen;
-- the oldest waiting entry was appended before the first sample at or above done + 1.

local function removed() return tonumber(redis.call('GET', outboxDone) or '0') or 0 end

-- Samples the outbox's count now; returns how many entries wait.
local function mark()
  local waiting = redis.call('LLEN', outbox)
  if waiting == 0 then
    redis.call('DEL', mirrorMarks)
    return waiting
  end
  local seq = removed() + waiting
  local last = redis.call('ZREVRANGE', mirrorMarks, 0, 0, 'WITHSCORES')
  if not last[2] or tonumber(last[2]) < seq then
    redis.call('ZADD', mirrorMarks, seq, int(seq) .. ':' .. int(now))
  end
  return waiting
end
