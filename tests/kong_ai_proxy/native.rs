//! Kong's `12-native_unit_spec.lua`: native-format requests (`llm_format: gemini|bedrock`) with
//! Kong's paths and bodies, whole and streamed.
//!
//! Kong's adapters turn a native request into Kong's OpenAI-format request, compared with
//! `native/target/*.json`; llmux never converts a native request: it passes it to a target of
//! that provider with the model the path names (docs/decisions.md, "Which driver"). The port
//! sends Kong's inputs on Kong's paths through the gateway and checks what llmux promises
//! instead: the provider receives the body byte for byte at the path for the model the client
//! named, the answer comes back untouched, and the statistics log has the provider's usage.

use crate::support::kong::*;
use crate::support::{event_frame, eventstream, RecordingUpstream, Reply, Response};
use serde_json::{json, Value};

const GEMINI_PREFIX: &str =
    "/v1/projects/fake-project-010101/locations/us-central1/publishers/google/models/";
const BEDROCK_PREFIX: &str = "/bedrock/model/";

const CONVERSE: &str = r#"{"output":{"message":{"role":"assistant","content":[{"text":"Setting to green."}]}},"stopReason":"end_turn","usage":{"inputTokens":30,"outputTokens":5,"totalTokens":35},"metrics":{"latencyMs":120}}"#;

fn mock() -> RecordingUpstream {
    RecordingUpstream::start(|rec| {
        let path = rec.path.as_str();
        if path.ends_with(":generateContent") {
            return Reply::json(200, &fixture("gemini/llm-v1-chat/responses/good.json"));
        }
        if path.contains(":streamGenerateContent") {
            return Reply::body(
                200,
                "text/event-stream",
                "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Everything\"}]}}],\"usageMetadata\":{\"promptTokenCount\":2,\"totalTokenCount\":2}}\r\n\r\n\
                 data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\" is okay.\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":2,\"candidatesTokenCount\":11,\"totalTokenCount\":13}}\r\n\r\n",
            );
        }
        if path.ends_with("/converse") {
            return Reply::json(200, CONVERSE);
        }
        if path.ends_with("/converse-stream") {
            return eventstream(vec![
                event_frame("messageStart", r#"{"role":"assistant"}"#),
                event_frame(
                    "contentBlockDelta",
                    r#"{"contentBlockIndex":0,"delta":{"text":"Setting to green."}}"#,
                ),
                event_frame("contentBlockStop", r#"{"contentBlockIndex":0}"#),
                event_frame("messageStop", r#"{"stopReason":"end_turn"}"#),
                event_frame(
                    "metadata",
                    r#"{"usage":{"inputTokens":30,"outputTokens":5,"totalTokens":35},"metrics":{"latencyMs":120}}"#,
                ),
            ]);
        }
        Reply::json(404, r#"{"error":{"message":"no such mock location"}}"#)
    })
}

fn start(mock: &RecordingUpstream) -> KongGateway {
    let native = |provider: &str, name: &str, url: String, auth: Value| {
        let mut c = ai_proxy(
            "llm/v1/chat",
            provider,
            Some(name),
            auth,
            json!({"upstream_url": url}),
        );
        c["llm_format"] = json!(provider);
        c["logging"] = json!({"log_payloads": false, "log_statistics": true});
        c
    };
    let routes = vec![
        route(
            "/gemini",
            native(
                "gemini",
                "gemini-1.5-pro",
                mock.url(&format!("{GEMINI_PREFIX}gemini-1.5-pro:generateContent")),
                header_auth("x-goog-api-key", "gemini-key", Some(false)),
            ),
        ),
        route(
            "/bedrock",
            native(
                "bedrock",
                "cohere.command-r-v1:0",
                mock.url(&format!("{BEDROCK_PREFIX}cohere.command-r-v1%3A0/converse")),
                json!({"aws_access_key_id": "mock-key", "aws_secret_access_key": "mock-secret"}),
            ),
        ),
    ];
    KongGateway::start_with_env(&deck_config(&routes), &[("AWS_REGION", "us-east-1")])
}

/// One native request on Kong's path; returns the answer and what the provider received.
fn send(path: &str, input: &str) -> (Response, crate::support::Recorded, Value, String) {
    let mock = mock();
    let k = start(&mock);
    let body = fixture(input);
    let r = k.request("POST", path, &body, &[("Content-Type", "application/json")]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let sent = mock.requests().remove(0);
    assert_eq!(sent.body_str(), body, "the native body passes through");
    let line = k.wait_log_line(1);
    (r, sent, line, body)
}

fn assert_usage(line: &Value, provider: &str, model: &str, prompt: u64, completion: u64) {
    let stats = &line["ai"]["proxy"];
    assert_eq!(stats["meta"]["provider_name"], provider, "{line}");
    assert_eq!(stats["meta"]["request_model"], model, "{line}");
    assert_eq!(stats["usage"]["prompt_tokens"], prompt, "{line}");
    assert_eq!(stats["usage"]["completion_tokens"], completion, "{line}");
}

#[test]
fn native_adapters_gemini_good_full_no_stream() {
    let (r, sent, line, _) = send(
        "/gemini/v1/projects/fake-project-010101/locations/us-central1/publishers/google/models/gemini-1.5-pro:generateContent",
        "native/gemini/request/with-functions-and-chatter.json",
    );
    assert_eq!(
        r.body_str(),
        fixture("gemini/llm-v1-chat/responses/good.json"),
        "the answer passes through"
    );
    assert_eq!(
        sent.path,
        format!("{GEMINI_PREFIX}gemini-1.5-pro:generateContent")
    );
    assert_eq!(sent.header_all("x-goog-api-key"), vec!["gemini-key"]);
    assert_usage(&line, "gemini", "gemini-1.5-pro", 2, 11);
}

#[test]
fn native_adapters_gemini_good_full_with_stream() {
    let (r, sent, line, _) = send(
        "/gemini/v1/projects/fake-project-010101/locations/us-central1/publishers/google/models/gemini-1.5-pro:streamGenerateContent?alt=sse",
        "native/gemini/request/with-functions-and-chatter.json",
    );
    assert!(r.body_str().contains(" is okay."), "{}", r.body_str());
    assert!(!r.body_str().contains("chat.completion.chunk"));
    assert_eq!(
        sent.path,
        format!("{GEMINI_PREFIX}gemini-1.5-pro:streamGenerateContent?alt=sse")
    );
    assert_usage(&line, "gemini", "gemini-1.5-pro", 2, 11);
}

#[test]
fn native_adapters_bedrock_good_full_no_stream() {
    let (r, sent, line, _) = send(
        "/bedrock/model/cohere.command-r-v1%3A0/converse",
        "native/bedrock/request/with-functions-and-chatter.json",
    );
    assert_eq!(r.body_str(), CONVERSE, "the answer passes through");
    assert_eq!(
        sent.path,
        format!("{BEDROCK_PREFIX}cohere.command-r-v1%3A0/converse")
    );
    let auth = sent.header("authorization").unwrap_or_default();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=mock-key/"),
        "{auth}"
    );
    assert_usage(&line, "bedrock", "cohere.command-r-v1:0", 30, 5);
}

#[test]
fn native_adapters_bedrock_good_full_with_stream() {
    let (r, sent, line, _) = send(
        "/bedrock/model/cohere.command-r-v1%3A0/converse-stream",
        "native/bedrock/request/with-functions-and-chatter.json",
    );
    assert!(String::from_utf8_lossy(&r.body).contains("contentBlockDelta"));
    assert_eq!(
        sent.path,
        format!("{BEDROCK_PREFIX}cohere.command-r-v1%3A0/converse-stream")
    );
    assert_usage(&line, "bedrock", "cohere.command-r-v1:0", 30, 5);
}
