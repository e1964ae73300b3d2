-- Write the fleet's configuration, versioned (llmux src/fleet/state.rs; docs/fleet.md).
--
-- KEYS[1] the configuration hash: version, yaml, node
-- ARGV[1] "cas":  write if the stored version is ARGV[2], as version ARGV[2] + 1
--         "seed": write if the stored version is below ARGV[2] (none counts as 0), as ARGV[2]
-- ARGV[3] the configuration (decK YAML), ARGV[4] the writing node, ARGV[5] the channel that
-- announces the new version
-- Returns {1, new version} when written, {0, stored version} when not.
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') or 0
local asked = tonumber(ARGV[2])
local new
if ARGV[1] == 'cas' then
  if stored ~= asked then return {0, stored} end
  new = stored + 1
else
  if stored >= asked then return {0, stored} end
  new = asked
end
redis.call('HSET', KEYS[1], 'version', new, 'yaml', ARGV[3], 'node', ARGV[4])
redis.call('PUBLISH', ARGV[5], new)
return {1, new}
