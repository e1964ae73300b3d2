//! Kong's `11-gemini_integration_spec.lua`: an OpenAI-format client on a Gemini target, the
//! answer translated to a `chat.completion` and its usage in the statistics log.

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply};
use serde_json::json;

const PLUGIN_ID: &str = "17434c15-2c7c-4c2f-b87a-58880533a3c1";

/// Kong's mock: `Authorization: Bearer gemini-key` on `/v1/chat/completions` gets the good
/// answer (Kong's mock sends an empty 200 otherwise; this one a 401, which no case reaches).
fn mock() -> RecordingUpstream {
    RecordingUpstream::start(|rec| {
        match (
            rec.path.as_str(),
            rec.header("authorization") == Some("Bearer gemini-key"),
        ) {
            ("/v1/chat/completions", true) => {
                Reply::json(200, &fixture("gemini/llm-v1-chat/responses/good.json"))
            }
            ("/v1/chat/completions", false) => Reply::json(401, "{}"),
            _ => Reply::json(404, "{}"),
        }
    })
}

/// Kong expects the answer's `model` to be the configured `gemini-1.5-pro`; llmux's names the
/// model Gemini says answered (`modelVersion`, here `gemini-1.5-flash-002`), as an OpenAI
/// answer names the model version that answered (docs/kong-spec.md). The statistics log's
/// `response_model` is Kong's. Kong's `payload.request` is the Gemini body it sent
/// (`contents`); llmux logs the client's body.
#[test]
fn gemini_chat_good_request() {
    let mock = mock();
    let mut config = ai_proxy(
        "llm/v1/chat",
        "gemini",
        Some("gemini-1.5-pro"),
        header_auth("Authorization", "Bearer gemini-key", None),
        options(
            mock.url("/v1/chat/completions"),
            json!({"input_cost": 15.0, "output_cost": 15.0}),
        ),
    );
    config["logging"] = json!({"log_payloads": true, "log_statistics": true});
    let k = KongGateway::start(&deck_config(&[KongRoute {
        path: "/gemini/llm/v1/chat/good",
        plugin_id: Some(PLUGIN_ID),
        config,
    }]));
    let r = k.get(
        "/gemini/llm/v1/chat/good",
        &fixture("openai/llm-v1-chat/requests/good.json"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let body = body_json(&r);
    assert_eq!(body["model"], "gemini-1.5-flash-002");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Everything is okay."
    );

    let sent = mock.requests()[0].body_json_serde();
    assert_eq!(
        sent["contents"][0]["parts"][0]["text"], "What is 1 + 1?",
        "{sent}"
    );

    let mut line = k.wait_log_line(1);
    let payload = line["ai"]["proxy"]["payload"].take();
    line["ai"]["proxy"]
        .as_object_mut()
        .unwrap()
        .remove("payload");
    assert_kong_stats(
        &line,
        json!({
            "plugin_id": PLUGIN_ID,
            "provider_name": "gemini",
            "request_model": "gemini-1.5-pro",
            "response_model": "gemini-1.5-pro",
            "llm_latency": 1,
        }),
        json!({
            "prompt_tokens": 2,
            "completion_tokens": 11,
            "total_tokens": 13,
            "time_per_token": 1,
            "cost": 0.000195,
        }),
    );
    let request = payload["request"].as_str().unwrap_or_default();
    assert!(request.contains("What is 1 + 1"), "{request}");
    let response = payload["response"].as_str().unwrap_or_default();
    assert!(
        response.contains("content") && response.contains("Everything is okay"),
        "{response}"
    );
}
