//! Kong's `08-encoding_integration_spec.lua`: a provider that gzips its answers whatever the
//! request asked for. Kong re-compresses for a client that accepts gzip; llmux relays the
//! provider's bytes and `Content-Encoding` unchanged, so the client inflates the same JSON.

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply};
use serde_json::{json, Value};
use std::io::{Read, Write};

fn gzip(s: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(s.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn inflate(b: &[u8]) -> Value {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b)
        .read_to_string(&mut s)
        .expect("gzip body");
    serde_json::from_str(&s).expect("JSON inside")
}

fn good() -> Value {
    json!({
        "choices": [{"finish_reason": "stop", "index": 0, "messages": {"role": "assistant",
            "content": "Dividing by zero is undefined in mathematics because it leads to results that are contradictory or nonsensical."}}],
        "created": 1702325640, "id": "chatcmpl-8Ugx63a79wKACVkaBbKnR2C2HPcxT",
        "model": "gpt-4-0613", "object": "chat.completion",
        "usage": {"completion_tokens": 139, "prompt_tokens": 130, "total_tokens": 269},
    })
}

fn stencil(test_type: &str) -> (u16, Value) {
    match test_type {
        "200" => (200, good()),
        "200_FAULTY" => (
            200,
            json!({"your_request": {"was_not": "correct but for some reason i return 200 anyway"}}),
        ),
        "401" => (401, json!({"error": {"message": "bad API key"}})),
        "500" => (500, json!({"error": {"message": "some failure"}})),
        _ => (
            500,
            json!({"bad_message": {"bad_error": {"unauthorized": "some failure with weird json"}}}),
        ),
    }
}

fn start() -> (KongGateway, RecordingUpstream) {
    let mock = RecordingUpstream::start(|rec| {
        if rec.header("authorization") != Some("Bearer openai-key") {
            return Reply::json(401, "");
        }
        let (status, body) = stencil(rec.header("x-test-type").unwrap_or("200"));
        Reply::body(status, "application/json", gzip(&body.to_string()))
            .header("Content-Encoding", "gzip")
    });
    let config = ai_proxy(
        "llm/v1/chat",
        "openai",
        Some("gpt-4"),
        header_auth("Authorization", "Bearer openai-key", None),
        options(mock.url("/v1/chat/completions"), json!({})),
    );
    let k = KongGateway::start(&deck_config(&[route("/openai/llm/v1/chat", config)]));
    (k, mock)
}

fn ask(test_type: &str) -> crate::support::Response {
    let (k, mock) = start();
    let body = json!({"messages": [
        {"role": "system", "content": "You are a scientist."},
        {"role": "user", "content": "Why can't you divide by zero?"},
    ]});
    let r = k.get(
        "/openai/llm/v1/chat",
        &body.to_string(),
        &[
            ("x-test-type", test_type),
            ("accept-encoding", "gzip, identity"),
        ],
    );
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    // llmux asks for an identity answer (it reads usage); this provider ignores that.
    assert_eq!(mock.requests()[0].header("accept-encoding"), None);
    r
}

#[test]
fn encoding_returns_deflated_response_to_client_200_from_llm() {
    let r = ask("200");
    assert_eq!(r.status, 200);
    assert_eq!(inflate(&r.body), good());
}

/// Kong answers 500 `transformation failed ...`; llmux passes the provider's 200 through
/// (docs/kong-spec.md).
#[test]
fn encoding_200_from_llm_but_with_faulty_response_format() {
    let r = ask("200_FAULTY");
    assert_eq!(r.status, 200);
    assert_eq!(inflate(&r.body), stencil("200_FAULTY").1);
}

#[test]
fn encoding_401_from_llm() {
    let r = ask("401");
    assert_eq!(r.status, 401);
    assert_eq!(
        inflate(&r.body),
        json!({"error": {"message": "bad API key"}})
    );
}

#[test]
fn encoding_500_from_llm() {
    let r = ask("500");
    assert_eq!(r.status, 500);
    assert_eq!(
        inflate(&r.body),
        json!({"error": {"message": "some failure"}})
    );
}

#[test]
fn encoding_500_from_llm_but_with_faulty_response_format() {
    let r = ask("500_FAULTY");
    assert_eq!(r.status, 500);
    assert_eq!(inflate(&r.body), stencil("500_FAULTY").1);
}
