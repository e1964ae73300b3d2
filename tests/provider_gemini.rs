//! OpenAI clients against a Gemini target (Google AI Studio's `generateContent`; Vertex AI takes
//! the same bodies): the request and URL the fake receives, whole and streamed answers
//! (`:streamGenerateContent?alt=sse`), function calling with real names, errors and usage.
//! Fixtures follow the Gemini API reference.

mod support;
use serde_json::{json, Value};
use support::*;

fn gateway(upstream: &RecordingUpstream) -> Gateway {
    let t = ProviderTarget::new(
        "gemini",
        "flash",
        "gemini-2.0-flash",
        upstream.url("/v1beta/models/gemini-2.0-flash:generateContent"),
    )
    .header_auth("x-goog-api-key", "AIza-test");
    Gateway::start(&providers_yaml(&[t], ""))
}

const ANSWER: &str = r#"{"candidates":[{"content":{"parts":[{"text":"AI learns patterns from data."}],"role":"model"},"finishReason":"STOP","avgLogprobs":-0.12,"index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":6,"totalTokenCount":14,"promptTokensDetails":[{"modality":"TEXT","tokenCount":8}]},"modelVersion":"gemini-2.0-flash","responseId":"mbkHaK6aIo"}"#;

#[test]
fn chat_is_translated_both_ways() {
    let upstream = RecordingUpstream::start(|_| Reply::json(200, ANSWER));
    let gw = gateway(&upstream);
    let r = post_json(
        gw.addr(),
        "/v1/chat/completions",
        r#"{"model":"flash","messages":[{"role":"system","content":"Explain simply."},{"role":"user","content":"How does AI work?"}],"max_tokens":50}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("X-Kong-LLM-Model"),
        Some("gemini/gemini-2.0-flash")
    );
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "AI learns patterns from data."
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["model"], "gemini-2.0-flash");
    assert_eq!(v["usage"]["total_tokens"], 14);
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(req.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(req.header("x-goog-api-key"), Some("AIza-test"));
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        sent,
        json!({
            "contents":[{"role":"user","parts":[{"text":"How does AI work?"}]}],
            "systemInstruction":{"parts":[{"text":"Explain simply."}]},
            "generationConfig":{"maxOutputTokens":50}
        })
    );
    wait_for_usage(&gw, 8, 6);
}

#[test]
fn stream_uses_stream_generate_content_with_sse() {
    let upstream = RecordingUpstream::start(|_| {
        crlf_sse(&[
            r#"{"candidates":[{"content":{"parts":[{"text":"The"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7},"modelVersion":"gemini-2.0-flash","responseId":"r-1"}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":" quick brown fox"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":4,"totalTokenCount":11},"modelVersion":"gemini-2.0-flash","responseId":"r-1"}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":" jumps."}],"role":"model"},"finishReason":"MAX_TOKENS","index":0}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":6,"totalTokenCount":13},"modelVersion":"gemini-2.0-flash","responseId":"r-1"}"#,
        ])
    });
    let gw = gateway(&upstream);
    let r = post_json(
        gw.addr(),
        "/v1/chat/completions",
        r#"{"model":"flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Write a story"}]}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    let (chunks, done) = openai_chunks(&r.body_str());
    assert!(done);
    assert_eq!(chunk_text(&chunks), "The quick brown fox jumps.");
    let finishes: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finishes, ["length"]);
    // Cumulative counts: the last usageMetadata, not their sum.
    assert_eq!(
        chunks.last().unwrap()["usage"],
        json!({"prompt_tokens":7,"completion_tokens":6,"total_tokens":13})
    );
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(
        req.path,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );
    wait_for_usage(&gw, 7, 6);
}

#[test]
fn function_calls_round_trip_with_real_names() {
    let upstream = RecordingUpstream::start(|req| {
        if req.body_str().contains("functionResponse") {
            Reply::json(200, ANSWER)
        } else {
            Reply::json(
                200,
                r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"schedule_meeting","args":{"attendees":["Bob","Alice"],"date":"2025-03-27","time":"10:00","topic":"Q3 planning"}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":120,"candidatesTokenCount":30,"totalTokenCount":150},"modelVersion":"gemini-2.0-flash"}"#,
            )
        }
    });
    let gw = gateway(&upstream);
    let tools = r#""tools":[{"type":"function","function":{"name":"schedule_meeting","description":"Schedules a meeting","parameters":{"type":"object","properties":{"attendees":{"type":"array","items":{"type":"string"}},"date":{"type":"string"},"time":{"type":"string"},"topic":{"type":"string"}},"required":["attendees","date","time","topic"]}}}]"#;
    let first = format!(
        r#"{{"model":"flash","messages":[{{"role":"user","content":"Schedule a meeting with Bob and Alice for 03/27/2025 at 10:00 AM about the Q3 planning."}}],{tools}}}"#
    );
    let r = post_json(gw.addr(), "/v1/chat/completions", &first, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "schedule_meeting");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["attendees"], json!(["Bob", "Alice"]));
    let id = call["id"].as_str().unwrap();

    // The client sends the call back with its result, as OpenAI clients do.
    let second = format!(
        r#"{{"model":"flash","messages":[{{"role":"user","content":"Schedule it"}},{{"role":"assistant","content":null,"tool_calls":[{call}]}},{{"role":"tool","tool_call_id":"{id}","content":"{{\"status\":\"scheduled\"}}"}}],{tools}}}"#
    );
    let r = post_json(gw.addr(), "/v1/chat/completions", &second, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let sent: Value = serde_json::from_slice(&upstream.wait_for_requests(2, WAIT)[1].body).unwrap();
    assert_eq!(
        sent["contents"][1]["parts"][0]["functionCall"]["name"],
        "schedule_meeting"
    );
    assert_eq!(
        sent["contents"][2],
        json!({"role":"user","parts":[{"functionResponse":{"name":"schedule_meeting","response":{"status":"scheduled"}}}]})
    );
}

#[test]
fn errors_become_openai_errors_and_fail_over() {
    let bad = RecordingUpstream::start(|_| {
        Reply::json(
            503,
            r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#,
        )
    });
    let gw = gateway(&bad);
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"flash","messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 503);
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(
        v["error"]["message"],
        "The model is overloaded. Please try again later."
    );
    assert_eq!(v["error"]["code"], "UNAVAILABLE");

    // A provider error status listed in failover_criteria moves on to the next target.
    let good = RecordingUpstream::start(|_| Reply::json(200, ANSWER));
    let mut first = ProviderTarget::new(
        "gemini",
        "flash",
        "gemini-2.0-flash",
        bad.url("/v1beta/models/gemini-2.0-flash:generateContent"),
    );
    first.weight = Some(100);
    let mut second = ProviderTarget::new(
        "gemini",
        "flash",
        "gemini-2.0-flash",
        good.url("/v1beta/models/gemini-2.0-flash:generateContent"),
    );
    second.weight = Some(10);
    let targets = [first, second];
    let gw = Gateway::start(&providers_yaml(
        &targets,
        "      balancer:\n        algorithm: priority\n        failover_criteria: [error, timeout, http_503, non_idempotent]\n",
    ));
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"flash","messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!((bad.request_count(), good.request_count()), (2, 1));
}
