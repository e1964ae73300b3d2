//! Kong's `04-cohere_integration_spec.lua`: OpenAI-format clients on Cohere targets, against
//! Kong's mock (`Authorization: Bearer cohere-key`).
//!
//! Kong speaks Cohere's v1 chat API (`message`, an answer with `text`); llmux speaks v2
//! (`/v2/chat`: `messages`, an answer with `message.content`), the API Cohere documents now.
//! The mock keeps Kong's rules with v2's shapes: it wants `messages` where Kong's wants
//! `message`, and its good answer is Kong's (`The sum of 1 + 1 is 2.`, the same billed units)
//! as a v2 body. The error fixtures are Kong's, unchanged.

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply, Response};
use serde_json::{json, Value};

const GOOD: &str = "cohere/llm-v1-chat/requests/good.json";
const KEY: &str = "Bearer cohere-key";

/// Kong's good answer (`cohere/llm-v1-chat/responses/good.json`) in Cohere's v2 shape.
const GOOD_V2: &str = r#"{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"The sum of 1 + 1 is 2."}]},"usage":{"billed_units":{"input_tokens":81,"output_tokens":258},"tokens":{"input_tokens":102,"output_tokens":258}}}"#;

fn mock() -> RecordingUpstream {
    RecordingUpstream::start(|rec| {
        let dir = "cohere/llm-v1-chat/responses";
        let json =
            |status: u16, file: &str| Reply::json(status, &fixture(&format!("{dir}/{file}")));
        let authorized = rec.header("authorization") == Some(KEY);
        let has_messages = lua_decode(&rec.body).is_some_and(|b| !b["messages"].is_null());
        let checked = |good: Reply| match (authorized, has_messages) {
            (false, _) => json(401, "unauthorized.json"),
            (true, false) => json(400, "bad_request.json"),
            (true, true) => good,
        };
        match rec.path.as_str() {
            "/llm/v1/chat/good" => checked(Reply::json(200, GOOD_V2)),
            "/llm/v1/chat/bad_upstream_response" => {
                checked(json(200, "bad_upstream_response.json"))
            }
            "/llm/v1/chat/bad_request" => json(400, "bad_request.json"),
            "/llm/v1/chat/internal_server_error" => Reply::body(
                500,
                "text/html",
                fixture(&format!("{dir}/internal_server_error.html")),
            ),
            _ => Reply::json(404, r#"{"message":"no such mock location"}"#),
        }
    })
}

fn cohere(mock: &RecordingUpstream, location: &str, auth: Value) -> Value {
    ai_proxy(
        "llm/v1/chat",
        "cohere",
        Some("command"),
        auth,
        options(mock.url(location), json!({})),
    )
}

fn start() -> (KongGateway, RecordingUpstream) {
    let mock = mock();
    let m = &mock;
    let key = |allow| header_auth("Authorization", KEY, allow);
    let routes = vec![
        route(
            "/cohere/llm/v1/chat/good",
            cohere(m, "/llm/v1/chat/good", key(Some(true))),
        ),
        route(
            "/cohere/llm/v1/chat/good-no-allow-override",
            cohere(m, "/llm/v1/chat/good", key(Some(false))),
        ),
        route(
            "/cohere/llm/v1/chat/bad_upstream_response",
            cohere(m, "/llm/v1/chat/bad_upstream_response", key(None)),
        ),
        route(
            "/cohere/llm/v1/chat/unauthorized",
            cohere(
                m,
                "/llm/v1/chat/good",
                header_auth("Authorization", "Bearer wrong-key", None),
            ),
        ),
        route(
            "/cohere/llm/v1/chat/bad_request",
            cohere(m, "/llm/v1/chat/bad_request", key(None)),
        ),
        route(
            "/cohere/llm/v1/chat/internal_server_error",
            cohere(m, "/llm/v1/chat/internal_server_error", key(None)),
        ),
    ];
    (KongGateway::start(&deck_config(&routes)), mock)
}

fn assert_command_chat(r: &Response) {
    assert_eq!(r.status, 200, "{}", r.body_str());
    let json = body_json(r);
    assert_eq!(json["model"], "command");
    assert_eq!(json["object"], "chat.completion");
    assert_eq!(r.header("X-Kong-LLM-Model"), Some("cohere/command"));
    assert_eq!(
        json["choices"][0]["message"],
        json!({"content": "The sum of 1 + 1 is 2.", "role": "assistant"})
    );
}

/// Kong relays Cohere's error body (`{"message": "invalid api token"}`); llmux gives OpenAI
/// clients OpenAI's error shape with Cohere's message (docs/decisions.md, "Provider errors").
fn assert_invalid_api_token(r: &Response) {
    assert_eq!(r.status, 401, "{}", r.body_str());
    let json = body_json(r);
    assert_eq!(json["error"]["message"], "invalid api token", "{json}");
    assert_eq!(json["error"]["type"], "authentication_error", "{json}");
}

#[test]
fn cohere_internal_server_error_request() {
    let (k, _mock) = start();
    let r = k.get(
        "/cohere/llm/v1/chat/internal_server_error",
        &fixture(GOOD),
        &[],
    );
    assert_eq!(r.status, 500, "{}", r.body_str());
    assert!(!r.body.is_empty());
}

#[test]
fn cohere_unauthorized_request() {
    let (k, _mock) = start();
    assert_invalid_api_token(&k.get("/cohere/llm/v1/chat/unauthorized", &fixture(GOOD), &[]));
}

#[test]
fn cohere_chat_good_request() {
    let (k, mock) = start();
    assert_command_chat(&k.get("/cohere/llm/v1/chat/good", &fixture(GOOD), &[]));
    let sent = &mock.requests()[0];
    assert_eq!(sent.header_all("authorization"), vec![KEY]);
    let body = sent.body_json_serde();
    assert_eq!(body["model"], "command");
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(
        body["messages"],
        serde_json::from_str::<Value>(&fixture(GOOD)).unwrap()["messages"]
    );
}

#[test]
fn cohere_chat_good_request_with_right_client_auth() {
    let (k, mock) = start();
    let r = k.get(
        "/cohere/llm/v1/chat/good",
        &fixture(GOOD),
        &[("Authorization", KEY)],
    );
    assert_command_chat(&r);
    assert_eq!(mock.requests()[0].header_all("authorization"), vec![KEY]);
}

#[test]
fn cohere_chat_good_request_with_wrong_client_auth() {
    let (k, mock) = start();
    let r = k.get(
        "/cohere/llm/v1/chat/good",
        &fixture(GOOD),
        &[("Authorization", "Bearer wrong")],
    );
    assert_invalid_api_token(&r);
    assert_eq!(
        mock.requests()[0].header_all("authorization"),
        vec!["Bearer wrong"]
    );
}

#[test]
fn cohere_chat_good_request_with_right_client_auth_and_no_allow_override() {
    let (k, _mock) = start();
    let r = k.get(
        "/cohere/llm/v1/chat/good-no-allow-override",
        &fixture(GOOD),
        &[("Authorization", KEY)],
    );
    assert_command_chat(&r);
}

#[test]
fn cohere_chat_good_request_with_wrong_client_auth_and_no_allow_override() {
    let (k, mock) = start();
    let r = k.get(
        "/cohere/llm/v1/chat/good-no-allow-override",
        &fixture(GOOD),
        &[("Authorization", "Bearer wrong")],
    );
    assert_command_chat(&r);
    assert_eq!(mock.requests()[0].header_all("authorization"), vec![KEY]);
}

/// Kong: 500 `transformation failed from type cohere://llm/v1/chat: 'text' or 'generations'
/// missing from cohere response body`. llmux keeps the provider's 200 (already sent when the
/// body turns out unreadable) with an error object saying what was wrong.
#[test]
fn cohere_chat_bad_upstream_response() {
    let (k, _mock) = start();
    let r = k.get(
        "/cohere/llm/v1/chat/bad_upstream_response",
        &fixture(GOOD),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let message = body_json(&r)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.starts_with("llmux could not translate the provider's answer"),
        "{message}"
    );
}

#[test]
fn cohere_chat_bad_request() {
    let (k, mock) = start();
    let r = k.get(
        "/cohere/llm/v1/chat/bad_request",
        &fixture("cohere/llm-v1-chat/requests/bad_request.json"),
        &[],
    );
    assert_no_prompts(&r);
    assert!(mock.requests().is_empty(), "refused before the provider");
}

/// Kong's `cohere llm/v1/completions` `good request` and `bad request`.
#[test]
fn cohere_completions_route_is_refused_at_load() {
    let config = ai_proxy(
        "llm/v1/completions",
        "cohere",
        Some("command"),
        header_auth("Authorization", KEY, None),
        options(
            "http://127.0.0.1:1/llm/v1/completions/good".into(),
            json!({}),
        ),
    );
    assert_completions_refused_at_load("/cohere/llm/v1/completions/good", config);
}
