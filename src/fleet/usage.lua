-- One node's usage sync for one plugin, atomically (llmux src/fleet/usage.rs; docs/fleet.md).
--
-- Each node writes its own cumulative usage (absolute values, not increments): writing the same
-- values twice changes nothing, so a retry after a lost reply, a node restart or a Redis that
-- came back empty can neither count twice nor lose counts. The fleet total is kept as a running
-- sum that this script moves by (new - old) of the writing node, so a sync costs O(targets),
-- not O(nodes x targets).
--
-- KEYS[1] nodes: hash, node id -> that node's cumulative usage ("target\tr\tp\tc\tt\tcost\n"...)
-- KEYS[2] sum:   hash, target   -> "r\tp\tc\tt\tcost", the sum of KEYS[1] over live nodes
-- KEYS[3] live:  zset, node id  -> when the node's lease ends, in ms on the Redis clock
-- ARGV[1] node id, ARGV[2] lease in ms, ARGV[3] the node's usage, ARGV[4] "1": leave the fleet
-- Returns the fleet totals (HGETALL of KEYS[2]), or an empty array when leaving.
local nodes, sum, live = KEYS[1], KEYS[2], KEYS[3]
local node, lease, blob, leaving = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4] == '1'
local N = 5

local function numbers(text)
  local v, i = {}, 0
  for x in string.gmatch(text, '[^\t]+') do
    i = i + 1
    v[i] = tonumber(x) or 0
  end
  for j = i + 1, N do v[j] = 0 end
  return v
end

local function parse(text)
  local out = {}
  if not text then return out end
  for line in string.gmatch(text, '[^\n]+') do
    local target, rest = string.match(line, '^([^\t]+)\t(.*)$')
    if target then out[target] = numbers(rest) end
  end
  return out
end

-- The sum means something only beside the node values it sums. Either one missing (evicted,
-- or a torn restore) starts the plugin over; every live node re-adds itself on its next sync.
if redis.call('EXISTS', nodes) == 0 or redis.call('EXISTS', sum) == 0 then
  redis.call('DEL', nodes, sum, live)
end

local totals, touched = {}, {}
local function total(target)
  local v = totals[target]
  if v == nil then
    local raw = redis.call('HGET', sum, target)
    v = raw and numbers(raw) or numbers('')
    totals[target] = v
  end
  return v
end
local function add(values, sign)
  for target, v in pairs(values) do
    local s = total(target)
    for j = 1, N do s[j] = s[j] + sign * v[j] end
    touched[target] = true
  end
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Nodes whose lease ran out (crashed, or cut off from Redis) leave the totals. One that comes
-- back re-adds its whole cumulative usage, so nothing is counted twice.
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', live, '-inf', now)) do
  add(parse(redis.call('HGET', nodes, gone)), -1)
  redis.call('HDEL', nodes, gone)
  redis.call('ZREM', live, gone)
end

-- Replace this node's contribution.
add(parse(redis.call('HGET', nodes, node)), -1)
if leaving then
  redis.call('HDEL', nodes, node)
  redis.call('ZREM', live, node)
else
  add(parse(blob), 1)
  redis.call('HSET', nodes, node, blob)
  redis.call('ZADD', live, now + lease, node)
end

for target in pairs(touched) do
  local s = totals[target]
  local any = false
  for j = 1, N do
    -- Float cost that went (a + b) - b can end a hair below zero; counts are exact.
    if s[j] < 1e-9 then s[j] = 0 else any = true end
  end
  if any then
    redis.call('HSET', sum, target,
      string.format('%.0f\t%.0f\t%.0f\t%.0f\t%.17g', s[1], s[2], s[3], s[4], s[5]))
  else
    redis.call('HDEL', sum, target)
  end
end

-- The keys outlive the last node by one lease, then Redis drops them.
if redis.call('HLEN', nodes) > 0 then
  -- An empty sum hash does not exist; keep a marker so `sum` exists whenever `nodes` does.
  redis.call('HSET', sum, '', '')
end
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, lease) end

if leaving then return {} end
return redis.call('HGETALL', sum)
