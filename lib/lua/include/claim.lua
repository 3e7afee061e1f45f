-- claim: hand due tasks to a worker under a lease, and the reply claim.lua and finish.lua send.
-- Provides: promote(), claim(want, worker, lease, out), claim_reply(refused, want, worker, lease),
--   CLAIM_FIELDS (generated from lib/claim-reply.ts); and what due.lua and corrupt.lua provide.
-- Needs: KEYS levels, scheduled, running, finished, marker, outbox, flow, flowStarts, metrics, metricsSeries; context
--   (base, now, now_text); `metrics_on` (include/metrics.lua).
-- Also touches: base .. 't:' .. id, base .. 'due:' .. p, base .. 'fifo:' .. p.
--!include context
--!include due
--!include corrupt
--!include unique
--!include metrics

-- Scheduled tasks whose time has come become due (at most 1000 per call).
local function promote()
  local ids = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, 1000)
  for i = 1, #ids do
    local id = ids[i]
    redis.call('ZREM', scheduled, id)
    local kt = key_type(tkey(id))
    local f = kt == 'hash' and redis.call('HMGET', tkey(id), 'priority', 'scheduled_at', 'state') or {}
    if kt ~= 'hash' and kt ~= 'none' then
      fail_corrupt(id, 'its key holds a ' .. kt .. ', not a hash')
    elseif f[3] == 'scheduled' then
      requeue(id, f[1], f[2])
    elseif kt == 'hash' and not KNOWN_STATE[f[3]] then
      -- Dropped from `scheduled` with a state nothing else looks at, it would be stranded.
      fail_corrupt(id, 'its state field is not a task state (' .. string.sub(tostring(f[3]), 1, 40) .. ')')
    end
  end
end

-- Fields a worker needs to run a claimed task, after its id and attempt number.
--!claim-fields
--!include flow

-- Takes up to `want` due tasks in order (priority desc, time asc, id asc), marks each running
-- under a lease and appends id, attempt and CLAIM_FIELDS to `out`. Returns how many.
-- Per task: one HMGET (state, attempts and the claim fields together; a key that is not a hash
-- comes back as an error table from pcall) and one HSET; the pops (ZPOPMIN count) and the
-- running-set ZADD are batched.
local function claim(want, worker, lease, out)
  promote()
  local allowed = flow_allowed(want)
  local got = 0
  local run, took, first_attempt = {}, {}, nil
  local deadline = now + lease
  while got < allowed do
    local top = redis.call('ZREVRANGE', levels, 0, 0)[1]
    if not top then break end
    local asked = allowed - got
    local popped = take_due(top, asked)
    if #popped == 0 then
      -- (the level was stale)
    else
      for j = 1, #popped do
        local id = popped[j]
        local key = tkey(id)
        local f = redis.pcall('HMGET', key, 'state', 'attempts', 'unique', 'unique_until', 'scheduled_at', unpack(CLAIM_FIELDS))
        if f.err then
          fail_corrupt(id, 'its key holds a ' .. key_type(key) .. ', not a hash')
        elseif not f[1] then
          -- no task behind the entry (key gone)
        elseif KNOWN_STATE[f[1]] and f[1] ~= 'queued' and f[1] ~= 'scheduled' then
          -- A stray due entry (written by hand): the task already ran or runs; never run it twice.
        elseif type(f[2]) == 'string' and not (string.match(f[2], '^%d+$') and #f[2] < 15) then
          fail_corrupt(id, 'its attempts field is not a whole number (' .. string.sub(f[2], 1, 40) .. ')')
        else
          local attempt = int((tonumber(f[2]) or 0) + 1)
          redis.call('HSET', key, 'attempts', attempt, 'state', 'running', 'started_at', now_text, 'worker', worker)
          -- uniqueUntil 'started': its start frees the lock for the next one.
          if type(f[3]) == 'string' and f[4] ~= 'finished' then unique_release(id, f[3]) end
          run[#run + 1] = deadline
          run[#run + 1] = id
          took[#took + 1] = id
          first_attempt = first_attempt or attempt
          out[#out + 1] = id
          out[#out + 1] = attempt
          for i = 1, #CLAIM_FIELDS do out[#out + 1] = f[i + 5] or '' end
          metric_wait(f[5])
          got = got + 1
        end
      end
    end
  end
  zadd_pairs(running, run)
  changed_all(took)
  flow_started(took, first_attempt)
  -- More left: wake the next idle worker too.
  if got == want and got > 0 then
    local top = redis.call('ZREVRANGE', levels, 0, 0)[1]
    if top and redis.call('EXISTS', base .. 'due:' .. top, base .. 'fifo:' .. top) == 0 then
      redis.call('ZREM', levels, top)
      top = redis.call('ZREVRANGE', levels, 0, 0)[1]
    end
    if top then redis.call('ZADD', marker, 0, '0') end
  end
  return got
end

-- Reply of claim and finish (parsed by lib/claim-reply.ts): {refused ids (comma-separated),
-- claimed count, next scheduled time or '', then id, attempt, CLAIM_FIELDS per task}. `handed`
-- (optional): tasks claimed for this worker earlier (include/handoff.lua), put first, each taking
-- one of the `want`.
local function claim_reply(refused, want, worker, lease, handed)
  local out = {'', '0', ''}
  local got = 0
  if handed then
    for i = 1, #handed do
      local t = handed[i]
      for j = 1, #t do out[#out + 1] = t[j] end
      got = got + 1
    end
  end
  got = got + claim(math.max(0, want - got), worker, lease, out)
  out[1] = table.concat(refused, ',')
  out[2] = int(got)
  if got == 0 then
    local nxt = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')[2]
    if nxt then out[3] = int(tonumber(nxt)) end
  end
  out[3] = flow_reply(out[3])
  metrics_flush()
  return {unpack(out)}
end
