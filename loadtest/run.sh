#!/usr/bin/env bash
# llmux load-test harness: one command that installs what is missing, builds llmux, starts
# the mock provider, llmux and (when installed) nginx on loopback, drives each of them with
# oha and wrk, and writes loadtest/out/report.md, loadtest/out/*.hgrm and
# loadtest/out/latency.svg.
#
#   loadtest/run.sh                 # 10 s per run
#   QUICK=1 loadtest/run.sh         # 3 s per run
#   CARGO_TARGET_DIR=/work/target-loadtest loadtest/run.sh   # build into (and run from) that dir
#
# Knobs (environment): DURATION (s), QUICK=1, CONCURRENCIES ("16 64"), TOOLS ("oha wrk"),
# TARGETS ("direct llmux nginx"; `secured` adds a second llmux with the same targets behind
# key-auth, acl, rate-limiting and ai-rate-limiting-advanced, limits never reached: compare it
# with `llmux`), MODES ("json stream"), LLMUX_BIN, BUILD=0 (skip cargo build),
# INSTALL=0 (skip installs), LLMUX_SRC (crate to build, default the repo root), IO_DRIVER (auto), STREAM_INTERVAL_MS (1), COMPLETION_TOKENS (8),
# MOCK_CPU (0), GW_CPU (1), LOAD_CPU (= MOCK_CPU), BASE_PORT (18400), WARMUP (1 s),
# OUT (loadtest/out), LLMUX_ARGS (extra `llmux serve` flags, e.g. "--metrics off"), QUIET_WAIT (s to wait for the machine to go quiet before each run,
# default 20), NICE (-20 as root: the
# test's processes get CPU ahead of other work on a shared machine; 0 to disable), QUIET_BUSY (% of both CPUs that counts as quiet, default 15).
#
# Only 127.0.0.1 is ever contacted; every run is bounded by `timeout`; every process this
# script starts is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=gateways.sh
source "$HERE/gateways.sh"
ROOT="$(dirname "$HERE")"
cd "$ROOT"

QUICK="${QUICK:-0}"
if [[ "$QUICK" == "1" ]]; then DURATION="${DURATION:-3}"; else DURATION="${DURATION:-10}"; fi
CONCURRENCIES="${CONCURRENCIES:-16 64}"
TOOLS="${TOOLS:-oha wrk}"
TARGETS="${TARGETS:-direct llmux nginx}"
MODES="${MODES:-json stream}"
IO_DRIVER="${IO_DRIVER:-auto}"
STREAM_INTERVAL_MS="${STREAM_INTERVAL_MS:-1}"
COMPLETION_TOKENS="${COMPLETION_TOKENS:-8}"
MOCK_CPU="${MOCK_CPU:-0}"
GW_CPU="${GW_CPU:-1}"
LOAD_CPU="${LOAD_CPU:-$MOCK_CPU}"
BASE_PORT="${BASE_PORT:-18400}"
WARMUP="${WARMUP:-1}"
BUILD="${BUILD:-1}"
LLMUX_SRC="${LLMUX_SRC:-$ROOT}"
INSTALL="${INSTALL:-1}"
OUT="${OUT:-$HERE/out}"
QUIET_WAIT="${QUIET_WAIT:-20}"
QUIET_BUSY="${QUIET_BUSY:-15}"
if [[ "$(id -u)" == 0 ]]; then NICE="${NICE:--20}"; else NICE="${NICE:-0}"; fi
LLMUX_BIN="${LLMUX_BIN:-${CARGO_TARGET_DIR:-$LLMUX_SRC/target}/release/llmux}"

MOCK_PORT=$((BASE_PORT + 0))
LLMUX_PORT=$((BASE_PORT + 1))
ADMIN_PORT=$((BASE_PORT + 2))
NGINX_PORT=$((BASE_PORT + 3))
SECURED_PORT=$((BASE_PORT + 4))
SECURED_ADMIN_PORT=$((BASE_PORT + 5))
# Every client sends this key: `secured` requires it, the others ignore (and forward) it, so
# both llmux targets get the same bytes.
API_KEY="loadtest-consumer-key"
PATH_V1="/v1/chat/completions"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"

log() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Installs
# ---------------------------------------------------------------------------------------------
install_missing() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v nginx >/dev/null 2>&1 || missing+=(nginx)
    if ((${#missing[@]})); then
        if [[ "$(id -u)" == 0 ]]; then
            log "installing ${missing[*]} with apt-get"
            (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}") >"$OUT/logs/apt.log" 2>&1 ||
                log "apt-get failed (see $OUT/logs/apt.log); going on without ${missing[*]}"
        else
            log "not root: cannot apt-get install ${missing[*]}; going on without"
        fi
    fi
    if ! command -v oha >/dev/null 2>&1; then
        log "installing oha with cargo install oha --locked (takes a few minutes)"
        cargo install oha --locked >"$OUT/logs/cargo-install-oha.log" 2>&1 ||
            log "cargo install oha failed (see $OUT/logs/cargo-install-oha.log); going on without oha"
    fi
}

# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------
PIDS=()
AUTOGROUP_OLD=""
TMP=""
trap cleanup EXIT
boost_priority
trap 'exit 130' INT TERM



cpu_ticks() { # utime+stime of a process (all threads), in clock ticks; builtins only
    local line a
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || { echo 0; return; }
    line="${line##*) }"
    read -r -a a <<<"$line"
    echo $((a[11] + a[12]))
}

rss_kb() { # VmRSS in kB, with builtins only (the sampler calls it 10 times a second)
    local k v rest
    while read -r k v rest; do
        [[ "$k" == VmRSS: ]] && { echo "$v"; return; }
    done <"/proc/$1/status" 2>/dev/null
    echo 0
}

cpu_busy_ticks() { # "busy total" for one CPU from /proc/stat
    awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat
}

all_busy_ticks() { # busy and total ticks of all CPUs
    awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat
}

# Other sessions may share this machine: before a run, wait (bounded) until both CPUs are
# mostly idle, and record how busy they were.
BG_BUSY=0
wait_quiet() {
    local deadline=$((SECONDS + QUIET_WAIT)) a b x y
    while :; do
        read -r a x <<<"$(all_busy_ticks)"
        sleep 1
        read -r b y <<<"$(all_busy_ticks)"
        BG_BUSY=$(awk -v a="$a" -v b="$b" -v x="$x" -v y="$y" 'BEGIN{printf "%.0f", (y>x)?100*(b-a)/(y-x):0}')
        ((BG_BUSY <= QUIET_BUSY)) && return 0
        if ((SECONDS >= deadline)); then
            log "machine still ${BG_BUSY}% busy with other work after ${QUIET_WAIT}s; measuring anyway"
            return 0
        fi
    done
}

# Sum of several pids' VmRSS, sampled every 100 ms into a file, bounded in time.
start_sampler() { # file max_seconds pid...
    local file="$1" max="$2"
    shift 2
    (
        local n=$((max * 10)) i p sum v k val rest
        for ((i = 0; i < n; i++)); do
            sum=0
            for p in "$@"; do
                v=0
                while read -r k val rest; do
                    [[ "$k" == VmRSS: ]] && { v="$val"; break; }
                done <"/proc/$p/status" 2>/dev/null || true
                sum=$((sum + v))
            done
            echo "$sum"
            sleep 0.1
        done
    ) >"$file" &
    SAMPLER_PID=$!
}

stop_sampler() {
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
}


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
mkdir -p "$OUT/logs" "$OUT/raw"
rm -f "$OUT"/raw/* "$OUT"/*.hgrm
ncpu="$(nproc)"
if ((ncpu < 2)); then
    log "only $ncpu CPU: pinning everything to CPU 0"
    MOCK_CPU=0 GW_CPU=0 LOAD_CPU=0
fi

[[ "$INSTALL" == "1" ]] && install_missing
HAVE_OHA=0; command -v oha >/dev/null 2>&1 && HAVE_OHA=1
HAVE_WRK=0; command -v wrk >/dev/null 2>&1 && HAVE_WRK=1
HAVE_NGINX=0; command -v nginx >/dev/null 2>&1 && HAVE_NGINX=1

if [[ "$BUILD" == "1" ]]; then
    log "building llmux in $LLMUX_SRC (cargo build --release, target dir ${CARGO_TARGET_DIR:-$ROOT/target})"
    (cd "$LLMUX_SRC" && cargo build --release) >"$OUT/logs/cargo-build.log" 2>&1 ||
        { tail -n 30 "$OUT/logs/cargo-build.log" >&2; log "cargo build failed"; exit 1; }
fi
[[ -x "$LLMUX_BIN" ]] || { log "no llmux binary at $LLMUX_BIN (set LLMUX_BIN)"; exit 1; }

for p in "$MOCK_PORT" "$LLMUX_PORT" "$ADMIN_PORT" "$NGINX_PORT" "$SECURED_PORT" "$SECURED_ADMIN_PORT"; do
    port_free "$p" || { log "port $p is in use; set BASE_PORT"; exit 1; }
done

TMP="$(mktemp -d /tmp/llmux-loadtest.XXXXXX)"

# --- mock provider: CPU $MOCK_CPU -------------------------------------------------------------
nice -n "$NICE" taskset -c "$MOCK_CPU" "$LLMUX_BIN" mock-provider --listen "127.0.0.1:$MOCK_PORT" \
    --stream-interval-ms "$STREAM_INTERVAL_MS" --completion-tokens "$COMPLETION_TOKENS" \
    --workers 1 >"$OUT/logs/mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
wait_port "$MOCK_PORT" "$MOCK_PID" mock
pin_all_threads "$MOCK_PID" "$MOCK_CPU" mock

# --- llmux: CPU $GW_CPU, one worker ------------------------------------------------------------
UPSTREAM="http://127.0.0.1:$MOCK_PORT$PATH_V1"
write_llmux_config "$TMP/llmux.yaml" "$UPSTREAM"
cp "$TMP/llmux.yaml" "$OUT/logs/llmux.yaml"
"$LLMUX_BIN" validate --config "$TMP/llmux.yaml" >"$OUT/logs/llmux-validate.txt" 2>&1 ||
    { cat "$OUT/logs/llmux-validate.txt" >&2; exit 1; }

LLMUX_PID=""
if [[ " $TARGETS " == *" llmux "* ]]; then
    nice -n "$NICE" taskset -c "$GW_CPU" "$LLMUX_BIN" serve --config "$TMP/llmux.yaml" \
        --listen "127.0.0.1:$LLMUX_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
        --workers 1 --io-driver "$IO_DRIVER" ${LLMUX_ARGS:-} >"$OUT/logs/llmux.log" 2>&1 &
    LLMUX_PID=$!
    PIDS+=("$LLMUX_PID")
    wait_port "$LLMUX_PORT" "$LLMUX_PID" llmux
    # llmux pins worker i to core i when workers <= available cores; under `taskset -c 1`
    # that moves its one worker to CPU 0 (the mock's). Put every thread back on GW_CPU.
    pin_all_threads "$LLMUX_PID" "$GW_CPU" llmux
fi

# --- llmux secured: the same targets behind key-auth, acl and both rate limits ------------------
SECURED_PID=""
if [[ " $TARGETS " == *" secured "* ]]; then
    {
        cat <<EOF
# Generated by loadtest/run.sh: llmux.yaml plus consumers and the four access plugins, with
# limits no run reaches (every request is checked and counted, none refused).
consumers:
  - username: loadtest
    keyauth_credentials: [{key: $API_KEY}]
    acls: [{group: load}]
  - username: other
    keyauth_credentials: [{key: other-key}]
plugins:
  - name: key-auth
    config: {key_names: [apikey, authorization]}
  - name: acl
    config: {allow: [load]}
  - name: rate-limiting
    config: {second: 1000000000, hour: 1000000000000, limit_by: consumer, policy: local}
  - name: ai-rate-limiting-advanced
    config:
      identifier: consumer
      llm_providers: [{name: openai, limit: [1000000000000, 1000000000000000], window_size: [60, 3600]}]
EOF
        sed -e '/^plugins:$/d' -e '/^# Generated/d' -e '/^_format_version/d' "$TMP/llmux.yaml"
    } | sed '1i _format_version: "3.0"' >"$TMP/secured.yaml"
    cp "$TMP/secured.yaml" "$OUT/logs/secured.yaml"
    "$LLMUX_BIN" validate --config "$TMP/secured.yaml" >"$OUT/logs/secured-validate.txt" 2>&1 ||
        { cat "$OUT/logs/secured-validate.txt" >&2; exit 1; }
    nice -n "$NICE" taskset -c "$GW_CPU" "$LLMUX_BIN" serve --config "$TMP/secured.yaml" \
        --listen "127.0.0.1:$SECURED_PORT" --admin-listen "127.0.0.1:$SECURED_ADMIN_PORT" \
        --workers 1 --io-driver "$IO_DRIVER" ${LLMUX_ARGS:-} >"$OUT/logs/secured.log" 2>&1 &
    SECURED_PID=$!
    PIDS+=("$SECURED_PID")
    wait_port "$SECURED_PORT" "$SECURED_PID" secured
    pin_all_threads "$SECURED_PID" "$GW_CPU" secured
fi

# --- nginx: CPU $GW_CPU, one worker, upstream keepalive ----------------------------------------
NGINX_PID=""
if [[ "$HAVE_NGINX" == "1" && " $TARGETS " == *" nginx "* ]]; then
    write_nginx_config "$TMP/nginx" "$MOCK_PORT" "$NGINX_PORT"
    cp "$TMP/nginx/nginx.conf" "$OUT/logs/nginx.conf"
    nice -n "$NICE" taskset -c "$GW_CPU" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$OUT/logs/nginx.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_port "$NGINX_PORT" "$NGINX_PID" nginx
elif [[ " $TARGETS " == *" nginx "* ]]; then
    log "nginx not installed: skipping the nginx target"
fi

target_port() {
    case "$1" in direct) echo "$MOCK_PORT" ;; llmux) echo "$LLMUX_PORT" ;; nginx) echo "$NGINX_PORT" ;; secured) echo "$SECURED_PORT" ;; esac
}
target_pids() { # the gateway's processes (nginx: master and workers); the mock for direct
    case "$1" in
    direct) echo "$MOCK_PID" ;;
    llmux) echo "$LLMUX_PID" ;;
    secured) echo "$SECURED_PID" ;;
    nginx) echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')" ;;
    esac
}
target_up() {
    case "$1" in
    direct) return 0 ;;
    llmux) [[ -n "$LLMUX_PID" ]] ;;
    secured) [[ -n "$SECURED_PID" ]] ;;
    nginx) [[ -n "$NGINX_PID" ]] ;;
    esac
}

body_for() { # alias mode
    local s=false
    [[ "$2" == stream ]] && s=true
    printf '{"model":"%s","messages":[{"role":"user","content":"Say hello from load test request."}],"stream":%s}' "$1" "$s"
}

# --- smoke check: one request per target and mode ---------------------------------------------
SMOKE="$OUT/logs/smoke.txt"
: >"$SMOKE"
for t in $TARGETS; do
    target_up "$t" || continue
    for m in $MODES; do
        for a in fast powerful; do
            code="$(curl -sS -o "$TMP/smoke.body" -w '%{http_code}' --max-time 10 \
                -H 'Content-Type: application/json' -H "apikey: $API_KEY" -d "$(body_for "$a" "$m")" \
                "http://127.0.0.1:$(target_port "$t")$PATH_V1" || echo 000)"
            {
                echo "== $t $m $a -> HTTP $code"
                head -c 600 "$TMP/smoke.body"
                echo
            } >>"$SMOKE"
            [[ "$code" == 200 ]] || log "smoke check: $t $m $a answered HTTP $code (see $SMOKE)"
        done
    done
done

# Bodies for oha (-Z picks a random line per request, so both aliases are used).
for m in json stream; do
    { body_for fast "$m"; echo; body_for powerful "$m"; echo; } >"$TMP/bodies-$m.txt"
done

CLK_TCK="$(getconf CLK_TCK)"

run_one() { # tool target mode conc
    local tool="$1" t="$2" m="$3" c="$4"
    local name="$tool-$t-$m-c$c" url="http://127.0.0.1:$(target_port "$t")$PATH_V1"
    local pids cpu0 cpu1 mock0 mock1 g0 g1 s0 s1 all0 all1 start end lpid rc=0 i
    read -r -a pids <<<"$(target_pids "$t")"
    wait_quiet
    local bg="$BG_BUSY"
    start_sampler "$OUT/raw/$name.rss" $((DURATION + 60)) "${pids[@]}"
    local cmd=()
    case "$tool" in
    oha)
        cmd=(oha --no-tui --worker-threads 1 -z "${DURATION}s" -w -c "$c" -m POST
            -H 'Content-Type: application/json' -H "apikey: $API_KEY" -Z "$TMP/bodies-$m.txt"
            --output-format json --db-url "$OUT/raw/$name.sqlite" "$url")
        exec 5>"$OUT/raw/$name.json"
        ;;
    wrk)
        cmd=(wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s -s "$HERE/post.lua" "$url")
        [[ "$m" == stream ]] && cmd+=(-- stream)
        exec 5>"$OUT/raw/$name.txt"
        ;;
    esac
    cpu0=0; for p in "${pids[@]}"; do cpu0=$((cpu0 + $(cpu_ticks "$p"))); done
    mock0="$(cpu_ticks "$MOCK_PID")"
    g0="$(cpu_busy_ticks "$GW_CPU")"; s0="$(cpu_busy_ticks "$LOAD_CPU")"; all0="$(all_busy_ticks)"
    start="$(date +%s.%N)"
    # nice and taskset exec the tool, so $! is the load generator itself.
    nice -n "$NICE" taskset -c "$LOAD_CPU" "${cmd[@]}" >&5 2>"$OUT/raw/$name.err" &
    lpid=$!
    exec 5>&-
    # Snapshot the CPU counters when the load window ends (oha then still writes its SQLite
    # file, which is not load): at DURATION + 0.3 s, or earlier if the tool is done.
    local lcpu=0 x
    local stop_us=$(( ${EPOCHREALTIME/./} + DURATION * 1000000 + 300000 ))
    for ((i = 0; i < DURATION * 10 + 50; i++)); do
        (( ${EPOCHREALTIME/./} >= stop_us )) && break
        x="$(cpu_ticks "$lpid")"
        ((x > 0)) && lcpu="$x" # the last reading before it exits
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.1
    done
    end="$(date +%s.%N)"
    cpu1=0; for p in "${pids[@]}"; do cpu1=$((cpu1 + $(cpu_ticks "$p"))); done
    mock1="$(cpu_ticks "$MOCK_PID")"
    g1="$(cpu_busy_ticks "$GW_CPU")"; s1="$(cpu_busy_ticks "$LOAD_CPU")"; all1="$(all_busy_ticks)"
    x="$(cpu_ticks "$lpid")"
    ((x > 0)) && lcpu="$x"
    # Bounded wait for the tool to finish (oha's in-flight requests, its SQLite file).
    for ((i = 0; i < 600; i++)); do
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$lpid" 2>/dev/null; then
        log "$name: $tool still running 60 s after its duration: killing it"
        kill -KILL "$lpid" 2>/dev/null || true
    fi
    wait "$lpid" || rc=$?
    stop_sampler
    local peak last gb gt gb1 gt1 sb st sb1 st1
    peak="$(sort -n "$OUT/raw/$name.rss" | tail -n 1)"
    last="$(tail -n 1 "$OUT/raw/$name.rss")"
    read -r gb gt <<<"$g0"; read -r gb1 gt1 <<<"$g1"
    read -r sb st <<<"$s0"; read -r sb1 st1 <<<"$s1"
    cat >"$OUT/raw/$name.proc.json" <<JSON
{"tool":"$tool","target":"$t","mode":"$m","concurrency":$c,"duration_s":$DURATION,
 "exit_code":$rc,"window_s":$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b-a}'),
 "measured_pids":"${pids[*]}","rss_peak_kb":${peak:-0},"rss_end_kb":${last:-0},
 "cpu_s":$(awk -v a="$cpu0" -v b="$cpu1" -v h="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/h}'),
 "mock_cpu_s":$(awk -v a="$mock0" -v b="$mock1" -v h="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/h}'),
 "gw_cpu_busy":$(awk -v a="$gb" -v b="$gb1" -v x="$gt" -v y="$gt1" 'BEGIN{printf "%.3f", (y>x)?(b-a)/(y-x):0}'),
 "load_cpu_busy":$(awk -v a="$sb" -v b="$sb1" -v x="$st" -v y="$st1" 'BEGIN{printf "%.3f", (y>x)?(b-a)/(y-x):0}'),
 "loadgen_cpu_s":$(awk -v a="${lcpu:-0}" -v h="$CLK_TCK" 'BEGIN{printf "%.3f", a/h}'),
 "all_cpu_busy_s":$(awk -v a="${all0% *}" -v b="${all1% *}" -v h="$CLK_TCK" 'BEGIN{printf "%.3f", (b-a)/h}'),
 "background_busy_before_pct":$bg,
 "cpus":{"mock":$MOCK_CPU,"gateway":$GW_CPU,"load":$LOAD_CPU}}
JSON
    ((rc == 0)) || log "$name: $tool exited $rc (see $OUT/raw/$name.err)"
    log "$name done (peak RSS ${peak:-?} kB)"
}

cat >"$OUT/raw/meta.json" <<EOF
{"duration_s":$DURATION,"quick":$QUICK,"nice":$NICE,"concurrencies":"$CONCURRENCIES","tools":"$TOOLS",
 "targets":"$TARGETS","modes":"$MODES","io_driver":"$IO_DRIVER",
 "stream_interval_ms":$STREAM_INTERVAL_MS,"completion_tokens":$COMPLETION_TOKENS,
 "cpus":{"mock":$MOCK_CPU,"gateway":$GW_CPU,"load":$LOAD_CPU,"online":$ncpu},
 "llmux_bin":"$LLMUX_BIN","llmux_version":"$("$LLMUX_BIN" --version 2>/dev/null | head -n1)",
 "llmux_commit":"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "oha":"$(oha --version 2>/dev/null | head -n1)","wrk":"wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}')",
 "nginx":"$(nginx -v 2>&1 | head -n1)","kernel":"$(uname -r)",
 "cpu_model":"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)",
 "date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
EOF

for m in $MODES; do
    for t in $TARGETS; do
        target_up "$t" || continue
        # Warm-up (not recorded): connection pools, page faults, caches.
        if [[ "$HAVE_WRK" == 1 && "$WARMUP" -gt 0 ]]; then
            extra=()
            [[ "$m" == stream ]] && extra=(-- stream)
            nice -n "$NICE" taskset -c "$LOAD_CPU" timeout $((WARMUP + 30)) wrk -t1 -c16 -d"${WARMUP}s" \
                -s "$HERE/post.lua" "http://127.0.0.1:$(target_port "$t")$PATH_V1" "${extra[@]}" \
                >/dev/null 2>&1 || true
        fi
    done
    for c in $CONCURRENCIES; do
        for tool in $TOOLS; do
            [[ "$tool" == oha && "$HAVE_OHA" != 1 ]] && continue
            [[ "$tool" == wrk && "$HAVE_WRK" != 1 ]] && continue
            for t in $TARGETS; do
                target_up "$t" || continue
                run_one "$tool" "$t" "$m" "$c"
                sleep 1
            done
        done
    done
done

# Still alive? A gateway that died mid-run is an anomaly worth reporting.
for t in llmux secured nginx; do
    pid_var="${t^^}_PID"
    pid="${!pid_var}"
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
        log "$t (pid $pid) is no longer running!"
        echo "$t exited during the run" >>"$OUT/logs/anomalies.txt"
    fi
done
if [[ -n "$LLMUX_PID" ]]; then
    curl -sS --max-time 5 "http://127.0.0.1:$ADMIN_PORT/status" >"$OUT/logs/llmux-status.json" 2>&1 || true
fi

log "writing the report"
python3 "$HERE/report.py" --out "$OUT"
log "done: $OUT/report.md, $OUT/latency.svg, $OUT/*.hgrm"
