//! Kong's `10-huggingface_integration_spec.lua`. llmux serves Hugging Face on OpenAI's wire
//! format (its router's OpenAI-compatible API): bodies spliced, answers relayed as they come.
//!
//! Kong's driver treats `upstream_url` as a base and appends `/v1/chat/completions` for chat;
//! llmux uses `upstream_url` verbatim (docs/config-reference.md), so the chat targets here name
//! the mock's `/v1/chat/completions` location in full. The completions targets name `/`, as
//! Kong's do.

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply, Response};
use serde_json::{json, Value};

const MODEL: &str = "mistralai/Mistral-7B-Instruct-v0.2";
const CHAT: &str = "huggingface/llm-v1-chat/requests/good.json";
const COMPLETIONS: &str = "huggingface/llm-v1-completions/requests/good.json";
const KEY: &str = "Bearer huggingface-key";

fn mock() -> RecordingUpstream {
    RecordingUpstream::start(|rec| {
        let json =
            |status: u16, file: &str| Reply::json(status, &fixture(&format!("huggingface/{file}")));
        let authorized = rec.header("authorization") == Some(KEY);
        let body = lua_decode(&rec.body);
        match rec.path.as_str() {
            "/v1/chat/completions" if !authorized => {
                json(401, "llm-v1-chat/responses/unauthorized.json")
            }
            "/v1/chat/completions" => match body {
                Some(b) if !b["messages"].is_null() => json(200, "llm-v1-chat/responses/good.json"),
                _ => json(400, "llm-v1-chat/responses/bad_request.json"),
            },
            "/" if !authorized => json(401, "llm-v1-completions/responses/unauthorized.json"),
            "/" => match body {
                Some(b) if !b["prompt"].is_null() => {
                    json(200, "llm-v1-completions/responses/good.json")
                }
                _ => json(400, "llm-v1-completions/responses/bad_request.json"),
            },
            "/model-loading/v1/chat/completions" => {
                json(503, "llm-v1-chat/responses/bad_response_model_load.json")
            }
            "/model-timeout/v1/chat/completions" => {
                json(504, "llm-v1-chat/responses/bad_response_timeout.json")
            }
            _ => Reply::json(404, r#"{"error":"no such mock location"}"#),
        }
    })
}

fn start() -> (KongGateway, RecordingUpstream) {
    let mock = mock();
    let hf = |route_type: &str, location: &str, auth: Value| {
        ai_proxy(
            route_type,
            "huggingface",
            Some(MODEL),
            auth,
            options(
                mock.url(location),
                json!({"huggingface": {"use_cache": false, "wait_for_model": true}}),
            ),
        )
    };
    let key = || header_auth("Authorization", KEY, None);
    let wrong = || header_auth("api-key", "wrong-key", None);
    let routes = vec![
        route(
            "/huggingface/llm/v1/chat/good",
            hf("llm/v1/chat", "/v1/chat/completions", key()),
        ),
        route(
            "/huggingface/llm/v1/completions/good",
            hf("llm/v1/completions", "/", key()),
        ),
        route(
            "/huggingface/llm/v1/chat/unauthorized",
            hf("llm/v1/chat", "/v1/chat/completions", wrong()),
        ),
        route(
            "/huggingface/llm/v1/completions/unauthorized",
            hf("llm/v1/completions", "/", wrong()),
        ),
        route(
            "/huggingface/llm/v1/chat/bad-response/model-loading",
            hf(
                "llm/v1/chat",
                "/model-loading/v1/chat/completions",
                header_auth("api-key", "huggingface-key", None),
            ),
        ),
        route(
            "/huggingface/llm/v1/chat/bad-response/model-timeout",
            hf(
                "llm/v1/chat",
                "/model-timeout/v1/chat/completions",
                header_auth("api-key", "huggingface-key", None),
            ),
        ),
    ];
    (KongGateway::start(&deck_config(&routes)), mock)
}

fn error_string(r: &Response) -> String {
    body_json(r)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn huggingface_chat_good_request() {
    let (k, mock) = start();
    let r = k.get("/huggingface/llm/v1/chat/good", &fixture(CHAT), &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let json = body_json(&r);
    assert_eq!(json["model"], MODEL);
    assert_eq!(json["object"], "chat.completion");
    assert_eq!(
        json["choices"][0]["message"]["content"],
        " The sum of 1 + 1 is 2. This is a basic arithmetic operation and the answer is always the same: adding one to one results in having two in total."
    );
    let sent = &mock.requests()[0];
    assert_eq!(sent.header("x-use-cache"), Some("false"));
    assert_eq!(sent.header("x-wait-for-model"), Some("true"));
    assert_eq!(sent.body_json_serde()["model"], MODEL);
}

/// Kong turns the text-generation answer (`[{"generated_text": ...}]`) into its own
/// `{"object": "llm/v1/completions", "choices": [{"message": ...}]}`; llmux relays an
/// OpenAI-format provider's answer as it comes (docs/kong-spec.md, the relay difference).
#[test]
fn huggingface_completions_good_request() {
    let (k, mock) = start();
    let r = k.get(
        "/huggingface/llm/v1/completions/good",
        &fixture(COMPLETIONS),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        body_json(&r),
        json!([{"generated_text": "I am a language model AI created by Mistral AI"}])
    );
    let sent = mock.requests()[0].body_json_serde();
    assert_eq!(sent["prompt"], "What are you?");
    assert_eq!(sent["model"], MODEL);
}

#[test]
fn huggingface_unauthorized_request_chat() {
    let (k, _mock) = start();
    let r = k.get("/huggingface/llm/v1/chat/unauthorized", &fixture(CHAT), &[]);
    assert_eq!(r.status, 401, "{}", r.body_str());
    assert_eq!(
        error_string(&r),
        "Authorization header is correct, but the token seems invalid"
    );
}

#[test]
fn huggingface_unauthorized_request_completions() {
    let (k, _mock) = start();
    let r = k.get(
        "/huggingface/llm/v1/completions/unauthorized",
        &fixture(COMPLETIONS),
        &[],
    );
    assert_eq!(r.status, 401, "{}", r.body_str());
    assert_eq!(
        error_string(&r),
        "Authorization header is correct, but the token seems invalid"
    );
}

#[test]
fn huggingface_bad_chat_request() {
    let (k, mock) = start();
    let r = k.get("/huggingface/llm/v1/chat/good", r#"{"messages":null}"#, &[]);
    assert_no_prompts(&r);
    assert!(mock.requests().is_empty(), "refused before the provider");
}

#[test]
fn huggingface_bad_completions_request() {
    let (k, mock) = start();
    let r = k.get(
        "/huggingface/llm/v1/completions/good",
        r#"{"prompt":null}"#,
        &[],
    );
    assert_no_prompts(&r);
    assert!(mock.requests().is_empty(), "refused before the provider");
}

#[test]
fn huggingface_bad_chat_response_model_loading() {
    let (k, _mock) = start();
    let r = k.get(
        "/huggingface/llm/v1/chat/bad-response/model-loading",
        &fixture(CHAT),
        &[],
    );
    assert_eq!(r.status, 503, "{}", r.body_str());
    assert_eq!(
        error_string(&r),
        "Model mistralai/Mistral-7B-Instruct-v0.2 is currently loading"
    );
}

/// Kong names this case `bad completions request`; it is the chat route whose model times out.
#[test]
fn huggingface_bad_chat_response_model_timeout() {
    let (k, _mock) = start();
    let r = k.get(
        "/huggingface/llm/v1/chat/bad-response/model-timeout",
        &fixture(CHAT),
        &[],
    );
    assert_eq!(r.status, 504, "{}", r.body_str());
    assert_eq!(
        error_string(&r),
        "Model mistralai/Mistral-7B-Instruct-v0.2 time out"
    );
}
