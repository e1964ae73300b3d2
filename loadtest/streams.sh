#!/usr/bin/env bash
# 10,000 concurrent streaming connections through llmux.
#
#   loadtest/streams.sh                     # 10,000 streams of 100 events 100 ms apart
#   STREAMS=2000 loadtest/streams.sh        # fewer
#
# Starts a mock provider with a slow stream (EVENTS events, INTERVAL_MS apart: 10 s per
# stream by default) on MOCK_CPU, llmux with one worker on GW_CPU, then a Python asyncio
# client (loadtest/streams_client.py, on CLIENT_CPU) that opens every stream at once and
# checks that each one answers 200, carries all its events and ends with `data: [DONE]`.
# llmux's VmRSS, VmHWM and open descriptors are sampled every 100 ms. Writes
# OUT/streams.json and OUT/logs/streams-*.log, then regenerates OUT/report.md.
# Loopback only; the whole run is bounded by DEADLINE seconds; everything started is
# stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
ROOT="$(dirname "$HERE")"
cd "$ROOT"

STREAMS="${STREAMS:-10000}"
EVENTS="${EVENTS:-100}"
INTERVAL_MS="${INTERVAL_MS:-100}"
SETTLE="${SETTLE:-5}"
MOCK_CPU="${MOCK_CPU:-0}"
GW_CPU="${GW_CPU:-1}"
CLIENT_CPU="${CLIENT_CPU:-$MOCK_CPU}"
BASE_PORT="${BASE_PORT:-18500}"
IO_DRIVER="${IO_DRIVER:-auto}"
DEADLINE="${DEADLINE:-240}"
QUIET_WAIT="${QUIET_WAIT:-120}"
QUIET_BUSY="${QUIET_BUSY:-15}"
BUILD="${BUILD:-0}"
if [[ "$(id -u)" == 0 ]]; then NICE="${NICE:--20}"; else NICE="${NICE:-0}"; fi
OUT="${OUT:-$HERE/out}"
LLMUX_BIN="${LLMUX_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/llmux}"
MOCK_PORT=$((BASE_PORT + 0))
LLMUX_PORT=$((BASE_PORT + 1))
ADMIN_PORT=$((BASE_PORT + 2))

log() { printf '[streams.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

mkdir -p "$OUT/logs"
if [[ "$BUILD" == "1" ]]; then cargo build --release 2>&1 | tail -n 3 >&2; fi
[[ -x "$LLMUX_BIN" ]] || { log "no llmux binary at $LLMUX_BIN (set LLMUX_BIN or BUILD=1)"; exit 1; }

# Every process needs a descriptor per connection: raise the soft limit to the hard one
# (llmux needs two per stream: client side and upstream side).
hard="$(ulimit -Hn)"
ulimit -n "$hard" 2>/dev/null || true
[[ "$hard" == unlimited ]] || ((hard >= 2 * STREAMS + 64)) ||
    log "note: the hard descriptor limit is $hard, below the $((2 * STREAMS + 64)) llmux needs for $STREAMS streams (client + upstream sockets)"

PIDS=()
AUTOGROUP_OLD=""
TMP=""
SAMPLER_PID=""
cleanup() {
    local rc=$?
    set +e
    restore_priority
    [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
    stop_processes
    [[ -n "$TMP" && -d "$TMP" ]] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
boost_priority
trap 'exit 130' INT TERM

wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { log "$3 exited before listening"; return 1; }
        sleep 0.1
    done
    log "$3 did not listen on $1 within 10 s"
    return 1
}
for p in "$MOCK_PORT" "$LLMUX_PORT" "$ADMIN_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then log "port $p in use; set BASE_PORT"; exit 1; fi
done

TMP="$(mktemp -d /tmp/llmux-streams.XXXXXX)"
nice -n "$NICE" taskset -c "$MOCK_CPU" "$LLMUX_BIN" mock-provider --listen "127.0.0.1:$MOCK_PORT" \
    --completion-tokens "$EVENTS" --stream-interval-ms "$INTERVAL_MS" --workers 1 \
    >"$OUT/logs/streams-mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
wait_port "$MOCK_PORT" "$MOCK_PID" mock
taskset -a -p -c "$MOCK_CPU" "$MOCK_PID" >/dev/null

cat >"$TMP/llmux.yaml" <<EOF
_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
      - route_type: llm/v1/chat
        auth: { header_name: Authorization, header_value: Bearer sk-loadtest }
        model:
          provider: openai
          name: gpt-4o
          model_alias: powerful
          options: { upstream_url: "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" }
      - route_type: llm/v1/chat
        auth: { header_name: Authorization, header_value: Bearer sk-loadtest }
        model:
          provider: openai
          name: gpt-4o-mini
          model_alias: fast
          options: { upstream_url: "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" }
EOF
nice -n "$NICE" taskset -c "$GW_CPU" "$LLMUX_BIN" serve --config "$TMP/llmux.yaml" --listen "127.0.0.1:$LLMUX_PORT" \
    --admin-listen "127.0.0.1:$ADMIN_PORT" --workers 1 --io-driver "$IO_DRIVER" \
    >"$OUT/logs/streams-llmux.log" 2>&1 &
LLMUX_PID=$!
PIDS+=("$LLMUX_PID")
wait_port "$LLMUX_PORT" "$LLMUX_PID" llmux
# llmux pins its worker to core 0 by index; put every thread on GW_CPU.
taskset -a -p -c "$GW_CPU" "$LLMUX_PID" >/dev/null
rss0="$(awk '/^VmRSS:/ {print $2}' "/proc/$LLMUX_PID/status")"
log "llmux pid $LLMUX_PID, idle RSS ${rss0} kB, nofile limit $(awk '/Max open files/ {print $4}' "/proc/$LLMUX_PID/limits")"

# Sampler: "t_ms rss_kb fds" every 100 ms, bounded by DEADLINE.
(
    t0=$(date +%s%N)
    for ((i = 0; i < DEADLINE * 10; i++)); do
        kill -0 "$LLMUX_PID" 2>/dev/null || break
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$LLMUX_PID/status" 2>/dev/null || echo 0)
        f=$(ls -f "/proc/$LLMUX_PID/fd" 2>/dev/null | wc -l)
        f=$((f > 2 ? f - 2 : 0)) # . and ..
        echo "$((($(date +%s%N) - t0) / 1000000)) $r $f"
        sleep 0.1
    done
) >"$OUT/logs/streams-llmux-samples.txt" &
SAMPLER_PID=$!

# Other sessions may share the machine: wait (bounded) until both CPUs are mostly idle.
busy_all() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
deadline=$((SECONDS + QUIET_WAIT))
while :; do
    read -r a x <<<"$(busy_all)"; sleep 1; read -r b y <<<"$(busy_all)"
    bg=$(((y > x) ? 100 * (b - a) / (y - x) : 0))
    ((bg <= QUIET_BUSY || SECONDS >= deadline)) && break
done
log "background CPU busy before the run: ${bg}%"
read -r all0 _ <<<"$(busy_all)"
log "opening $STREAMS streams of $EVENTS events, $INTERVAL_MS ms apart, through llmux"
cpu0="$(sed 's/^.*) //' "/proc/$LLMUX_PID/stat" | awk '{print $12 + $13}')"
rc=0
nice -n "$NICE" taskset -c "$CLIENT_CPU" timeout $((DEADLINE + 30)) python3 "$HERE/streams_client.py" --port "$LLMUX_PORT" \
    --streams "$STREAMS" --expect-events "$EVENTS" --deadline "$DEADLINE" \
    >"$TMP/client.json" 2>"$OUT/logs/streams-client.err" || rc=$?
cpu1="$(sed 's/^.*) //' "/proc/$LLMUX_PID/stat" 2>/dev/null | awk '{print $12 + $13}')" || cpu1=0
# llmux's own view: its overhead (request read until sent upstream) and time to the response
# head (which includes the mock's), so a slow client or mock is told apart from a slow llmux.
curl -sS --max-time 10 "http://127.0.0.1:$ADMIN_PORT/status" >"$OUT/logs/streams-status.json" 2>/dev/null ||
    echo '{}' >"$OUT/logs/streams-status.json"
read -r all1 _ <<<"$(busy_all)"
alive=true
kill -0 "$LLMUX_PID" 2>/dev/null || alive=false
hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$LLMUX_PID/status" 2>/dev/null || echo 0)"
rss_end="$(awk '/^VmRSS:/ {print $2}' "/proc/$LLMUX_PID/status" 2>/dev/null || echo 0)"
# Memory taken by the streams should go back once they are over: sample again after SETTLE s.
sleep "$SETTLE"
rss_settled="$(awk '/^VmRSS:/ {print $2}' "/proc/$LLMUX_PID/status" 2>/dev/null || echo 0)"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
peak="$(awk 'BEGIN{m=0} $2>m {m=$2} END{print m}' "$OUT/logs/streams-llmux-samples.txt")"
fds="$(awk 'BEGIN{m=0} $3>m {m=$3} END{print m}' "$OUT/logs/streams-llmux-samples.txt")"
warns="$(grep -ciE 'warn|error' "$OUT/logs/streams-llmux.log" || true)"
client="$(cat "$TMP/client.json")"
[[ -n "$client" ]] || client='{"completed":0,"errors":-1,"note":"client printed nothing"}'
python3 - "$OUT/streams.json" <<EOF
import json, sys
c = json.loads('''$client''')
status = json.load(open("$OUT/logs/streams-status.json"))
core = status.get("core", status)
def pct(key):
    p = core.get(key) or {}
    return [p.get("p50"), p.get("p99"), p.get("max")]
c["llmux_overhead_us_p50_p99_max"] = pct("proxy_overhead_us")
c["llmux_time_to_head_ms_p50_p99_max"] = pct("time_to_first_token_ms")
c.update({
    "llmux_idle_rss_mib": round($rss0 / 1024, 1),
    "llmux_peak_rss_mib_sampled": round($peak / 1024, 1),
    "llmux_vmhwm_mib": round($hwm / 1024, 1),
    "llmux_rss_after_mib": round($rss_end / 1024, 1),
    "llmux_rss_settled_mib": round($rss_settled / 1024, 1),
    "settle_s": $SETTLE,
    "llmux_peak_rss_per_stream_kib": round(($peak - $rss0) / max($STREAMS, 1), 1),
    "llmux_peak_open_fds": $fds,
    "llmux_nofile_limit": "$(ulimit -Hn)",
    "llmux_cpu_s": round(($cpu1 - $cpu0) / $(getconf CLK_TCK), 2),
    "llmux_alive_after": "$alive" == "true",
    "llmux_log_warn_error_lines": int("${warns:-0}"),
    "stream_shape": "$EVENTS events, $INTERVAL_MS ms apart",
    "cpus": "mock+client on CPU $MOCK_CPU/$CLIENT_CPU, llmux (1 worker) on CPU $GW_CPU",
    "client_exit": $rc,
    "nice": $NICE,
    "background_cpu_busy_before_pct": $bg,
    "all_cpus_busy_s_during": round(($all1 - $all0) / $(getconf CLK_TCK), 1),
})
json.dump(c, open(sys.argv[1], "w"), indent=1)
print(json.dumps(c, indent=1))
EOF
grep -iE 'warn|error' "$OUT/logs/streams-llmux.log" | head -n 5 >&2 || true
python3 "$HERE/report.py" --out "$OUT" >/dev/null || true
exit "$rc"
