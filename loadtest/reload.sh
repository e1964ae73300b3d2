#!/usr/bin/env bash
# Reload under load: constant traffic through llmux while its config is reloaded many times
# (SIGHUP with two alternating valid configs, admin POST /config, and one invalid file that must
# be rejected while the old config keeps serving). Passes when no request failed.
#
#   loadtest/reload.sh            # 20 s, 32 connections, 60 reloads
#   DURATION=5 RELOADS=15 loadtest/reload.sh
#
# Loopback only; every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-32}
RELOADS=${RELOADS:-60}
LLMUX_BIN=${LLMUX_BIN:-./target/release/llmux}
MOCK_PORT=${MOCK_PORT:-19301}
PROXY_PORT=${PROXY_PORT:-19300}
ADMIN_PORT=${ADMIN_PORT:-19302}

command -v oha >/dev/null || cargo install oha --locked
[ -x "$LLMUX_BIN" ] || cargo build --release
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

config() { # $1 = model name served for alias "fast"
  cat <<YAML
_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      targets:
      - route_type: llm/v1/chat
        model:
          provider: openai
          name: $1
          model_alias: fast
          options:
            upstream_url: http://127.0.0.1:$MOCK_PORT/v1/chat/completions
YAML
}

"$LLMUX_BIN" mock-provider --listen 127.0.0.1:$MOCK_PORT --workers 1 >"$work/mock.log" 2>&1 & pids+=($!)
config model-a >"$work/llmux.yaml"
"$LLMUX_BIN" serve --config "$work/llmux.yaml" --listen 127.0.0.1:$PROXY_PORT \
  --admin-listen 127.0.0.1:$ADMIN_PORT --workers 2 >"$work/llmux.log" 2>&1 & llmux=$!; pids+=($llmux)
for _ in $(seq 50); do grep -q "proxy listening" "$work/llmux.log" && break; sleep 0.1; done

echo '{"model":"fast","messages":[{"role":"user","content":"hi"}]}' >"$work/body.json"
oha -z "${DURATION}s" -w -c "$CONNECTIONS" -m POST -T application/json -D "$work/body.json" \
  --no-tui --output-format json "http://127.0.0.1:$PROXY_PORT/v1/chat/completions" >"$work/oha.json" & oha_pid=$!

sleep 1
interval=$(python3 -c "print(max(0.05, ($DURATION - 3) / $RELOADS))")
for i in $(seq "$RELOADS"); do
  case $((i % 10)) in
    5) echo "_format_version: \"3.0\"
plugins: [{name: ai-proxy-advanced, config: {targets: [{model: {nmae: broken}}]}}]" >"$work/llmux.yaml"
       kill -HUP "$llmux" ;;
    7) config "model-posted-$i" | curl -s -o /dev/null -w '' -X POST --data-binary @- \
         -H 'Content-Type: application/yaml' "http://127.0.0.1:$ADMIN_PORT/config" ;;
    *) config "model-$((i % 2))" >"$work/llmux.yaml"; kill -HUP "$llmux" ;;
  esac
  sleep "$interval"
done
wait "$oha_pid"

applied=$(grep -c "configuration reloaded" "$work/llmux.log" || true)
rejected=$(grep -c "reload rejected" "$work/llmux.log" || true)
python3 - "$work/oha.json" "$applied" "$rejected" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
codes = d.get("statusCodeDistribution", {})
errors = d.get("errorDistribution", {})
total = sum(codes.values()) + sum(errors.values())
ok = codes.get("200", 0)
print(f"requests: {total}  200: {ok}  other statuses: { {k: v for k, v in codes.items() if k != '200'} }  errors: {errors}")
print(f"reloads applied: {sys.argv[2]}  invalid reloads rejected: {sys.argv[3]}")
print(f"req/s: {d['summary']['requestsPerSec']:.0f}  p99: {d['latencyPercentiles']['p99'] * 1000:.2f} ms")
sys.exit(0 if total > 0 and ok == total else 1)
PY
echo "reload under load: PASS (zero failed requests)"
