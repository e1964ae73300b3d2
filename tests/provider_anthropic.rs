//! OpenAI clients against an Anthropic target: the request the fake Messages API receives, the
//! chat completion (whole and streamed, with tools) the client gets back, errors, and the usage
//! llmux counts. Fixtures follow Anthropic's Messages API reference.

mod support;
use serde_json::{json, Value};
use support::*;

const KEY: &str = "sk-ant-test";

fn gateway(upstream: &RecordingUpstream, extra_options: &str) -> Gateway {
    let mut t = ProviderTarget::new(
        "anthropic",
        "smart",
        "claude-sonnet-4-5",
        upstream.url("/v1/messages"),
    )
    .header_auth("x-api-key", KEY);
    if !extra_options.is_empty() {
        t = t.option(extra_options);
    }
    Gateway::start(&providers_yaml(&[t], ""))
}

const MESSAGE: &str = r#"{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi! My name is Claude."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2095,"output_tokens":503,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}"#;

#[test]
fn chat_is_translated_both_ways() {
    let upstream =
        RecordingUpstream::start(|_| Reply::json(200, MESSAGE).header("request-id", "req_1"));
    let gw = gateway(&upstream, "max_tokens: 256");
    let body = r#"{"model":"smart","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello, Claude"}],"temperature":0.5}"#;
    let r = post_json(
        gw.addr(),
        "/v1/chat/completions",
        body,
        &[("Authorization", "Bearer client-gateway-key")],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.header("X-Kong-LLM-Model"),
        Some("anthropic/claude-sonnet-4-5")
    );
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["id"], "msg_013Zva2CMHLNnXjNJJKqJ2EF");
    assert_eq!(
        v["choices"][0]["message"],
        json!({"role":"assistant","content":"Hi! My name is Claude."})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens":2095,"completion_tokens":503,"total_tokens":2598,"prompt_tokens_details":{"cached_tokens":0}})
    );

    let seen = upstream.wait_for_requests(1, WAIT);
    let req = &seen[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(req.header("x-api-key"), Some(KEY));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(req.header("Content-Type"), Some("application/json"));
    // The client's credentials for the gateway never reach the provider.
    assert_eq!(req.header("Authorization"), None);
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        sent,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "system": [{"type":"text","text":"Be brief."}],
            "messages": [{"role":"user","content":[{"type":"text","text":"Hello, Claude"}]}],
            "temperature": 0.5
        })
    );
    wait_for_usage(&gw, 2095, 503);
}

/// The tool-use stream of Anthropic's streaming reference: text, then a tool call whose
/// arguments arrive as `input_json_delta` pieces.
fn tool_stream() -> Reply {
    named_sse(&[
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        ("ping", r#"{"type": "ping"}"#),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay, let's check the weather"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" for San Francisco, CA:"}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San Francisco, CA\"}"}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":1}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ])
}

#[test]
fn streamed_tool_call_arrives_as_openai_chunks() {
    let upstream = RecordingUpstream::start(|_| tool_stream());
    let gw = gateway(&upstream, "");
    let body = r#"{"model":"smart","stream":true,"messages":[{"role":"user","content":"Weather in SF?"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the current weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}]}"#;
    let r = post_json(gw.addr(), "/v1/chat/completions", body, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    let (chunks, done) = openai_chunks(&r.body_str());
    assert!(done, "{}", r.body_str());
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        chunk_text(&chunks),
        "Okay, let's check the weather for San Francisco, CA:"
    );
    let call_start = chunks
        .iter()
        .find(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"].is_string())
        .unwrap();
    assert_eq!(
        call_start["choices"][0]["delta"]["tool_calls"][0],
        json!({"index":0,"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","type":"function","function":{"name":"get_weather","arguments":""}})
    );
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, r#"{"location": "San Francisco, CA"}"#);
    let finishes: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finishes, ["tool_calls"]);
    // The client did not ask for the usage chunk, so it gets none; llmux still counts it.
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    wait_for_usage(&gw, 472, 89);

    let sent: Value = serde_json::from_slice(&upstream.wait_for_requests(1, WAIT)[0].body).unwrap();
    assert_eq!(sent["stream"], true);
    assert_eq!(
        sent["tools"],
        json!([{"name":"get_weather","description":"Get the current weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}])
    );
}

#[test]
fn usage_chunk_when_the_client_asks_for_it() {
    let upstream = RecordingUpstream::start(|_| tool_stream());
    let gw = gateway(&upstream, "");
    let body = r#"{"model":"smart","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Weather in SF?"}]}"#;
    let r = post_json(gw.addr(), "/v1/chat/completions", body, &[]);
    let (chunks, done) = openai_chunks(&r.body_str());
    assert!(done);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens":472,"completion_tokens":89,"total_tokens":561})
    );
}

#[test]
fn tool_results_go_back_as_tool_result_blocks() {
    let upstream = RecordingUpstream::start(|_| Reply::json(200, MESSAGE));
    let gw = gateway(&upstream, "");
    let body = r#"{"model":"smart","messages":[
        {"role":"user","content":"Weather in SF and NYC?"},
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"toolu_a","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"SF\"}"}},
            {"id":"toolu_b","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"NYC\"}"}}]},
        {"role":"tool","tool_call_id":"toolu_a","content":"15 degrees"},
        {"role":"tool","tool_call_id":"toolu_b","content":"22 degrees"}]}"#;
    let r = post_json(gw.addr(), "/v1/chat/completions", body, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let sent: Value = serde_json::from_slice(&upstream.wait_for_requests(1, WAIT)[0].body).unwrap();
    assert_eq!(
        sent["messages"],
        json!([
            {"role":"user","content":[{"type":"text","text":"Weather in SF and NYC?"}]},
            {"role":"assistant","content":[
                {"type":"tool_use","id":"toolu_a","name":"get_weather","input":{"location":"SF"}},
                {"type":"tool_use","id":"toolu_b","name":"get_weather","input":{"location":"NYC"}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_a","content":"15 degrees"},
                {"type":"tool_result","tool_use_id":"toolu_b","content":"22 degrees"}]}
        ])
    );
}

#[test]
fn provider_errors_are_openai_errors_with_the_providers_status() {
    let upstream = RecordingUpstream::start(|req| {
        if req.body_str().contains("overload") {
            Reply::json(
                529,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            )
        } else {
            Reply::json(
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#,
            )
        }
    });
    let gw = gateway(&upstream, "");
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"smart","messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(v["error"]["message"], "max_tokens: Field required");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"smart","messages":[{"role":"user","content":"overload"}]}"#,
        &[],
    );
    assert_eq!(r.status, 529);
    assert_eq!(r.json_error_message().as_deref(), Some("Overloaded"));
}

#[test]
fn requests_anthropic_cannot_take_are_refused_before_sending() {
    let upstream = RecordingUpstream::start(|_| Reply::json(200, MESSAGE));
    let gw = gateway(&upstream, "");
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"smart","n":2,"messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json_error_message().as_deref(),
        Some("n > 1 is not supported by llmux for provider anthropic")
    );
    assert_eq!(upstream.request_count(), 0);
}
