-- enqueue: stores tasks and makes each due or scheduled, all in one step.
-- KEYS (lib/scripts.ts passes the queue's keys of these names, in this order)
--   levels     zset  priorities that have due tasks (write)
--   scheduled  zset  not yet due, by time (read: earliest, write)
--   marker     zset  wakes an idle worker (write)
--   outbox     list  changed ids, for the mirror (write)
--   running    zset  leases (write: a hand-off, below, claims as claim.lua does)
--   finished   zset  final tasks (write: a corrupt task met by the hand-off's claim fails)
--   flow       hash  flow control (read; include/flow.lua)
--   flowStarts zset  starts in the rate window (read, write)
--   metrics        hash  the wait of a handed task (write; include/metrics.lua)
--   metricsSeries  hash  (bound for the include; not written here)
--   idlers     zset  idle workers waiting for a hand-off (read, write: the one handed a task leaves it)
-- ARGV
--   1-4  base, now, mirror, retention: the queue's context (include/context.lua)
--   5    count   how many tasks
--   6    layout  'blob' | 'list': how the tasks are passed (below); with ':new' ('blob:new'), a task
--                whose hash exists already is skipped (enqueue by id, lib/mirror/pending.ts)
--   7..  the tasks (from `tasks_from`). Each task is id, type, object_id ('' = none), action, args
--        (msgpack, '' = none), priority, scheduled_at (ms), then n extra field/value pairs
--        (max_attempts, backoff, timeout, unique, unique_until), laid out as:
--   'blob' (real Redis): ARGV[7] holds every task, read with struct.unpack: each field is its length
--     then its bytes (id, priority, scheduled_at and extra names: 1-byte length; the others: 4 bytes
--     little-endian), then a byte n and the n pairs. One argument instead of ~9 per task is far
--     cheaper to send and parse.
--   'list' (ioredis-mock: no struct, and Buffers reach its Lua as objects): one ARGV per field from
--     ARGV[7], with n before the pairs.
--   8    ('blob' only, optional) the lock key (base .. 'u:' .. key) and id of every unique task of
--        the batch, when there are two or more with distinct keys (lib/enqueue/blob.ts): the pair
--        count (2 bytes), then per pair the key (2-byte length) and the id (1-byte length); one
--        MSETNX of them takes all their locks when none is held.
-- Also touches: base .. 't:' .. id (task hashes, created), base .. 'fifo:' .. p and
--   base .. 'due:' .. p (due index per priority), base .. 'handoff:' .. worker (a hand-off)
-- Returns: the number of tasks stored (without those ':new' skipped); when a unique task found its lock
--   held (include/unique.lua), {stored, then per such task (not stored): its position (1-based), the
--   holder's id, the holder's hash (field, value, ... as HGETALL gives it)}.
-- One HSET per task. A due task goes to its priority's list `fifo:<p>` ("time:id", appended) when it
-- sorts after the list's tail (the usual case: tasks due now arrive in order), else to the zset
-- `due:<p>`; so each stays sorted and a claim merges the two heads. One RPUSH / ZADD per priority
-- (and one to `levels`) per call, outbox entries (mirror on) with one RPUSH per call, and the
-- earliest scheduled time is read only when the batch holds a scheduled task.
-- Hand-off: with a task due now and an idle worker registered in `idlers` (lib/worker/handoff.ts),
-- a due task is claimed for that worker here and put in its handoff key, which its BZPOPMIN reads:
-- it starts the task without a claim round trip. Should it be gone (killed), the lease sweep
-- requeues the task. A lone task with nothing else due and no flow control is the next task
-- anyway: it is stored as running at once (include/enqueue-direct.lua). Otherwise the first due task
-- is claimed as claim.lua would (include/claim.lua: flow control, lease, metrics, outbox).
local levels, scheduled, marker, outbox, running, finished, flow, flowStarts, metrics, metricsSeries, idlers = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
--!include context
local count, layout, tasks_from = tonumber(ARGV[5]), ARGV[6], 7
-- A transactional task is pushed by its committing process and maybe by the recovery pass: once.
local only_new = string.sub(layout, -4) == ':new'
if only_new then layout = string.sub(layout, 1, -5) end
local metrics_on = true -- (set from the idler's entry before a hand-off's claim)
local FMT = '<Bc0I4c0I4c0I4c0I4c0Bc0Bc0B' -- one task of the blob, up to its count of extra pairs

-- A task's hash in one HSET; the extra pairs `x` go last, expanded by unpack in the same call (no
-- table of all the fields).
local function task_hset(key, typ, oid, action, args, pr, sat, state, x)
  if oid == '' then
    if args == '' then
      redis.call('HSET', key, 'type', typ, 'action', action, 'priority', pr, 'scheduled_at', sat,
        'state', state, 'created_at', now_text, unpack(x))
    else
      redis.call('HSET', key, 'type', typ, 'action', action, 'priority', pr, 'scheduled_at', sat,
        'state', state, 'created_at', now_text, 'args', args, unpack(x))
    end
  elseif args == '' then
    redis.call('HSET', key, 'type', typ, 'action', action, 'priority', pr, 'scheduled_at', sat,
      'state', state, 'created_at', now_text, 'object_id', oid, unpack(x))
  else
    redis.call('HSET', key, 'type', typ, 'action', action, 'priority', pr, 'scheduled_at', sat,
      'state', state, 'created_at', now_text, 'object_id', oid, 'args', args, unpack(x))
  end
end

--!include enqueue-direct
-- The usual idle pickup: the call's lone task handed at once (include/enqueue-direct.lua), and
-- none of the rest of this script set up.
if count == 1 and layout == 'blob' and not only_new and #ARGV == tasks_from and direct_lone(task_hset, FMT) then return int(1) end

local skipped = 0
--!include entry
--!include outbox
--!include unique
--!include enqueue-handoff

local woke, woke_due = false, false
local earliest, looked = nil, false
local due, order = {}, {}
local lastp, lastd  -- the due entries of the last priority seen (a batch mostly has one)
local lastlen, letter = 0, ''
local tbase = base .. 't:'
local ob, obn = {}, 0
local NONE = {}
local pos_n, dups = 0, {}

-- A unique task whose lock is held is not stored: its position, the holder's id and hash go into the reply.
local function duplicate(id, ex)
  for j = 1, #ex, 2 do
    if ex[j] == 'unique' then
      local holder, h = unique_take(ex[j + 1], id)
      if not holder then return false end
      dups[#dups + 1] = int(pos_n)
      dups[#dups + 1] = holder
      dups[#dups + 1] = h
      return true
    end
  end
  return false
end

-- The batch's locks in one MSETNX (ARGV 8): `locked` when all were taken; when any was held, none
-- was, and each task takes its own (a held one is checked against its holder).
local locked = false
if layout == 'blob' and #ARGV > tasks_from then
  local pairs = ARGV[tasks_from + 1]
  local kv = {struct.unpack('<' .. string.rep('Hc0Bc0', struct.unpack('<H', pairs)), pairs, 3)}
  kv[#kv] = nil -- (the position after the last pair)
  locked = redis.call('MSETNX', unpack(kv)) == 1
end

local function store(id, typ, oid, action, args, pr, sat, ex)
  pos_n = pos_n + 1
  local key = tbase .. id
  -- Enqueue by id (a committed pending row pushed again): a task already stored is left alone, lock and all.
  if only_new and redis.call('EXISTS', key) == 1 then skipped = skipped + 1; return end
  if ex and not locked and duplicate(id, ex) then return end
  local at = tonumber(sat)
  local queued = not (at > now)
  task_hset(key, typ, oid, action, args, pr, sat, queued and 'queued' or 'scheduled', ex or NONE)
  if queued then
    if pr ~= lastp then
      local p = priority_of(pr)
      local d = due[p]
      if not d then
        -- f: appended to the list `fifo:<p>` (in order after its tail); z: out of order, into `due:<p>`.
        d = {f = {}, fn = 0, z = {}, zn = 0}
        local tail = redis.pcall('LINDEX', base .. 'fifo:' .. p, -1)
        if type(tail) == 'table' and tail.err then
          d.bad = true -- not a list (damaged by hand): everything of this priority goes to the zset
        elseif tail then
          d.tt, d.ti = fifo_entry(tail)
        end
        due[p] = d
        order[#order + 1] = p
      end
      lastp, lastd = pr, d
    end
    local d, n = lastd, tonumber(id)
    if not d.bad and (not d.tt or at > d.tt or (at == d.tt and n > d.ti)) then
      d.fn = d.fn + 1
      d.f[d.fn] = sat .. ':' .. id
      d.tt, d.ti = at, n
    else
      if #id ~= lastlen then lastlen = #id; letter = string.char(96 + lastlen) end
      d.z[d.zn + 1] = sat
      d.z[d.zn + 2] = letter .. id
      d.zn = d.zn + 2
    end
    woke_due = true
  else
    redis.call('ZADD', scheduled, sat, id)
    if not looked then
      earliest = redis.call('ZRANGE', scheduled, 0, 0, 'WITHSCORES')[2]
      earliest = earliest and tonumber(earliest)
      looked = true
    end
    -- A new earliest time: wake a worker so it shortens its wait.
    if not earliest or at <= earliest then earliest = at; woke = true end
  end
  if mirror then obn = obn + 1; ob[obn] = id end
end

if layout == 'blob' then
  local blob, pos, sunpack = ARGV[tasks_from], 1, struct.unpack
  local EXFMT = {} -- EXFMT[n]: the format of n extra pairs, built once
  for _ = 1, count do
    local id, typ, oid, action, args, pr, sat, n
    id, typ, oid, action, args, pr, sat, n, pos = sunpack(FMT, blob, pos)
    local ex
    if n == 1 then -- (the usual extra: a unique key) without the table of unpack's results
      local k, v
      k, v, pos = sunpack('<Bc0I4c0', blob, pos)
      ex = {k, v}
    elseif n > 0 then
      local xf = EXFMT[n]
      if not xf then xf = '<' .. string.rep('Bc0I4c0', n); EXFMT[n] = xf end
      ex = {sunpack(xf, blob, pos)}
      pos = ex[2 * n + 1]
      ex[2 * n + 1] = nil
    end
    store(id, typ, oid, action, args, pr, sat, ex)
  end
else
  local i = tasks_from
  for _ = 1, count do
    local n = tonumber(ARGV[i + 7])
    local ex
    if n > 0 then
      ex = {}
      for j = 1, 2 * n do ex[j] = ARGV[i + 7 + j] end
    end
    store(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ex)
    i = i + 8 + 2 * n
  end
end
if #order > 0 then
  local lv = {}
  for _, p in ipairs(order) do
    local d = due[p]
    for j = 1, d.fn, 4000 do redis.call('RPUSH', base .. 'fifo:' .. p, unpack(d.f, j, math.min(j + 3999, d.fn))) end
    zadd_pairs(base .. 'due:' .. p, d.z)
    lv[#lv + 1] = p
    lv[#lv + 1] = p
  end
  redis.call('ZADD', levels, unpack(lv))
end
changed_all(ob)

-- (ioredis-mock, the 'list' layout, cannot block: its workers poll and never register.)
local handed = woke_due and layout == 'blob' and hand_off()
if woke or (woke_due and not handed) then redis.call('ZADD', marker, 0, '0') end
if #dups > 0 then return {int(count - skipped - #dups / 3), unpack(dups)} end
return int(count - skipped)
