#!/usr/bin/env bash
# Fleet load test: Redis, three llmux nodes (`--redis`) and the mock provider on loopback.
#
# Part 1, convergence: wrk drives each node at a different concurrency for DURATION seconds
# while fleet_probe.py samples every node's /status every 50 ms, then reports how far each
# node's view of the fleet's usage totals is from the truth (the sum of what every node
# counted) over time, and how long after the load stops every view is exact.
#
# Part 2, cost: loadtest/run.sh (llmux alone on its CPU, wrk, JSON, 64 connections: llmux's
# core saturated) without and with `--redis`, COST_RUNS pairs in one go (the order alternates
# between pairs); reports req/s and the EVALSHA calls Redis served per second (INFO
# commandstats) against one per sync interval.
#
#   loadtest/fleet.sh                      # both parts
#   PARTS=convergence loadtest/fleet.sh    # or PARTS=cost
#
# Knobs (environment): PARTS ("convergence cost"), DURATION (20 s), SYNC_MS (200), CONNS
# ("4 8 16", one per node), COST_RUNS (3), COST_DURATION (10 s), BASE_PORT (18600), LLMUX_BIN
# (default $CARGO_TARGET_DIR/release/llmux), BUILD=0 to skip cargo build, OUT
# (loadtest/out/fleet). Needs redis-server, redis-cli, wrk and python3 (apt-get installs the
# first three as root when missing).
#
# Only 127.0.0.1 is ever contacted; every run is bounded in time; every process this script
# starts is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
ROOT="$(dirname "$HERE")"
cd "$ROOT"

PARTS="${PARTS:-convergence cost}"
DURATION="${DURATION:-20}"
SYNC_MS="${SYNC_MS:-200}"
CONNS="${CONNS:-4 8 16}"
COST_RUNS="${COST_RUNS:-3}"
COST_DURATION="${COST_DURATION:-10}"
BASE_PORT="${BASE_PORT:-18600}"
BUILD="${BUILD:-1}"
OUT="${OUT:-$HERE/out/fleet}"
NICE=0
LLMUX_BIN="${LLMUX_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/llmux}"
REDIS_PORT=$((BASE_PORT + 90))
MOCK_PORT=$((BASE_PORT + 0))
PATH_V1="/v1/chat/completions"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"

log() { printf '[fleet.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

PIDS=()
TMP=""
cleanup() {
    local rc=$?
    set +e
    stop_processes
    [[ -n "$TMP" && -d "$TMP" ]] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # port pid name
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || { log "$3 exited before listening on $1"; return 1; }
        sleep 0.1
    done
    log "$3 did not listen on $1 within 10 s"
    return 1
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if ((${#missing[@]})); then
    [[ "$(id -u)" == 0 ]] || { log "missing ${missing[*]}; install them"; exit 1; }
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [[ "$BUILD" == "1" ]]; then
    log "cargo build --release"
    cargo build --release >/dev/null 2>&1 || { log "cargo build failed"; exit 1; }
fi
[[ -x "$LLMUX_BIN" ]] || { log "no llmux binary at $LLMUX_BIN (set LLMUX_BIN)"; exit 1; }
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/llmux-fleet.XXXXXX)"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$TMP" >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
wait_port "$REDIS_PORT" "$REDIS_PID" redis
# Redis shares CPU 0 with the mock and the load generators; llmux keeps CPU 1 in the cost runs.
taskset -a -p -c 0 "$REDIS_PID" >/dev/null 2>&1 || true
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
evalsha_calls() {
    redis-cli -p "$REDIS_PORT" INFO commandstats |
        awk -F'[=,:]' '/^cmdstat_evalsha:/ {print $3; found=1} END {if (!found) print 0}'
}

# --- Part 1: convergence ---------------------------------------------------------------------
convergence() {
    "$LLMUX_BIN" mock-provider --listen "127.0.0.1:$MOCK_PORT" --workers 1 >"$OUT/mock.log" 2>&1 &
    local mock=$!
    PIDS+=("$mock")
    wait_port "$MOCK_PORT" "$mock" mock
    local up="http://127.0.0.1:$MOCK_PORT$PATH_V1"
    # Two targets per alias, lowest-usage on total tokens: within an alias the fleet should
    # split the tokens evenly across the two targets, whichever node served them.
    cat >"$TMP/fleet.yaml" <<EOF
_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      balancer: {algorithm: lowest-usage, tokens_count_strategy: total-tokens}
      targets:
      - {route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o-mini, model_alias: fast, options: {upstream_url: "$up"}}}
      - {route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o-mini-2, model_alias: fast, options: {upstream_url: "$up"}}}
      - {route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o, model_alias: powerful, options: {upstream_url: "$up"}}}
      - {route_type: llm/v1/chat, model: {provider: openai, name: gpt-4o-2, model_alias: powerful, options: {upstream_url: "$up"}}}
EOF
    local admins=() n=0 conns
    read -r -a conns <<<"$CONNS"
    for c in "${conns[@]}"; do
        n=$((n + 1))
        local port=$((BASE_PORT + 10 + n)) admin=$((BASE_PORT + 20 + n))
        "$LLMUX_BIN" serve --config "$TMP/fleet.yaml" --listen "127.0.0.1:$port" \
            --admin-listen "127.0.0.1:$admin" --workers 1 --redis "$REDIS_URL" \
            --fleet-sync-ms "$SYNC_MS" >"$OUT/node$n.log" 2>&1 &
        PIDS+=("$!")
        wait_port "$port" "$!" "node $n"
        admins+=("127.0.0.1:$admin")
    done
    log "3 nodes up (sync every $SYNC_MS ms); load for $DURATION s at ${CONNS// /, } connections"
    python3 "$HERE/fleet_probe.py" --admins "$(IFS=,; echo "${admins[*]}")" \
        --seconds $((DURATION + 4)) --out "$OUT/samples.json" &
    local probe=$!
    sleep 1
    local wrks=()
    n=0
    for c in "${conns[@]}"; do
        n=$((n + 1))
        timeout $((DURATION + 30)) wrk -t1 -c"$c" -d"${DURATION}s" -s "$HERE/post.lua" \
            "http://127.0.0.1:$((BASE_PORT + 10 + n))$PATH_V1" >"$OUT/wrk-node$n.txt" 2>&1 &
        wrks+=("$!")
    done
    for w in "${wrks[@]}"; do wait "$w" || true; done
    local load_end
    load_end="$(date +%s.%N)"
    wait "$probe"
    for n in 1 2 3; do
        log "node $n: $(grep -E 'Requests/sec|Non-2xx|Socket errors' "$OUT/wrk-node$n.txt" | tr -s ' ' | paste -sd';')"
    done
    python3 "$HERE/fleet_probe.py" --report "$OUT/samples.json" --sync-ms "$SYNC_MS" \
        --load-end "$load_end" | tee "$OUT/convergence.md"
    stop_processes
    PIDS=("$REDIS_PID")
}

# --- Part 2: cost ------------------------------------------------------------------------------
rps() { # wrk output file -> requests/s
    awk '/^Requests\/sec:/ {print $2}' "$1"
}

cost() {
    local i mode on=() off=()
    : >"$OUT/cost.md"
    for i in $(seq 1 "$COST_RUNS"); do
        # Alternate which goes first, so a drift in the machine's load favours neither.
        local order="off on"
        ((i % 2 == 0)) && order="on off"
        for mode in $order; do
            local args="" out="$OUT/cost-$mode-$i"
            [[ "$mode" == on ]] && args="--redis $REDIS_URL --fleet-sync-ms $SYNC_MS"
            # EVALSHA calls Redis served, once a second, through the whole run (idle and load).
            (while :; do echo "$(date +%s.%N) $(evalsha_calls)"; sleep 1; done) >"$out.calls" &
            local sampler=$!
            BUILD=0 INSTALL=0 LLMUX_BIN="$LLMUX_BIN" TARGETS=llmux TOOLS=wrk MODES=json \
                CONCURRENCIES=64 DURATION="$COST_DURATION" OUT="$out" LLMUX_ARGS="$args" \
                "$HERE/run.sh" >"$out.log" 2>&1 || { kill "$sampler"; log "run.sh failed: $out.log"; exit 1; }
            kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
            local r
            r="$(rps "$out/raw/wrk-llmux-json-c64.txt")"
            if [[ "$mode" == on ]]; then
                on+=("$r")
                # Per-second EVALSHA rates while llmux ran (non-zero seconds): idle and loaded
                # seconds alike should show 1000 / SYNC_MS.
                awk -v s="$SYNC_MS" -v r="$r" -v i="$i" '
                    NR > 1 && $2 > p { d = ($2 - p) / ($1 - t); n++; sum += d; if (d > max) max = d; if (min == "" || d < min) min = d }
                    { t = $1; p = $2 }
                    END { printf "run %d with --redis: EVALSHA per second while llmux ran: min %.1f, mean %.1f, max %.1f (one per %d ms sync = %.1f/s); wrk meanwhile: %s req/s\n", i, min, sum / n, max, s, 1000 / s, r }' \
                    "$out.calls" | tee -a "$OUT/cost.md"
            else
                off+=("$r")
            fi
            log "run $i $mode: $r req/s"
        done
    done
    {
        echo
        echo "| run | without --redis (req/s) | with --redis (req/s) |"
        echo "|---|---|---|"
        for i in $(seq 1 "$COST_RUNS"); do echo "| $i | ${off[i - 1]} | ${on[i - 1]} |"; done
        printf '%s\n' "${off[@]}" >"$TMP/off"
        printf '%s\n' "${on[@]}" >"$TMP/on"
        paste "$TMP/off" "$TMP/on" | awk '{a+=$1; b+=$2; n++} END {printf "| mean | %.0f | %.0f |\n\nfleet mode, means: %+.2f%% req/s\n", a/n, b/n, 100*(b-a)/a}'
        paste "$TMP/off" "$TMP/on" | awk '{print 100*($2-$1)/$1}' | sort -n |
            awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "fleet mode, median of the %d pairs: %+.2f%% req/s (pairs from %+.2f%% to %+.2f%%)\n", NR, m, v[1], v[NR]}'
    } | tee -a "$OUT/cost.md"
}

for part in $PARTS; do
    case "$part" in
    convergence) convergence ;;
    cost) cost ;;
    *) log "unknown part $part (convergence, cost)"; exit 1 ;;
    esac
done
log "results in $OUT"
