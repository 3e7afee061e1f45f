--!include common
-- Claims up to `want` due tasks for a worker (promoting scheduled ones whose time has come).
-- ARGV from 5: worker name, lease (ms), want
-- Returns {'', claimed count, next scheduled time (ms) or '' when none was claimed, then per task:
--   id, attempt, type, object_id, action, args, timeout, max_attempts, backoff, stalled, released}
return claim_reply({}, tonumber(ARGV[7]), ARGV[5], tonumber(ARGV[6]))
