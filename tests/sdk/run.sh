#!/usr/bin/env bash
# The official SDKs end to end through llmux: the OpenAI Python SDK against Anthropic, Gemini and
# Bedrock targets, and the Anthropic Python SDK with `llm_format: anthropic`, against fake
# providers that speak each API's wire format (tests/sdk/fake_providers.py; Bedrock requests must
# carry a valid SigV4 signature).
#
#   tests/sdk/run.sh            # needs python3 (with venv) and network access for pip
#
# Creates a virtualenv (SDK_VENV, default target/sdk-venv) with `pip install openai anthropic`,
# builds llmux (debug; CARGO_TARGET_DIR is honoured), starts the fakes and llmux on free
# loopback ports, runs tests/sdk/check.py and stops what it started. Exit status: check.py's.
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir=${CARGO_TARGET_DIR:-target}
venv=${SDK_VENV:-$target_dir/sdk-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check openai anthropic

cargo build --quiet --bin llmux
llmux="$target_dir/debug/llmux"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

fake_port=$(free_port)
python3 tests/sdk/fake_providers.py "$fake_port" >"$work/fake.log" 2>&1 &
pids+=($!)
fake="http://127.0.0.1:$fake_port"

cat >"$work/kong.yaml" <<YAML
_format_version: "3.0"
services:
- name: sdk-check
  url: http://unused.invalid
  routes:
  - name: openai-clients
    paths: [/openai]
    plugins:
    - name: ai-proxy-advanced
      config:
        targets:
        - route_type: llm/v1/chat
          auth: {header_name: x-api-key, header_value: sk-ant-sdk-check}
          model: {provider: anthropic, name: claude-sonnet-4-5, model_alias: claude, options: {upstream_url: "$fake/v1/messages"}}
        - route_type: llm/v1/chat
          auth: {header_name: x-goog-api-key, header_value: AIza-sdk-check}
          model: {provider: gemini, name: gemini-2.0-flash, model_alias: gemini, options: {upstream_url: "$fake/v1beta/models/gemini-2.0-flash:generateContent"}}
        - route_type: llm/v1/chat
          auth: {aws_access_key_id: AKIDSDKCHECK, aws_secret_access_key: sdk-check-secret}
          model: {provider: bedrock, name: "amazon.nova-lite-v1:0", model_alias: bedrock, options: {upstream_url: "$fake/model/amazon.nova-lite-v1%3A0/converse", bedrock: {aws_region: us-east-1}}}
  - name: anthropic-clients
    paths: [/anthropic]
    plugins:
    - name: ai-proxy-advanced
      config:
        llm_format: anthropic
        targets:
        - route_type: llm/v1/chat
          auth: {header_name: x-api-key, header_value: sk-ant-sdk-check}
          model: {provider: anthropic, name: claude-haiku-4-5, model_alias: claude-fast, options: {upstream_url: "$fake/v1/messages"}}
YAML

"$llmux" serve --config "$work/kong.yaml" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --workers 1 >"$work/llmux.out" 2>"$work/llmux.err" &
pids+=($!)
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*proxy listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/llmux.err" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "${port:-}" ]; then
    echo "llmux did not start:" >&2
    cat "$work/llmux.err" >&2
    exit 1
fi

status=0
"$venv/bin/python" tests/sdk/check.py "http://127.0.0.1:$port" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- fake providers log ---"; cat "$work/fake.log"
    echo "--- llmux stderr ---"; cat "$work/llmux.err"
fi
exit "$status"
