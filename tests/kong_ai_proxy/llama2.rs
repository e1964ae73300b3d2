//! Kong's `07-llama2_integration_spec.lua` (`llama2_format: raw`): an OpenAI-format chat
//! written as one Llama 2 prompt for a text-generation server, its `generated_text` back as a
//! `chat.completion`.
//!
//! The five completions cases of Kong's `llama2 general` block run on `llm/v1/completions`
//! routes, which llmux does not translate for raw-format targets: such a route is refused at
//! load (`llama2_completions_routes_are_refused_at_load`). The `one-shot request` block calls
//! Kong's Lua driver API and has no gateway equivalent (docs/kong-spec.md).

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply};
use serde_json::{json, Value};

const KEY: &str = "Bearer llama2-key";

/// Kong's mock: `Authorization: Bearer llama2-key` and an `inputs` string holding `INST`.
fn mock() -> RecordingUpstream {
    RecordingUpstream::start(|rec| {
        let json = |status: u16, file: &str| {
            Reply::json(status, &fixture(&format!("llama2/raw/responses/{file}")))
        };
        if rec.path != "/raw/llm/v1/chat" {
            return Reply::json(404, r#"{"error":"no such mock location"}"#);
        }
        if rec.header("authorization") != Some(KEY) {
            return json(401, "unauthorized.json");
        }
        let inputs = lua_decode(&rec.body).and_then(|b| b["inputs"].as_str().map(str::to_owned));
        match inputs {
            Some(i) if i.contains("INST") => json(200, "good.json"),
            _ => json(400, "bad_request.json"),
        }
    })
}

fn llama2(route_type: &str, url: String) -> Value {
    ai_proxy(
        route_type,
        "llama2",
        Some("llama-2-7b-chat-hf"),
        header_auth("Authorization", KEY, None),
        options(url, json!({"llama2_format": "raw"})),
    )
}

#[test]
fn llama2_runs_good_request_in_chat_format() {
    let mock = mock();
    let k = KongGateway::start(&deck_config(&[route(
        "/raw/llm/v1/chat/completions",
        llama2("llm/v1/chat", mock.url("/raw/llm/v1/chat")),
    )]));
    let r = k.get(
        "/raw/llm/v1/chat/completions",
        &fixture("llama2/raw/requests/good-chat.json"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let body = body_json(&r);
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Is a well known font."
    );
    assert_eq!(body["object"], "chat.completion");

    // llmux's template follows the roles (Kong's makes the first message the system prompt
    // whatever its role): every system message joins the `<<SYS>>` block, in order
    // (docs/decisions.md, "System messages" and "llama2 `raw`").
    let sent = mock.requests()[0].body_json_serde();
    assert_eq!(
        sent["inputs"],
        "<s>[INST] <<SYS>>\nYou are a video game knowledgebase.\nMissingno. is a weird character \
         from a popular game.\n<</SYS>>\n\nWhat is Missingno.? [/INST]<s>[INST] Why is it \
         popular? [/INST]"
    );
    assert_eq!(sent["parameters"]["max_new_tokens"], 256);
}

/// Kong's `runs good request in completions format` and its four auth variants
/// (`with client right auth`, `with client wrong auth`, both without `allow_override`).
#[test]
fn llama2_completions_routes_are_refused_at_load() {
    assert_completions_refused_at_load(
        "/raw/llm/v1/completions",
        llama2(
            "llm/v1/completions",
            "http://127.0.0.1:1/raw/llm/v1/completions".into(),
        ),
    );
}
