-- One node's rate-limit counts for one window of one limiter, atomically (llmux
-- src/fleet/limits.rs; docs/fleet.md).
--
-- Each node writes its own count per identity (absolute values, not increments), so writing the
-- same values twice changes nothing: a retry after a lost reply cannot count twice. The fleet
-- total per identity is a running sum moved by (new - old) of the writing node. A node that
-- stops keeps its counts: the requests it let through happened, and count until the window
-- ends; both keys expire with the window.
--
-- KEYS[1] nodes: hash, "<node>\t<identity>" -> that node's count
-- KEYS[2] sum:   hash, identity -> the sum of KEYS[1] over every node
-- ARGV[1] node id, ARGV[2] when the keys expire (unix ms), ARGV[3] "identity\tcount\n"...
-- Returns the fleet totals (HGETALL of KEYS[2]).
local nodes, sum = KEYS[1], KEYS[2]
local node, expire_at, blob = ARGV[1], tonumber(ARGV[2]), ARGV[3]

-- The sum means something only beside the node values it sums: either one missing (evicted)
-- starts the window over, and every node re-adds its counts on its next sync.
if redis.call('EXISTS', nodes) ~= redis.call('EXISTS', sum) then
  redis.call('DEL', nodes, sum)
end

local wrote = false
for line in string.gmatch(blob, '[^\n]+') do
  local id, count = string.match(line, '^([^\t]+)\t(.*)$')
  local new = tonumber(count)
  if id and new then
    local field = node .. '\t' .. id
    local old = tonumber(redis.call('HGET', nodes, field) or '0') or 0
    if new ~= old then
      redis.call('HSET', nodes, field, count)
      redis.call('HINCRBYFLOAT', sum, id, new - old)
    end
    wrote = true
  end
end
if wrote then
  redis.call('PEXPIREAT', nodes, expire_at)
  redis.call('PEXPIREAT', sum, expire_at)
end
return redis.call('HGETALL', sum)
