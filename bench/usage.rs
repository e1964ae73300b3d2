//! Upstream responses: `SseFilter` relaying an OpenAI chat stream, and `UsageParser::parse` on
//! JSON chat completions.

#[path = "common.rs"]
mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use llmux::usage::{SseFilter, UsageParser};

const CHUNK_HEAD: &str = r#"data: {"id":"chatcmpl-AxK9mF2","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_e2bde53e6e","choices":["#;

const TOKENS: [&str; 12] = [
    "The",
    " function",
    " allocates",
    " a",
    " new",
    " `String`",
    " on",
    " every",
    " call",
    ".\\n\\n",
    " Use",
    " \\\"with_capacity\\\"",
];

/// A 300-event stream as OpenAI sends it with `stream_options.include_usage`: a role event,
/// 296 content deltas (each with `"usage":null`), the finish event, the usage-only event and
/// `[DONE]`. One element per event, each with its blank line.
fn openai_stream() -> Vec<Vec<u8>> {
    let delta = |delta: &str, finish: &str| {
        format!(
            r#"{CHUNK_HEAD}{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}],"usage":null}}"#
        )
    };
    let mut events = vec![delta(
        r#"{"role":"assistant","content":"","refusal":null}"#,
        "null",
    )];
    for i in 0..296 {
        let content = format!(r#"{{"content":"{}"}}"#, TOKENS[i % TOKENS.len()]);
        events.push(delta(&content, "null"));
    }
    events.push(delta("{}", r#""stop""#));
    events.push(format!(
        r#"{CHUNK_HEAD}],"usage":{{"prompt_tokens":1234,"completion_tokens":296,"total_tokens":1530,"prompt_tokens_details":{{"cached_tokens":1024,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}}}"#
    ));
    events.push("data: [DONE]".into());
    assert_eq!(events.len(), 300);
    events
        .into_iter()
        .map(|e| format!("{e}\n\n").into_bytes())
        .collect()
}

fn sse(c: &mut Criterion) {
    let mut group = c.benchmark_group("usage/sse_300_events");
    let events = openai_stream();
    let bytes: usize = events.iter().map(Vec::len).sum();
    group.throughput(Throughput::Bytes(bytes as u64));
    let mut out = Vec::with_capacity(4096);
    for (name, hide) in [("hide_off", false), ("hide_on", true)] {
        group.bench_function(name, |b| {
            // A new filter per stream, as the relay makes one per response; one feed per event,
            // as chunked upstreams deliver them, and the output written out after each feed.
            b.iter(|| {
                let mut filter = SseFilter::new(hide);
                for event in &events {
                    filter.feed(black_box(event), &mut out);
                    out.clear();
                }
                filter.finish(&mut out);
                filter.usage().unwrap()
            })
        });
    }
    group.finish();
}

/// A non-streaming chat completion whose answer makes the body about `size` bytes.
fn chat_response(size: usize) -> Vec<u8> {
    let mut text = String::new();
    let mut i = 0;
    while text.len() + 700 < size {
        text.push_str(TOKENS[i % TOKENS.len()]);
        i += 1;
    }
    format!(
        r#"{{"id":"chatcmpl-AxK9mF2","object":"chat.completion","created":1727000000,"model":"gpt-4o-mini-2024-07-18","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}","refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":1234,"completion_tokens":{i},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}},"service_tier":"default","system_fingerprint":"fp_e2bde53e6e"}}"#,
        1234 + i
    )
    .into_bytes()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("usage/parse");
    let mut parser = UsageParser::new();
    for (label, size) in [("2KB", 2 << 10), ("100KB", 100 << 10)] {
        let body = chat_response(size);
        assert_eq!(parser.parse(&body).unwrap().prompt, 1234);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &body, |b, body| {
            b.iter(|| parser.parse(black_box(body)).unwrap())
        });
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = sse, parse }
criterion_main!(benches);
