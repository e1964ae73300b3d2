#!/usr/bin/env python3
"""The official SDKs against llmux (tests/sdk/run.sh starts everything): the OpenAI SDK against
Anthropic, Gemini and Bedrock targets (chat, streaming, tools, the usage chunk), and the Anthropic
SDK with `llm_format: anthropic` (messages, streaming, count_tokens)."""

import json
import sys

import anthropic
import openai

base = sys.argv[1]  # http://127.0.0.1:PORT
failures = []


def check(name, fn):
    try:
        detail = fn()
        print(f"ok   {name}: {detail}")
    except Exception as e:  # noqa: BLE001 - report every failure, then exit non-zero
        failures.append(name)
        print(f"FAIL {name}: {type(e).__name__}: {e}")


oa = openai.OpenAI(base_url=f"{base}/openai/v1", api_key="client-key", max_retries=0)
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False}}}]


def openai_suite(alias, provider_word):
    def chat():
        r = oa.chat.completions.create(model=alias, messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}])
        text = r.choices[0].message.content
        assert provider_word in text, text
        assert r.choices[0].finish_reason == "stop", r.choices[0].finish_reason
        assert r.usage.total_tokens > 0, r.usage
        return f"{text!r}, usage {r.usage.prompt_tokens}+{r.usage.completion_tokens}"

    def stream():
        chunks = list(oa.chat.completions.create(
            model=alias, stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "Say hello"}]))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert provider_word in text, text
        usage = chunks[-1].usage
        assert usage and usage.completion_tokens > 0, chunks[-1]
        return f"{len(chunks)} chunks, {text!r}, usage {usage.prompt_tokens}+{usage.completion_tokens}"

    def tools():
        messages = [{"role": "user", "content": "Weather in Paris?"}]
        r = oa.chat.completions.create(model=alias, messages=messages, tools=TOOLS)
        call = r.choices[0].message.tool_calls[0]
        assert r.choices[0].finish_reason == "tool_calls", r.choices[0].finish_reason
        assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
        messages += [r.choices[0].message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": "18 degrees"}]
        r2 = oa.chat.completions.create(model=alias, messages=messages, tools=TOOLS)
        assert provider_word in r2.choices[0].message.content, r2
        return f"called {call.function.name}({call.function.arguments}), then {r2.choices[0].message.content!r}"

    def streamed_tools():
        stream = oa.chat.completions.create(model=alias, stream=True, tools=TOOLS,
                                            messages=[{"role": "user", "content": "Weather in Paris?"}])
        args, name, finish = "", None, None
        for c in stream:
            if not c.choices:
                continue
            for tc in c.choices[0].delta.tool_calls or []:
                name = tc.function.name or name
                args += tc.function.arguments or ""
            finish = c.choices[0].finish_reason or finish
        assert name == "get_weather" and json.loads(args) == {"city": "Paris"} and finish == "tool_calls", (name, args, finish)
        return f"{name}({args}) streamed"

    for name, fn in [("chat", chat), ("stream", stream), ("tools", tools), ("streamed tools", streamed_tools)]:
        check(f"openai sdk -> {alias}: {name}", fn)


openai_suite("claude", "Claude")
openai_suite("gemini", "Gemini")
openai_suite("bedrock", "Bedrock")

an = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="client-key", max_retries=0)


def anthropic_messages():
    m = an.messages.create(model="claude-fast", max_tokens=64,
                           messages=[{"role": "user", "content": "Say hello"}])
    assert m.content[0].text == "Hello from the fake Claude.", m
    return f"{m.content[0].text!r}, usage {m.usage.input_tokens}+{m.usage.output_tokens}"


def anthropic_stream():
    with an.messages.stream(model="claude-fast", max_tokens=64,
                            messages=[{"role": "user", "content": "Say hello"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello from the fake Claude.", text
    return f"{text!r}, stop {final.stop_reason}, output tokens {final.usage.output_tokens}"


def anthropic_tools():
    m = an.messages.create(model="claude-fast", max_tokens=64, tools=[{
        "name": "get_weather", "description": "Weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert m.stop_reason == "tool_use" and m.content[0].input == {"city": "Paris"}, m
    return f"tool_use {m.content[0].name}({m.content[0].input})"


def anthropic_count_tokens():
    n = an.messages.count_tokens(model="claude-fast", messages=[{"role": "user", "content": "hi"}])
    assert n.input_tokens == 12, n
    return f"{n.input_tokens} input tokens"


for name, fn in [("messages", anthropic_messages), ("stream", anthropic_stream),
                 ("tools", anthropic_tools), ("count_tokens", anthropic_count_tokens)]:
    check(f"anthropic sdk (llm_format: anthropic): {name}", fn)

print(f"openai {openai.__version__}, anthropic {anthropic.__version__}: "
      f"{'all passed' if not failures else f'{len(failures)} failed'}")
sys.exit(1 if failures else 0)
