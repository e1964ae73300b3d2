//! Kong's `05-azure_integration_spec.lua`. The mock is the OpenAI one with Azure's `api-key`
//! header; targets carry `azure_instance` and `azure_deployment_id` and the mock's URL.

use crate::support::kong::*;
use crate::support::RecordingUpstream;
use serde_json::{json, Value};

const GOOD: &str = "openai/llm-v1-chat/requests/good.json";
const GOOD_COMPLETIONS: &str = "openai/llm-v1-completions/requests/good.json";

fn azure(
    mock: &RecordingUpstream,
    route_type: &str,
    name: &str,
    location: &str,
    auth: Value,
) -> Value {
    ai_proxy(
        route_type,
        "azure",
        Some(name),
        auth,
        options(
            mock.url(location),
            json!({"azure_instance": "001-kong-t", "azure_deployment_id": "gpt-3.5-custom"}),
        ),
    )
}

fn start() -> (KongGateway, RecordingUpstream) {
    let mock = kong_mock(AZURE_AUTH);
    let m = &mock;
    let key = |allow| header_auth("api-key", "azure-key", allow);
    let chat = "llm/v1/chat";
    let completions = "llm/v1/completions";
    let routes = vec![
        route(
            "/azure/llm/v1/chat/good",
            azure(
                m,
                chat,
                "gpt-3.5-turbo",
                "/llm/v1/chat/good",
                key(Some(true)),
            ),
        ),
        route(
            "/azure/llm/v1/chat/good-no-allow-override",
            azure(
                m,
                chat,
                "gpt-3.5-turbo",
                "/llm/v1/chat/good",
                key(Some(false)),
            ),
        ),
        route(
            "/azure/llm/v1/chat/bad_upstream_response",
            azure(
                m,
                chat,
                "gpt-3.5-turbo",
                "/llm/v1/chat/bad_upstream_response",
                key(None),
            ),
        ),
        route(
            "/azure/llm/v1/completions/good",
            azure(
                m,
                completions,
                "gpt-3.5-turbo-instruct",
                "/llm/v1/completions/good",
                key(None),
            ),
        ),
        route(
            "/azure/llm/v1/chat/unauthorized",
            azure(
                m,
                chat,
                "gpt-3.5-turbo",
                "/llm/v1/chat/good",
                header_auth("api-key", "wrong-key", None),
            ),
        ),
        route(
            "/azure/llm/v1/chat/bad_request",
            azure(
                m,
                chat,
                "gpt-3.5-turbo",
                "/llm/v1/chat/bad_request",
                key(None),
            ),
        ),
        route(
            "/azure/llm/v1/completions/bad_request",
            azure(
                m,
                completions,
                "gpt-3.5-turbo-instruct",
                "/llm/v1/completions/bad_request",
                key(None),
            ),
        ),
        route(
            "/azure/llm/v1/chat/internal_server_error",
            azure(
                m,
                chat,
                "gpt-3.5-turbo",
                "/llm/v1/chat/internal_server_error",
                key(None),
            ),
        ),
    ];
    (KongGateway::start(&deck_config(&routes)), mock)
}

#[test]
fn azure_general_internal_server_error_request() {
    let (k, _mock) = start();
    let r = k.get(
        "/azure/llm/v1/chat/internal_server_error",
        &fixture(GOOD),
        &[],
    );
    assert_eq!(r.status, 500);
    assert!(!r.body.is_empty());
}

#[test]
fn azure_general_unauthorized_request() {
    let (k, _mock) = start();
    assert_invalid_api_key(&k.get("/azure/llm/v1/chat/unauthorized", &fixture(GOOD), &[]));
}

#[test]
fn azure_chat_good_request() {
    let (k, mock) = start();
    let r = k.get("/azure/llm/v1/chat/good", &fixture(GOOD), &[]);
    assert_good_chat(&r, "gpt-3.5-turbo-0613");
    assert_eq!(r.header("X-Kong-LLM-Model"), Some("azure/gpt-3.5-turbo"));
    assert_eq!(mock.requests()[0].header("api-key"), Some("azure-key"));
}

#[test]
fn azure_chat_good_request_with_client_right_auth() {
    let (k, _mock) = start();
    let r = k.get(
        "/azure/llm/v1/chat/good",
        &fixture(GOOD),
        &[("api-key", "azure-key")],
    );
    assert_good_chat(&r, "gpt-3.5-turbo-0613");
}

#[test]
fn azure_chat_good_request_with_client_wrong_auth() {
    let (k, _mock) = start();
    let r = k.get(
        "/azure/llm/v1/chat/good",
        &fixture(GOOD),
        &[("api-key", "wrong")],
    );
    assert_invalid_api_key(&r);
}

#[test]
fn azure_chat_good_request_with_client_right_auth_and_no_allow_override() {
    let (k, _mock) = start();
    let r = k.get(
        "/azure/llm/v1/chat/good-no-allow-override",
        &fixture(GOOD),
        &[("api-key", "azure-key")],
    );
    assert_good_chat(&r, "gpt-3.5-turbo-0613");
}

#[test]
fn azure_chat_good_request_with_client_wrong_auth_and_no_allow_override() {
    let (k, mock) = start();
    let r = k.get(
        "/azure/llm/v1/chat/good-no-allow-override",
        &fixture(GOOD),
        &[("api-key", "wrong")],
    );
    assert_good_chat(&r, "gpt-3.5-turbo-0613");
    assert_eq!(mock.requests()[0].header_all("api-key"), vec!["azure-key"]);
}

/// Kong answers 500 `transformation failed from type azure://llm/v1/chat: ...`; llmux passes
/// OpenAI-format answers through (docs/kong-spec.md).
#[test]
fn azure_chat_bad_upstream_response() {
    let (k, _mock) = start();
    let r = k.get(
        "/azure/llm/v1/chat/bad_upstream_response",
        &fixture(GOOD),
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body_str(),
        fixture("openai/llm-v1-chat/responses/bad_upstream_response.json")
    );
}

#[test]
fn azure_chat_bad_request() {
    let (k, _mock) = start();
    let r = k.get(
        "/azure/llm/v1/chat/bad_request",
        &fixture("openai/llm-v1-chat/requests/bad_request.json"),
        &[],
    );
    assert_no_prompts(&r);
}

#[test]
fn azure_completions_good_request() {
    let (k, _mock) = start();
    let r = k.get(
        "/azure/llm/v1/completions/good",
        &fixture(GOOD_COMPLETIONS),
        &[],
    );
    assert_good_completion(&r, "gpt-3.5-turbo-instruct");
    assert_eq!(
        r.header("X-Kong-LLM-Model"),
        Some("azure/gpt-3.5-turbo-instruct")
    );
}

#[test]
fn azure_completions_bad_request() {
    let (k, _mock) = start();
    let r = k.get(
        "/azure/llm/v1/completions/bad_request",
        &fixture("openai/llm-v1-completions/requests/bad_request.json"),
        &[],
    );
    assert_no_prompts(&r);
}
