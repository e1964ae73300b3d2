//! Kong's `03-anthropic_integration_spec.lua`: OpenAI-format clients on `llm/v1/chat` routes
//! whose target is Anthropic's Messages API, against Kong's mock (the key in `x-api-key`).
//!
//! Where llmux answers differently from Kong (a body it cannot translate, an answer without
//! usage, `tool_choice: none` without tools, completions routes) the test asserts llmux's
//! behaviour and says why; docs/kong-spec.md lists each difference.

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply, Response};
use serde_json::{json, Value};

const GOOD: &str = "anthropic/llm-v1-chat/requests/good.json";
const KEY: &str = "anthropic-key";

/// Kong's Anthropic mock: `x-api-key: anthropic-key`, a body with `messages`, one fixture per
/// location; `tool_choice` echoes the `tool_choice` it received in a `tool-choice` header.
fn mock() -> RecordingUpstream {
    RecordingUpstream::start(|rec| {
        let dir = "anthropic/llm-v1-chat/responses";
        let json =
            |status: u16, file: &str| Reply::json(status, &fixture(&format!("{dir}/{file}")));
        let authorized = rec.header("x-api-key") == Some(KEY);
        let has_messages = lua_decode(&rec.body).is_some_and(|b| !b["messages"].is_null());
        let checked = |file: &str| match (authorized, has_messages) {
            (false, _) => json(401, "unauthorized.json"),
            (true, false) => json(400, "bad_request.json"),
            (true, true) => json(200, file),
        };
        match rec.path.as_str() {
            "/llm/v1/chat/good" => checked("good.json"),
            "/llm/v1/chat/bad_upstream_response" => checked("bad_upstream_response.json"),
            "/llm/v1/chat/no_usage_upstream_response" => checked("no_usage_response.json"),
            "/llm/v1/chat/malformed_usage_upstream_response" => {
                checked("malformed_usage_response.json")
            }
            "/llm/v1/chat/bad_request" => json(400, "bad_request.json"),
            "/llm/v1/chat/internal_server_error" => Reply::body(
                500,
                "text/html",
                fixture(&format!("{dir}/internal_server_error.html")),
            ),
            "/llm/v1/chat/tool_choice" => {
                let sent = lua_decode(&rec.body).map_or(Value::Null, |b| b["tool_choice"].clone());
                json(200, "good.json").header("tool-choice", &sent.to_string())
            }
            _ => Reply::json(404, r#"{"error":{"message":"no such mock location"}}"#),
        }
    })
}

/// The spec's plugin config: `claude-2.1`, `anthropic_version: 2023-06-01`.
fn anthropic(mock: &RecordingUpstream, location: &str, auth: Value) -> Value {
    ai_proxy(
        "llm/v1/chat",
        "anthropic",
        Some("claude-2.1"),
        auth,
        options(
            mock.url(location),
            json!({"anthropic_version": "2023-06-01"}),
        ),
    )
}

fn start() -> (KongGateway, RecordingUpstream) {
    let mock = mock();
    let m = &mock;
    let key = |allow| header_auth("x-api-key", KEY, allow);
    let routes = vec![
        route(
            "/anthropic/llm/v1/chat/good",
            anthropic(m, "/llm/v1/chat/good", key(Some(true))),
        ),
        route(
            "/anthropic/llm/v1/chat/good-no-allow-override",
            anthropic(m, "/llm/v1/chat/good", key(Some(false))),
        ),
        route(
            "/anthropic/llm/v1/chat/bad_upstream_response",
            anthropic(m, "/llm/v1/chat/bad_upstream_response", key(None)),
        ),
        route(
            "/anthropic/llm/v1/chat/no_usage_upstream_response",
            anthropic(m, "/llm/v1/chat/no_usage_upstream_response", key(None)),
        ),
        route(
            "/anthropic/llm/v1/chat/malformed_usage_upstream_response",
            anthropic(
                m,
                "/llm/v1/chat/malformed_usage_upstream_response",
                key(None),
            ),
        ),
        route(
            "/anthropic/llm/v1/chat/tool_choice",
            anthropic(m, "/llm/v1/chat/tool_choice", key(None)),
        ),
        route(
            "/anthropic/llm/v1/chat/unauthorized",
            anthropic(
                m,
                "/llm/v1/chat/good",
                header_auth("x-api-key", "wrong-key", None),
            ),
        ),
        route(
            "/anthropic/llm/v1/chat/bad_request",
            anthropic(m, "/llm/v1/chat/bad_request", key(None)),
        ),
        route(
            "/anthropic/llm/v1/chat/internal_server_error",
            anthropic(m, "/llm/v1/chat/internal_server_error", key(None)),
        ),
    ];
    (KongGateway::start(&deck_config(&routes)), mock)
}

/// Kong's checks on a good answer, translated to a `chat.completion`.
fn assert_claude_chat(r: &Response) {
    assert_eq!(r.status, 200, "{}", r.body_str());
    let json = body_json(r);
    assert_eq!(json["model"], "claude-2.1");
    assert_eq!(json["object"], "chat.completion");
    assert_eq!(r.header("X-Kong-LLM-Model"), Some("anthropic/claude-2.1"));
    assert_eq!(
        json["choices"][0]["message"],
        json!({"content": "The sum of 1 + 1 is 2.", "role": "assistant"})
    );
}

fn assert_authentication_error(r: &Response) {
    assert_eq!(r.status, 401, "{}", r.body_str());
    let json = body_json(r);
    assert_eq!(json["error"]["type"], "authentication_error", "{json}");
}

#[test]
fn anthropic_internal_server_error_request() {
    let (k, _mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/internal_server_error",
        &fixture(GOOD),
        &[],
    );
    assert_eq!(r.status, 500, "{}", r.body_str());
    assert!(!r.body.is_empty());
}

#[test]
fn anthropic_unauthorized_request() {
    let (k, mock) = start();
    let r = k.get("/anthropic/llm/v1/chat/unauthorized", &fixture(GOOD), &[]);
    assert_authentication_error(&r);
    assert_eq!(mock.requests()[0].header("x-api-key"), Some("wrong-key"));
}

#[test]
fn anthropic_chat_good_request() {
    let (k, mock) = start();
    assert_claude_chat(&k.get("/anthropic/llm/v1/chat/good", &fixture(GOOD), &[]));
    let sent = &mock.requests()[0];
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let body = sent.body_json_serde();
    assert_eq!(body["model"], "claude-2.1");
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are a helpful assistant."}])
    );
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "What is 1 + 1?"}]}])
    );
}

#[test]
fn anthropic_chat_good_request_with_client_right_header_auth() {
    let (k, mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/good",
        &fixture(GOOD),
        &[("x-api-key", KEY)],
    );
    assert_claude_chat(&r);
    assert_eq!(mock.requests()[0].header_all("x-api-key"), vec![KEY]);
}

#[test]
fn anthropic_chat_good_request_with_client_wrong_header_auth() {
    let (k, _mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/good",
        &fixture(GOOD),
        &[("x-api-key", "wrong")],
    );
    assert_authentication_error(&r);
}

#[test]
fn anthropic_chat_good_request_with_client_right_header_auth_and_no_allow_override() {
    let (k, _mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/good-no-allow-override",
        &fixture(GOOD),
        &[("x-api-key", KEY)],
    );
    assert_claude_chat(&r);
}

#[test]
fn anthropic_chat_good_request_with_client_wrong_header_auth_and_no_allow_override() {
    let (k, mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/good-no-allow-override",
        &fixture(GOOD),
        &[("x-api-key", "wrong")],
    );
    assert_claude_chat(&r);
    assert_eq!(mock.requests()[0].header_all("x-api-key"), vec![KEY]);
}

/// Kong answers 500 `transformation failed from type anthropic://llm/v1/chat: 'content' not in
/// anthropic://llm/v1/chat response`. llmux has already sent the provider's 200 when it finds
/// the body unreadable, so the status stays 200 and the body is an OpenAI error object saying
/// what was wrong (docs/decisions.md, "A translated body llmux cannot read").
#[test]
fn anthropic_chat_bad_upstream_response() {
    let (k, _mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/bad_upstream_response",
        &fixture(GOOD),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let message = body_json(&r)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.starts_with("llmux could not translate the provider's answer")
            && message.contains("content"),
        "{message}"
    );
}

#[test]
fn anthropic_chat_bad_request() {
    let (k, mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/bad_request",
        &fixture("anthropic/llm-v1-chat/requests/bad_request.json"),
        &[],
    );
    assert_no_prompts(&r);
    assert!(mock.requests().is_empty(), "refused before the provider");
}

/// Kong writes `"usage": "no usage data returned from upstream"` into the answer. llmux leaves
/// `usage` out, as OpenAI does when it has none to report: a string where clients expect an
/// object breaks OpenAI SDKs' parsers (the statistics log counts the tokens instead).
#[test]
fn anthropic_chat_no_usage_response() {
    let (k, _mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/no_usage_upstream_response",
        &fixture(GOOD),
        &[],
    );
    assert_claude_chat(&r);
    let json = body_json(&r);
    assert!(json.get("usage").is_none(), "{json}");
}

/// Kong answers `"usage": {}` for a `usage` without Anthropic's counts; llmux leaves `usage`
/// out, as for no usage at all (a zero count would be a wrong count).
#[test]
fn anthropic_chat_malformed_usage_response() {
    let (k, _mock) = start();
    let r = k.get(
        "/anthropic/llm/v1/chat/malformed_usage_upstream_response",
        &fixture(GOOD),
        &[],
    );
    assert_claude_chat(&r);
    let json = body_json(&r);
    assert!(json.get("usage").is_none(), "{json}");
}

/// Kong's four conversions, checked on the header the mock echoes and on the body it received.
/// `tool_choice_none.json` has no `tools`: Kong sends `{"type":"none"}` anyway; llmux sends no
/// `tool_choice` without tools (Anthropic refuses a `tool_choice` without `tools`), and with
/// tools it sends `{"type":"none"}` (unit test `anthropic::tests`).
#[test]
fn anthropic_chat_tool_choice_conversion() {
    let (k, mock) = start();
    let cases = [
        ("tool_choice_auto.json", json!({"type": "auto"})),
        ("tool_choice_none.json", Value::Null),
        ("tool_choice_required.json", json!({"type": "any"})),
        (
            "tool_choice_object_function.json",
            json!({"type": "tool", "name": "my_function"}),
        ),
    ];
    for (i, (file, want)) in cases.into_iter().enumerate() {
        let mut body: Value =
            serde_json::from_str(&fixture(&format!("openai/llm-v1-chat/requests/{file}"))).unwrap();
        body["model"] = json!("claude-2.1");
        let r = k.request(
            "POST",
            "/anthropic/llm/v1/chat/tool_choice",
            &body.to_string(),
            &[("Content-Type", "application/json")],
        );
        assert_eq!(r.status, 200, "{file}: {}", r.body_str());
        let echoed: Value = serde_json::from_str(r.header("tool-choice").unwrap_or("")).unwrap();
        assert_eq!(echoed, want, "{file}");
        let sent = mock.wait_for_requests(i + 1, crate::support::WAIT)[i].body_json_serde();
        assert_eq!(sent["tool_choice"], want, "{file}");
    }
}

/// Kong's `anthropic llm/v1/completions` `good request` and `bad request`: the route is
/// refused at load (llmux does not translate the completions API for Anthropic).
#[test]
fn anthropic_completions_route_is_refused_at_load() {
    let config = ai_proxy(
        "llm/v1/completions",
        "anthropic",
        Some("claude-2.1"),
        header_auth("x-api-key", KEY, None),
        options(
            "http://127.0.0.1:1/llm/v1/completions/good".into(),
            json!({"anthropic_version": "2023-06-01"}),
        ),
    );
    assert_completions_refused_at_load("/anthropic/llm/v1/completions/good", config);
}
