-- handoff-frame: a worker's handoff key and the string a handed task travels as in it: each value
-- of the claim reply for one task (id, attempt, CLAIM_FIELDS) as "<length>:<bytes>", in order
-- (lib/worker/handoff.ts reads it back).
-- Provides: handoff_key(worker), handoff_frame(values, from), handoff_unframe(s).
-- Needs: context (base, int).

local function handoff_key(worker) return base .. 'handoff:' .. worker end

local function handoff_frame(values, from)
  local parts = {}
  for i = from, #values do
    local v = tostring(values[i])
    parts[#parts + 1] = int(#v) .. ':' .. v
  end
  return table.concat(parts)
end

local function handoff_unframe(s)
  local out, pos = {}, 1
  while pos <= #s do
    local colon = string.find(s, ':', pos, true)
    if not colon then break end
    local n = tonumber(string.sub(s, pos, colon - 1))
    out[#out + 1] = string.sub(s, colon + 1, colon + n)
    pos = colon + n + 1
  end
  return out
end
