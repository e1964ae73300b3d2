#!/usr/bin/env bash
# Syscalls and io_uring operations per request, llmux beside nginx, counted by the kernel.
#
#   loadtest/syscalls.sh                     # JSON and SSE, 16 and 64 connections, 5 s each
#   STRACE=1 loadtest/syscalls.sh            # also a per-syscall breakdown with strace -c
#
# The same mock, pinning and configurations as loadtest/run.sh (loadtest/gateways.sh): mock and
# wrk on CPU 0, the gateway alone on CPU 1 with one worker. For each gateway, mode and
# concurrency, `perf stat` counts the tracepoints `raw_syscalls:sys_enter` (every syscall the
# gateway's threads make) and `io_uring:io_uring_submit_req` (every operation submitted through
# io_uring, which costs no syscall of its own) while wrk runs, and divides by the requests wrk
# completed. Counting a tracepoint costs far less than strace's ptrace stops, so batching (many
# completions per io_uring_enter, many events per epoll_wait) stays what it is without the
# counter; the throughput of these runs is not reported: loadtest/run.sh measures that.
#
# Also splits the gateway's CPU time per request into user and kernel time (from /proc).
# Writes loadtest/out/syscalls.md (a table) and loadtest/out/syscalls/*.txt (perf's output).
# Knobs: DURATION (5), CONCURRENCIES ("16 64"), MODES ("json stream"), LLMUX_BIN, BUILD=0,
# STRACE=1, BASE_PORT (18500), MOCK_CPU (0), GW_CPU (1), OUT (loadtest/out).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=gateways.sh
source "$HERE/gateways.sh"
ROOT="$(dirname "$HERE")"
cd "$ROOT"

DURATION="${DURATION:-5}"
CONCURRENCIES="${CONCURRENCIES:-16 64}"
MODES="${MODES:-json stream}"
BUILD="${BUILD:-1}"
STRACE="${STRACE:-0}"
BASE_PORT="${BASE_PORT:-18500}"
MOCK_CPU="${MOCK_CPU:-0}"
GW_CPU="${GW_CPU:-1}"
OUT="${OUT:-$HERE/out}"
if [[ "$(id -u)" == 0 ]]; then NICE="${NICE:--20}"; else NICE="${NICE:-0}"; fi
LLMUX_BIN="${LLMUX_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/llmux}"
MOCK_PORT=$((BASE_PORT + 0))
LLMUX_PORT=$((BASE_PORT + 1))
ADMIN_PORT=$((BASE_PORT + 2))
NGINX_PORT=$((BASE_PORT + 3))
URL_PATH="/v1/chat/completions"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"

log() { printf '[syscalls.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in perf wrk nginx; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (apt-get install linux-perf wrk nginx)"
done
[[ "$STRACE" == 1 ]] && { command -v strace >/dev/null 2>&1 || die "strace is not installed"; }
[[ "$(perf list tracepoint 2>/dev/null)" == *io_uring:io_uring_submit_req* ]] ||
    die "perf cannot see the io_uring tracepoints (run as root, or lower kernel.perf_event_paranoid)"

PIDS=()
TMP=""
trap cleanup EXIT
boost_priority
trap 'exit 130' INT TERM

mkdir -p "$OUT/logs" "$OUT/syscalls"
rm -f "$OUT"/syscalls/*
if [[ "$BUILD" == 1 ]]; then
    log "building llmux (cargo build --release)"
    cargo build --release >"$OUT/logs/cargo-build.log" 2>&1 ||
        { tail -n 30 "$OUT/logs/cargo-build.log" >&2; die "cargo build failed"; }
fi
[[ -x "$LLMUX_BIN" ]] || die "no llmux binary at $LLMUX_BIN (set LLMUX_BIN)"
for p in "$MOCK_PORT" "$LLMUX_PORT" "$ADMIN_PORT" "$NGINX_PORT"; do
    port_free "$p" || die "port $p is in use; set BASE_PORT"
done
TMP="$(mktemp -d /tmp/llmux-syscalls.XXXXXX)"

nice -n "$NICE" taskset -c "$MOCK_CPU" "$LLMUX_BIN" mock-provider --listen "127.0.0.1:$MOCK_PORT" \
    --stream-interval-ms 1 --completion-tokens 8 --workers 1 >"$OUT/logs/syscalls-mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
wait_port "$MOCK_PORT" "$MOCK_PID" mock
pin_all_threads "$MOCK_PID" "$MOCK_CPU" syscalls-mock

write_llmux_config "$TMP/llmux.yaml" "http://127.0.0.1:$MOCK_PORT$URL_PATH"
nice -n "$NICE" taskset -c "$GW_CPU" "$LLMUX_BIN" serve --config "$TMP/llmux.yaml" \
    --listen "127.0.0.1:$LLMUX_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --workers 1 >"$OUT/logs/syscalls-llmux.log" 2>&1 &
LLMUX_PID=$!
PIDS+=("$LLMUX_PID")
wait_port "$LLMUX_PORT" "$LLMUX_PID" llmux
pin_all_threads "$LLMUX_PID" "$GW_CPU" syscalls-llmux

write_nginx_config "$TMP/nginx" "$MOCK_PORT" "$NGINX_PORT"
nice -n "$NICE" taskset -c "$GW_CPU" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
    >"$OUT/logs/syscalls-nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_port "$NGINX_PORT" "$NGINX_PID" nginx

gateway_pids() { # name -> comma-separated pids (nginx: master and worker)
    case "$1" in
    llmux) echo "$LLMUX_PID" ;;
    nginx) echo "$NGINX_PID$(pgrep -P "$NGINX_PID" | sed 's/^/,/' | tr -d '\n')" ;;
    esac
}
gateway_port() { case "$1" in llmux) echo "$LLMUX_PORT" ;; nginx) echo "$NGINX_PORT" ;; esac; }

# wrk's completed requests, from its "N requests in Ts" line.
wrk_requests() { awk '/requests in/ {print $1}' "$1"; }
# utime and stime (clock ticks) summed over comma-separated pids.
cpu_split() {
    local p u=0 k=0 a b
    for p in ${1//,/ }; do
        read -r a b < <(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12, $13}')
        u=$((u + a)) k=$((k + b))
    done
    echo "$u $k"
}
CLK_TCK="$(getconf CLK_TCK)"
# One perf counter's value from `perf stat -x,` output.
perf_count() { awk -F, -v e="$2" '$3 == e {print $1}' "$1"; }

ROWS=()
for gw in llmux nginx; do
    for m in $MODES; do
        for c in $CONCURRENCIES; do
            name="$gw-$m-c$c"
            url="http://127.0.0.1:$(gateway_port "$gw")$URL_PATH"
            extra=()
            [[ "$m" == stream ]] && extra=(-- stream)
            # Warm the connections and the pools first, outside the count.
            taskset -c "$MOCK_CPU" wrk -t1 -c"$c" -d1s -s "$HERE/post.lua" "$url" "${extra[@]}" >/dev/null 2>&1
            perf stat -x, -e raw_syscalls:sys_enter -e io_uring:io_uring_submit_req \
                -p "$(gateway_pids "$gw")" -o "$OUT/syscalls/$name.perf.txt" &
            perf_pid=$!
            sleep 0.5
            read -r u0 k0 <<<"$(cpu_split "$(gateway_pids "$gw")")"
            nice -n "$NICE" taskset -c "$MOCK_CPU" wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s \
                -s "$HERE/post.lua" "$url" "${extra[@]}" >"$OUT/syscalls/$name.wrk.txt" 2>&1
            read -r u1 k1 <<<"$(cpu_split "$(gateway_pids "$gw")")"
            kill -INT "$perf_pid"
            wait "$perf_pid" || true
            n="$(wrk_requests "$OUT/syscalls/$name.wrk.txt")"
            sys="$(perf_count "$OUT/syscalls/$name.perf.txt" raw_syscalls:sys_enter)"
            sqe="$(perf_count "$OUT/syscalls/$name.perf.txt" io_uring:io_uring_submit_req)"
            [[ -n "$n" && "$n" -gt 0 && -n "$sys" ]] || die "$name: no count (see $OUT/syscalls/$name.*)"
            row="$(awk -v g="$gw" -v m="$m" -v c="$c" -v n="$n" -v s="$sys" -v q="${sqe:-0}" \
                -v u="$((u1 - u0))" -v k="$((k1 - k0))" -v h="$CLK_TCK" \
                'BEGIN {printf "| %s | %s | %s | %d | %.2f | %.2f | %.2f | %.1f | %.1f |", g, m, c, n, s/n, q/n, (s+q)/n, 1e6*u/h/n, 1e6*k/h/n}')"
            log "$row"
            ROWS+=("$row")
            if [[ "$STRACE" == 1 && "$c" == "${CONCURRENCIES%% *}" ]]; then
                # strace stops the gateway at every syscall: its counts per request are right,
                # its batching is not that of an unobserved run. A breakdown, not the headline.
                strace -c -f -q -p "$(gateway_pids "$gw")" -o "$OUT/syscalls/$name.strace.txt" &
                st_pid=$!
                sleep 0.5
                taskset -c "$MOCK_CPU" wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s \
                    -s "$HERE/post.lua" "$url" "${extra[@]}" >"$OUT/syscalls/$name.strace-wrk.txt" 2>&1
                kill -INT "$st_pid"
                wait "$st_pid" || true
            fi
        done
    done
done

{
    echo "# Syscalls per request ($(date -u +%FT%TZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    echo "perf stat tracepoints over ${DURATION} s of wrk per row; the gateway alone on CPU $GW_CPU, one worker."
    echo "\`syscalls\` counts every syscall entry of the gateway's threads; \`io_uring ops\` the"
    echo "operations submitted through io_uring (reads, writes, accepts, connects, timeouts);"
    echo "user and kernel µs/request split the gateway's CPU time (/proc, clock ticks) over the same"
    echo "window (the tracepoints add a little to the kernel side of both)."
    echo
    echo "| gateway | mode | conns | requests | syscalls/request | io_uring ops/request | both/request | user µs/request | kernel µs/request |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
} >"$OUT/syscalls.md"
log "wrote $OUT/syscalls.md"
cat "$OUT/syscalls.md"
