//! Kong's `06-mistral_integration_spec.lua` (`mistral_format: openai`).

use crate::support::kong::*;
use crate::support::RecordingUpstream;
use serde_json::{json, Value};

const GOOD: &str = "openai/llm-v1-chat/requests/good.json";
const MODEL: &str = "mistralai/Mistral-7B-Instruct-v0.1-instruct";

fn mistral(mock: &RecordingUpstream, route_type: &str, location: &str, auth: Value) -> Value {
    ai_proxy(
        route_type,
        "mistral",
        Some(MODEL),
        auth,
        options(mock.url(location), json!({"mistral_format": "openai"})),
    )
}

fn start() -> (KongGateway, RecordingUpstream) {
    let mock = kong_mock(MISTRAL_AUTH);
    let m = &mock;
    let key = |allow| header_auth("Authorization", "Bearer mistral-key", allow);
    let routes = vec![
        route(
            "/mistral/llm/v1/chat/good",
            mistral(m, "llm/v1/chat", "/v1/chat/completions", key(Some(true))),
        ),
        route(
            "/mistral/llm/v1/chat/good-no-allow-override",
            mistral(m, "llm/v1/chat", "/v1/chat/completions", key(Some(false))),
        ),
        route(
            "/mistral/llm/v1/completions/good",
            mistral(m, "llm/v1/completions", "/v1/completions", key(None)),
        ),
    ];
    (KongGateway::start(&deck_config(&routes)), mock)
}

fn assert_mistral_chat(r: &crate::support::Response) {
    assert_good_chat(r, MODEL);
    assert_eq!(
        r.header("X-Kong-LLM-Model"),
        Some(format!("mistral/{MODEL}").as_str())
    );
}

#[test]
fn mistral_chat_good_request() {
    let (k, _mock) = start();
    assert_mistral_chat(&k.get("/mistral/llm/v1/chat/good", &fixture(GOOD), &[]));
}

#[test]
fn mistral_chat_good_request_with_client_right_auth() {
    let (k, _mock) = start();
    let r = k.get(
        "/mistral/llm/v1/chat/good",
        &fixture(GOOD),
        &[("Authorization", "Bearer mistral-key")],
    );
    assert_mistral_chat(&r);
}

#[test]
fn mistral_chat_good_request_with_client_wrong_auth() {
    let (k, _mock) = start();
    let r = k.get(
        "/mistral/llm/v1/chat/good",
        &fixture(GOOD),
        &[("Authorization", "Bearer wrong")],
    );
    assert_invalid_api_key(&r);
}

#[test]
fn mistral_chat_good_request_with_client_right_auth_and_no_allow_override() {
    let (k, _mock) = start();
    let r = k.get(
        "/mistral/llm/v1/chat/good-no-allow-override",
        &fixture(GOOD),
        &[("Authorization", "Bearer mistral-key")],
    );
    assert_mistral_chat(&r);
}

#[test]
fn mistral_chat_good_request_with_client_wrong_auth_and_no_allow_override() {
    let (k, _mock) = start();
    let r = k.get(
        "/mistral/llm/v1/chat/good-no-allow-override",
        &fixture(GOOD),
        &[("Authorization", "Bearer wrong")],
    );
    assert_mistral_chat(&r);
}

#[test]
fn mistral_completions_good_request() {
    let (k, _mock) = start();
    let r = k.get(
        "/mistral/llm/v1/completions/good",
        &fixture("openai/llm-v1-completions/requests/good.json"),
        &[],
    );
    assert_good_completion(&r, MODEL);
}
