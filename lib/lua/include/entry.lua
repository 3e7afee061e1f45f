-- entry: how due entries are written and taken out, no KEYS bound (the keys are built from base).
-- Provides: lex(id) (a `due:<p>` member), fifo_entry(e) (a `fifo:<p>` entry "time:id" read
--   back), priority_of(priority) (the <p> of both keys), unqueue(id, priority, at_text) (a due
--   task's entry out of its priority's zset or list).
-- Needs: context (int, base).
--!include context

-- Due members are the id behind a letter giving its length ("b17"), so that Redis's lexical
-- tie-break among equal scores (same scheduled time) is numeric id order.
local function lex(id) return string.char(96 + #id) .. id end

-- A list entry "time:id" as numbers (nil for an entry damaged by hand).
local function fifo_entry(e)
  local t, i = string.match(e, '^(%-?%d+):(%d+)$')
  if t then return tonumber(t), tonumber(i), i end
end

-- One zset per priority (score = scheduled time), and `levels` to find the highest priority:
-- priority, time and id order are each exact, which one 53-bit score cannot be.
-- A damaged priority (text, nan, out of range) queues at 0: a NaN score would abort the script,
-- and every later claim with it.
local function priority_of(priority)
  local p = tonumber(priority)
  if not p or p ~= p or p < -2147483648 or p > 2147483647 then p = 0 end
  return int(math.floor(p))
end

-- Takes a due task's entry out of `due:<p>`, or else of `fifo:<p>` when `at_text` (its scheduled_at
-- as stored) is given. LREM scans the list, so it starts from the end nearer in time (the list is in
-- time order): recent and imminent tasks are found at once.
local function unqueue(id, priority, at_text)
  local p = priority_of(priority)
  if redis.call('ZREM', base .. 'due:' .. p, lex(id)) == 1 or not at_text then return end
  local l = base .. 'fifo:' .. p
  local at = tonumber(at_text)
  local head, tail = redis.pcall('LINDEX', l, 0), redis.pcall('LINDEX', l, -1)
  local ht = type(head) == 'string' and fifo_entry(head)
  local tt = type(tail) == 'string' and fifo_entry(tail)
  local dir = (at and ht and tt and at - ht > tt - at) and -1 or 1
  redis.pcall('LREM', l, dir, at_text .. ':' .. id)
end
