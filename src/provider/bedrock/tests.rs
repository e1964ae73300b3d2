use super::*;
use crate::provider::chat::{ChatRequest, RequestCtx};
use crate::provider::translate::{ReplyCtx, Translate};
use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use serde_json::{json, Value};

fn translate(body: &str, ctx: RequestCtx<'_>) -> Value {
    let req = ChatRequest::parse(body.as_bytes()).unwrap();
    let mut out = Vec::new();
    request(&req, &ctx, &mut out).unwrap();
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
}

#[test]
fn request_keeps_every_tool_call_and_wraps_text_results() {
    let v = translate(
        r#"{"messages":[
            {"role":"system","content":"You are a travel agent."},
            {"role":"user","content":[{"type":"text","text":"Weather in two cities?"},{"type":"image_url","image_url":{"url":"data:image/webp;base64,UklGR"}}]},
            {"role":"assistant","content":"","tool_calls":[
                {"id":"tooluse_a","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"tooluse_b","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},
            {"role":"tool","tool_call_id":"tooluse_a","content":"{\"temp\":18}"},
            {"role":"tool","tool_call_id":"tooluse_b","content":"warm and sunny"}],
          "max_tokens":300,"temperature":0.7,"top_p":0.9,"stop":["\n\nHuman:"],
          "tools":[{"type":"function","function":{"name":"weather","description":"Weather by city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
          "tool_choice":"auto"}"#,
        RequestCtx {
            latency: Some("optimized"),
            ..RequestCtx::default()
        },
    );
    assert_eq!(
        v,
        json!({
            "messages": [
                {"role":"user","content":[{"text":"Weather in two cities?"},{"image":{"format":"webp","source":{"bytes":"UklGR"}}}]},
                {"role":"assistant","content":[
                    {"toolUse":{"toolUseId":"tooluse_a","name":"weather","input":{"city":"Paris"}}},
                    {"toolUse":{"toolUseId":"tooluse_b","name":"weather","input":{"city":"Rome"}}}]},
                {"role":"user","content":[
                    {"toolResult":{"toolUseId":"tooluse_a","content":[{"json":{"temp":18}}]}},
                    {"toolResult":{"toolUseId":"tooluse_b","content":[{"text":"warm and sunny"}]}}]}
            ],
            "system": [{"text":"You are a travel agent."}],
            "inferenceConfig": {"maxTokens":300,"temperature":0.7,"topP":0.9,"stopSequences":["\n\nHuman:"]},
            "toolConfig": {
                "tools":[{"toolSpec":{"name":"weather","description":"Weather by city","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}}}}}}],
                "toolChoice":{"auto":{}}
            },
            "performanceConfig": {"latency":"optimized"}
        })
    );
}

#[test]
fn a_clients_guardrail_config_is_sent_as_it_came() {
    let v = translate(
        r#"{"messages":[{"role":"user","content":"Hi"}],
          "guardrailConfig":{"guardrailIdentifier":"yu5xwvfp4sud","guardrailVersion":"1","trace":"enabled"}}"#,
        RequestCtx::default(),
    );
    assert_eq!(
        v["guardrailConfig"],
        json!({"guardrailIdentifier":"yu5xwvfp4sud","guardrailVersion":"1","trace":"enabled"})
    );
    let v = translate(
        r#"{"messages":[{"role":"user","content":"Hi"}],"guardrailConfig":null}"#,
        RequestCtx::default(),
    );
    assert!(v.get("guardrailConfig").is_none(), "{v}");
}

#[test]
fn image_links_are_refused() {
    let req = ChatRequest::parse(
        br#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/cat.png"}}]}]}"#,
    )
    .unwrap();
    let err = request(&req, &RequestCtx::default(), &mut Vec::new()).unwrap_err();
    assert!(err.0.contains("data: URLs"), "{err}");
}

fn reply(include_usage: bool) -> ReplyCtx {
    ReplyCtx {
        model: "anthropic.claude-3-haiku-20240307-v1:0".into(),
        created: 1,
        include_usage,
    }
}

#[test]
fn response_content_tools_reasons_usage() {
    let body = br#"{"output":{"message":{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"plan","signature":"s"}}},{"text":"Let me check."},{"toolUse":{"toolUseId":"tooluse_kZJ","name":"top_song","input":{"sign":"WZPZ"}}}]}},"stopReason":"tool_use","usage":{"inputTokens":375,"outputTokens":63,"totalTokens":438,"cacheReadInputTokens":10},"metrics":{"latencyMs":1024}}"#;
    let mut out = Vec::new();
    let outcome = response(body, &reply(true), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["model"], "anthropic.claude-3-haiku-20240307-v1:0");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "Let me check.");
    assert_eq!(m["reasoning_content"], "plan");
    assert_eq!(
        m["tool_calls"][0],
        json!({"id":"tooluse_kZJ","type":"function","function":{"name":"top_song","arguments":"{\"sign\":\"WZPZ\"}"}})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        outcome.usage.map(|u| (u.prompt, u.completion, u.total)),
        Some((385, 63, 448))
    );
}

fn frame(kind: &str, name_header: &str, name: &str, payload: &str) -> Vec<u8> {
    let m = Message::new(payload.as_bytes().to_vec())
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(kind.to_string().into()),
        ))
        .add_header(Header::new(
            name_header.to_string(),
            HeaderValue::String(name.to_string().into()),
        ));
    let mut out = Vec::new();
    write_message_to(&m, &mut out).unwrap();
    out
}

fn event(name: &str, payload: &str) -> Vec<u8> {
    frame("event", ":event-type", name, payload)
}

fn run(frames: &[Vec<u8>], piece: usize, include_usage: bool) -> (Vec<Value>, bool, BedrockStream) {
    let mut t = BedrockStream::new(reply(include_usage));
    let all: Vec<u8> = frames.concat();
    let mut out = Vec::new();
    for c in all.chunks(piece) {
        t.feed(c, &mut out);
    }
    t.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    let done = text.ends_with("data: [DONE]\n\n");
    let chunks = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    (chunks, done, t)
}

#[test]
fn event_stream_becomes_chunks() {
    let frames = vec![
        event("messageStart", r#"{"p":"abcd","role":"assistant"}"#),
        event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"Sure, "},"p":"ab"}"#,
        ),
        event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"checking."},"p":"ab"}"#,
        ),
        event("contentBlockStop", r#"{"contentBlockIndex":0,"p":"abc"}"#),
        event(
            "contentBlockStart",
            r#"{"contentBlockIndex":1,"start":{"toolUse":{"name":"top_song","toolUseId":"tooluse_1"}},"p":"a"}"#,
        ),
        event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"sign\": "}},"p":"a"}"#,
        ),
        event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"\"WZPZ\"}"}},"p":"a"}"#,
        ),
        event("contentBlockStop", r#"{"contentBlockIndex":1,"p":"a"}"#),
        event("messageStop", r#"{"p":"abcdef","stopReason":"tool_use"}"#),
        event(
            "metadata",
            r#"{"metrics":{"latencyMs":900},"p":"abc","usage":{"inputTokens":375,"outputTokens":63,"totalTokens":438}}"#,
        ),
    ];
    for piece in [1, 13, 200, 10_000] {
        let (chunks, done, t) = run(&frames, piece, true);
        assert!(done);
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Sure, checking.");
        let args: String = chunks
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(args, r#"{"sign": "WZPZ"}"#);
        assert!(chunks
            .iter()
            .any(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"] == "tooluse_1"));
        assert!(chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
        assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 438);
        assert_eq!(t.usage().map(|u| u.completion), Some(63));
    }
}

#[test]
fn exceptions_and_broken_frames_end_the_stream_with_an_error() {
    let frames = vec![
        event("messageStart", r#"{"role":"assistant"}"#),
        frame(
            "exception",
            ":exception-type",
            "throttlingException",
            r#"{"message":"Too many requests, please wait before trying again."}"#,
        ),
    ];
    let (chunks, done, _) = run(&frames, 7, false);
    assert!(!done);
    let err = &chunks.last().unwrap()["error"];
    assert_eq!(err["type"], "throttlingException");
    assert_eq!(
        err["message"],
        "Too many requests, please wait before trying again."
    );
    let mut corrupt = event("messageStart", r#"{"role":"assistant"}"#);
    let n = corrupt.len();
    corrupt[n - 1] ^= 0xff; // message CRC
    let (chunks, done, _) = run(&[corrupt], 5, false);
    assert!(!done);
    assert_eq!(chunks.last().unwrap()["error"]["type"], "upstream_error");
}

#[test]
fn errors_name_the_exception() {
    let mut out = Vec::new();
    error(
        br#"{"message":"The provided model identifier is invalid."}"#,
        400,
        Some("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        &mut out,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["error"]["message"],
        "The provided model identifier is invalid."
    );
    assert_eq!(v["error"]["code"], "ValidationException");
}
