-- entry: how due entries are written, no keys touched.
-- Provides: lex(id) (a `due:<p>` member), fifo_entry(e) (a `fifo:<p>` entry "time:id" read
--   back), priority_of(priority) (the <p> of both keys).
-- Needs: context (int).
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
