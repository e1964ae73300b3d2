//! Kong's `01-unit_spec.lua` groups `gemini multimodal`, `gemini tools` and `bedrock tools`
//! over the wire. Kong calls its drivers' Lua functions with the spec's sample tables; here the
//! same samples go through llmux to a Gemini or Bedrock target, and the test checks what the
//! provider received (requests) or what the client got (answers).
//!
//! Where llmux writes a different shape than Kong's driver the test asserts llmux's and says
//! why (docs/kong-spec.md).

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply, Response};
use serde_json::{json, Value};

const GEMINI_ANSWER: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}]}"#;
const BEDROCK_ANSWER: &str = r#"{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#;

/// Kong's `SAMPLE_OPENAI_TOOLS_REQUEST`.
fn tools_request() -> Value {
    json!({
        "messages": [{"role": "user", "content": "Is the NewPhone in stock?"}],
        "tools": [{"type": "function", "function": {
            "name": "check_stock",
            "description": "Check a product is in stock.",
            "parameters": {"type": "object", "properties": {"product_name": {"type": "string"}},
                           "required": ["product_name"]},
        }}],
    })
}

/// Kong's `SAMPLE_LLM_V1_CHAT`.
fn plain_chat() -> Value {
    json!({"messages": [
        {"role": "system", "content": "You are a mathematician."},
        {"role": "user", "content": "What is 1 + 1?"},
    ]})
}

/// Kong's multimodal samples: a picture (`image_url`), the answer, a follow-up.
fn multimodal(image_url: &str) -> Value {
    json!({"messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": image_url}},
        ]},
        {"role": "assistant", "content": [{"type": "text", "text": "A picture of a cat."}]},
        {"role": "user", "content": [{"type": "text", "text": "Now draw it wearing a party-hat."}]},
    ]})
}

/// One request through a target of `provider` whose mock answers `answer`; returns the
/// client's response and the body the provider received (if the request got that far).
fn through(provider: &str, answer: &'static str, request: &Value) -> (Response, Option<Value>) {
    let mock = RecordingUpstream::start(move |_| Reply::json(200, answer));
    let (path, auth) = match provider {
        "gemini" => (
            "/v1beta/models/gemini-pro:generateContent",
            json!({"header_name": "x-goog-api-key", "header_value": "k"}),
        ),
        _ => (
            "/model/some-model/converse",
            json!({"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}),
        ),
    };
    let name = if provider == "gemini" {
        "gemini-pro"
    } else {
        "some-model"
    };
    let config = json!({
        "route_type": "llm/v1/chat",
        "auth": auth,
        "model": {"name": name, "provider": provider, "options": {"upstream_url": mock.url(path)}},
    });
    let k = KongGateway::start_with_env(
        &deck_config(&[route("/", config)]),
        &[("AWS_REGION", "us-east-1")],
    );
    let r = k.request(
        "POST",
        "/",
        &request.to_string(),
        &[("Content-Type", "application/json")],
    );
    let sent = mock.requests().first().map(|s| s.body_json_serde());
    (r, sent)
}

fn sent_ok(provider: &str, request: &Value) -> Value {
    let answer = if provider == "gemini" {
        GEMINI_ANSWER
    } else {
        BEDROCK_ANSWER
    };
    let (r, sent) = through(provider, answer, request);
    assert_eq!(r.status, 200, "{}", r.body_str());
    sent.expect("the provider got the request")
}

fn refused(provider: &str, request: &Value) -> String {
    let (r, sent) = through(provider, GEMINI_ANSWER, request);
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert!(sent.is_none(), "refused before the provider");
    body_json(&r)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Kong's `transforms 'describe this image' via URL from openai to gemini` (and `transforms a
/// text type prompt to gemini GOOD`, `... image_url ... GOOD`, which the request holds). Kong
/// writes `mimeType: image/generic`; llmux names the type the extension suggests
/// (`image/jpeg`), which Gemini accepts where it refuses `image/generic`.
#[test]
fn gemini_multimodal_describe_this_image_via_url() {
    let sent = sent_ok("gemini", &multimodal("https://example.local/image.jpg"));
    assert_eq!(
        sent["contents"],
        json!([
            {"role": "user", "parts": [
                {"text": "What is in this picture?"},
                {"fileData": {"fileUri": "https://example.local/image.jpg", "mimeType": "image/jpeg"}},
            ]},
            {"role": "model", "parts": [{"text": "A picture of a cat."}]},
            {"role": "user", "parts": [{"text": "Now draw it wearing a party-hat."}]},
        ])
    );
}

#[test]
fn gemini_multimodal_describe_this_image_via_base64() {
    let sent = sent_ok(
        "gemini",
        &multimodal("data:image/png;base64,Y2F0X3BuZ19oZXJlX2xvbAo="),
    );
    assert_eq!(
        sent["contents"],
        json!([
            {"role": "user", "parts": [
                {"text": "What is in this picture?"},
                {"inlineData": {"mimeType": "image/png", "data": "Y2F0X3BuZ19oZXJlX2xvbAo="}},
            ]},
            {"role": "model", "parts": [{"text": "A picture of a cat."}]},
            {"role": "user", "parts": [{"text": "Now draw it wearing a party-hat."}]},
        ])
    );
}

fn with_part(part: Value) -> Value {
    json!({"messages": [{"role": "user", "content": [part]}]})
}

/// Kong: `message part type is 'text' but is missing .text block`.
#[test]
fn gemini_multimodal_text_part_missing_text_is_refused() {
    let message = refused(
        "gemini",
        &with_part(json!({"type": "text", "bad_text_field": "What is in this picture?"})),
    );
    assert_eq!(
        message,
        "a content part of type `text` needs a string `text`"
    );
}

/// Kong: `message part type is 'image_url' but is missing .image_url.url block`; llmux names
/// the member it could not read.
#[test]
fn gemini_multimodal_image_url_part_missing_url_is_refused() {
    let message = refused(
        "gemini",
        &with_part(json!({"type": "image_url", "image_url": "https://example.local/image.jpg"})),
    );
    assert!(
        message.starts_with("invalid message content: invalid type: string"),
        "{message}"
    );
}

/// Kong: `cannot transform part of type 'doesnt_exist' to Gemini format`.
#[test]
fn gemini_multimodal_unmapped_part_type_is_refused() {
    let message = refused(
        "gemini",
        &with_part(
            json!({"type": "doesnt_exist", "doesnt_exist": "https://example.local/video.mp4"}),
        ),
    );
    assert!(message.contains("doesnt_exist"), "{message}");
}

/// Kong's `transforms openai tools to gemini tools GOOD`. Kong writes `function_declarations`
/// with `parameters` (Gemini's OpenAPI-subset schema); llmux writes `functionDeclarations` with
/// `parametersJsonSchema`, which takes JSON Schema as OpenAI clients write it
/// (docs/decisions.md, "Gemini schemas").
#[test]
fn gemini_tools_openai_tools_to_gemini_tools() {
    let sent = sent_ok("gemini", &tools_request());
    assert_eq!(
        sent["tools"],
        json!([{"functionDeclarations": [{
            "name": "check_stock",
            "description": "Check a product is in stock.",
            "parametersJsonSchema": {"type": "object",
                "properties": {"product_name": {"type": "string"}}, "required": ["product_name"]},
        }]}])
    );
}

/// Kong's `NO_TOOLS` and `NIL` cases: a request without tools sends none.
#[test]
fn gemini_tools_no_tools() {
    let sent = sent_ok("gemini", &plain_chat());
    assert!(sent.get("tools").is_none(), "{sent}");
}

#[test]
fn gemini_tools_gemini_tool_call_to_openai_tool_call() {
    let answer = r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"sql_execute","args":{"product_name":"NewPhone"}}}]},"finishReason":"STOP"}]}"#;
    let (r, _) = through("gemini", answer, &tools_request());
    assert_eq!(r.status, 200, "{}", r.body_str());
    let call = &body_json(&r)["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "sql_execute");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"product_name": "NewPhone"}));
    assert_eq!(body_json(&r)["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn bedrock_tools_openai_tools_to_bedrock_tools() {
    let sent = sent_ok("bedrock", &tools_request());
    assert_eq!(
        sent["toolConfig"]["tools"],
        json!([{"toolSpec": {
            "name": "check_stock",
            "description": "Check a product is in stock.",
            "inputSchema": {"json": {"type": "object",
                "properties": {"product_name": {"type": "string"}}, "required": ["product_name"]}},
        }}])
    );
}

/// Kong's `NO_TOOLS` and `NIL` cases.
#[test]
fn bedrock_tools_no_tools() {
    let sent = sent_ok("bedrock", &plain_chat());
    assert!(sent.get("toolConfig").is_none(), "{sent}");
}

#[test]
fn bedrock_tools_bedrock_tool_use_to_openai_tool_call() {
    let answer = r#"{"metrics":{"latencyMs":3781},"output":{"message":{"content":[{"text":"Certainly! To calculate the sum of 121, 212, and 313, we can use the \"sumArea\" function that's available to us."},{"toolUse":{"input":{"areas":[121,212,313]},"name":"sumArea","toolUseId":"tooluse_4ZakZPY9SiWoKWrAsY7_eg"}}],"role":"assistant"}},"stopReason":"tool_use","usage":{"inputTokens":410,"outputTokens":115,"totalTokens":525}}"#;
    let (r, _) = through("bedrock", answer, &tools_request());
    assert_eq!(r.status, 200, "{}", r.body_str());
    let call = &body_json(&r)["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(
        call["function"],
        json!({"name": "sumArea", "arguments": "{\"areas\":[121,212,313]}"})
    );
    assert_eq!(call["id"], "tooluse_4ZakZPY9SiWoKWrAsY7_eg");
}

/// Kong's `transforms guardrails into bedrock generation config`: a client's `guardrailConfig`
/// reaches Converse as it was sent (llmux dropped it before this port).
#[test]
fn bedrock_tools_guardrails_into_bedrock_config() {
    let mut request = plain_chat();
    request["guardrailConfig"] =
        json!({"guardrailIdentifier": "yu5xwvfp4sud", "guardrailVersion": "1", "trace": "enabled"});
    let sent = sent_ok("bedrock", &request);
    assert_eq!(
        sent["guardrailConfig"], request["guardrailConfig"],
        "{sent}"
    );
}
