-- replay: a call that ioredis sends again after a reconnect (its first reply was lost) gets the
-- first call's reply instead of running again, so the tasks that call claimed reach the worker
-- rather than sitting leased to nobody until their lease runs out (lib/worker/calls.ts).
-- Provides: replayed(call, acks) -> the first reply or nil; remember(call, reply, always) -> reply
--   (kept only when it claimed something, or `always`: a finish that recorded outcomes).
-- Needs: context (base).
-- Also touches: base .. 'call:' .. id (list: a call's reply, kept REPLAY_MS or until acknowledged).
-- `call` '' = no id (nothing kept); `acks` = ids (comma-separated) of calls whose reply arrived.
local REPLAY_MS = 60000

local function replayed(call, acks)
  if acks and acks ~= '' then
    for ack in string.gmatch(acks, '[^,]+') do redis.call('DEL', base .. 'call:' .. ack) end
  end
  if not call or call == '' then return nil end
  local key = base .. 'call:' .. call
  if redis.call('EXISTS', key) == 0 then return nil end
  return redis.call('LRANGE', key, 0, -1)
end

local function remember(call, reply, always)
  if not call or call == '' or (reply[2] == '0' and not always) then return reply end
  local key = base .. 'call:' .. call
  for j = 1, #reply, 4000 do redis.call('RPUSH', key, unpack(reply, j, math.min(j + 3999, #reply))) end
  redis.call('PEXPIRE', key, REPLAY_MS)
  return reply
end
