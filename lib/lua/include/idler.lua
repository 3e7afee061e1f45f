-- idler: an `idlers` member, "leaseMs:metricsFlag:worker" (lib/worker/handoff.ts idlerMember), read back.
-- Provides: idler_parse(member) -> lease (number), metrics flag, worker name (which may hold ':').
-- Needs: nothing.

local function idler_parse(member)
  local lease, flag, worker = string.match(member, '^(%d+):(%d):(.+)$')
  return tonumber(lease), flag, worker
end
