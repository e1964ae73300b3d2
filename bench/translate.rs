//! Translation for non-OpenAI providers: a 10 KB OpenAI chat request written as an Anthropic,
//! Gemini and Bedrock request (parse + write, what a worker does per attempt), and one stream
//! event translated back into an OpenAI chunk (an Anthropic and a Gemini SSE event, a Bedrock
//! event-stream frame), fed to a stream that has already started, as a relay feeds them.

#[path = "common.rs"]
mod common;

use std::hint::black_box;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use llmux::provider::chat::{ChatRequest, RequestCtx, TranslateError};
use llmux::provider::translate::{EventStream, Translate};
use llmux::provider::{anthropic, bedrock, gemini, ReplyCtx};

/// A coding-assistant conversation of about 10 KB: a system prompt, several turns with
/// newlines, quotes and non-ASCII text, a tool definition, a tool call and its result.
fn chat_10kb() -> Vec<u8> {
    let paragraph = "The function allocates a new `String` on every call; use \\\"with_capacity\\\" or reuse a buffer.\\nCafé au lait ☕ costs 3€.\\n";
    let long = paragraph.repeat(5);
    let mut messages = vec![
        r#"{"role":"system","content":"You are a careful Rust reviewer. Answer briefly and cite line numbers.\nNever invent APIs."}"#.to_string(),
    ];
    for i in 0..7 {
        messages.push(format!(
            r#"{{"role":"user","content":"Turn {i}: review this.\n{long}"}}"#
        ));
        messages.push(format!(
            r#"{{"role":"assistant","content":"Turn {i} review: {long}"}}"#
        ));
    }
    messages.push(r#"{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"src/lib.rs\",\"lines\":[1,80]}"}}]}"#.to_string());
    messages.push(r#"{"role":"tool","tool_call_id":"call_1","content":"//! llmux: a thread-per-core LLM gateway\npub mod body;\npub mod config;"}"#.to_string());
    messages.push(r#"{"role":"user","content":"And now?"}"#.to_string());
    let body = format!(
        r#"{{"model":"smart","messages":[{}],"max_tokens":1024,"temperature":0.2,"stream":true,"tools":[{{"type":"function","function":{{"name":"read_file","description":"Read lines of a file","parameters":{{"type":"object","properties":{{"path":{{"type":"string"}},"lines":{{"type":"array","items":{{"type":"integer"}}}}}},"required":["path"],"additionalProperties":false}}}}}}]}}"#,
        messages.join(",")
    );
    assert!(
        (9_500..11_000).contains(&body.len()),
        "the request should be about 10 KB, is {}",
        body.len()
    );
    body.into_bytes()
}

type RequestFn = fn(&ChatRequest<'_>, &RequestCtx<'_>, &mut Vec<u8>) -> Result<(), TranslateError>;

fn requests(c: &mut Criterion) {
    let body = chat_10kb();
    let mut group = c.benchmark_group("translate/request_10KB");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let providers: [(&str, RequestFn); 3] = [
        ("anthropic", anthropic::request),
        ("gemini", gemini::request),
        ("bedrock", bedrock::request),
    ];
    for (name, translate) in providers {
        let ctx = RequestCtx {
            model: "target-model",
            stream: true,
            ..RequestCtx::default()
        };
        let mut out = Vec::with_capacity(body.len() + 1024);
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                let req = ChatRequest::parse(black_box(&body)).unwrap();
                translate(&req, &ctx, &mut out).unwrap();
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn reply() -> ReplyCtx {
    ReplyCtx {
        model: "target-model".into(),
        created: 1_700_000_000,
        include_usage: false,
    }
}

/// Feeds `event` over and over to a stream that `start` opened.
fn bench_event(
    c: &mut Criterion,
    name: &str,
    mut stream: impl Translate,
    start: &[u8],
    event: &[u8],
) {
    let mut out = Vec::with_capacity(1024);
    stream.feed(start, &mut out);
    c.bench_function(&format!("translate/event/{name}"), |b| {
        b.iter(|| {
            out.clear();
            stream.feed(black_box(event), &mut out);
            black_box(out.len())
        })
    });
}

fn frame(event_type: &str, payload: &str) -> Vec<u8> {
    let message = Message::new(payload.as_bytes().to_vec())
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ))
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
    let mut out = Vec::new();
    write_message_to(&message, &mut out).unwrap();
    out
}

fn events(c: &mut Criterion) {
    bench_event(
        c,
        "anthropic_text_delta",
        EventStream::sse(anthropic::AnthropicStream::new(reply())),
        b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":2095,\"output_tokens\":1}}}\n\n",
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" allocates a new `String` on every\"}}\n\n",
    );
    bench_event(
        c,
        "gemini_text",
        EventStream::sse(gemini::GeminiStream::new(reply())),
        b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"The\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":2095,\"totalTokenCount\":2095},\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"r1\"}\r\n\r\n",
        b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" allocates a new `String` on every\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":2095,\"candidatesTokenCount\":9,\"totalTokenCount\":2104},\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"r1\"}\r\n\r\n",
    );
    bench_event(
        c,
        "bedrock_text_delta",
        bedrock::BedrockStream::new(reply()),
        &frame("messageStart", r#"{"role":"assistant"}"#),
        &frame(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":" allocates a new `String` on every"},"p":"abcdefghijklmnopqrstu"}"#,
        ),
    );
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = requests, events
}
criterion_main!(benches);
