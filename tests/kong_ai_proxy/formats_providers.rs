//! Kong's `01-unit_spec.lua` "format tests" for the providers llmux translates (anthropic,
//! gemini, bedrock, cohere, llama2 `raw` and `ollama`, mistral `ollama`), over the wire: Kong's
//! standard chat request goes through llmux, what the provider receives is compared with Kong's
//! `expected-requests` document, and the provider's `real-responses` document must reach the
//! client as Kong's `expected-responses` message.
//!
//! The comparison reads both documents through the same per-API reader (the conversation as
//! role/text pairs, the sampling parameters), so representations the API takes either way
//! (Anthropic's `system` as a string or as text blocks, content as a string or blocks) do not
//! count as differences. Deliberate ones are asserted as llmux's and commented: `finish_reason`
//! in OpenAI's values, Cohere's v2 API, llama2's template, `top_p`/`top_k` sent when set.

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply};
use serde_json::{json, Value};

/// A role and the text of one turn (or of the system prompt).
type Turn = (String, String);

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        Value::Object(o) => o
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

fn turns(messages: &Value, role: &str, content: &str) -> Vec<Turn> {
    messages
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m[role].as_str().unwrap_or_default().to_owned(),
                        text_of(&m[content]),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn anthropic_turns(body: &Value) -> Vec<Turn> {
    let mut out = vec![("system".to_owned(), text_of(&body["system"]))];
    out.extend(turns(&body["messages"], "role", "content"));
    out
}

fn gemini_turns(body: &Value) -> Vec<Turn> {
    let mut out = vec![(
        "system".to_owned(),
        text_of(&body["systemInstruction"]["parts"]),
    )];
    out.extend(turns(&body["contents"], "role", "parts"));
    out
}

fn bedrock_turns(body: &Value) -> Vec<Turn> {
    let mut out = vec![("system".to_owned(), text_of(&body["system"]))];
    out.extend(turns(&body["messages"], "role", "content"));
    out
}

fn ollama_turns(body: &Value) -> Vec<Turn> {
    turns(&body["messages"], "role", "content")
}

/// Lua has one number type: Kong's `top_p = 1` and `1.0` are the same value.
fn normalise_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                *v = json!(f);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise_numbers),
        Value::Object(o) => o.values_mut().for_each(normalise_numbers),
        _ => {}
    }
}

/// `keys` of `obj`, numbers normalised (absent members stay absent).
fn pick(obj: &Value, keys: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for k in keys {
        if let Some(v) = obj.get(*k) {
            out.insert((*k).to_owned(), v.clone());
        }
    }
    let mut out = Value::Object(out);
    normalise_numbers(&mut out);
    out
}

struct Format {
    provider: &'static str,
    name: &'static str,
    options: Value,
    /// Directory under `unit/expected-requests/` etc.
    dir: &'static str,
    /// The path the target's `upstream_url` names (Gemini and Bedrock name the model in it).
    path: &'static str,
    auth: Value,
}

/// Runs Kong's chat request through a target of `f` and returns (what the provider received,
/// Kong's expected request, the client's answer, Kong's expected answer).
fn exchange(f: &Format) -> (Value, Value, Value, Value) {
    let dir = f.dir;
    let real = fixture(&format!("unit/real-responses/{dir}/llm-v1-chat.json"));
    let mock = RecordingUpstream::start(move |_| Reply::json(200, &real));
    let mut options = f.options.clone();
    options["upstream_url"] = json!(mock.url(f.path));
    let config = json!({
        "route_type": "llm/v1/chat",
        "auth": f.auth,
        "model": {"name": f.name, "provider": f.provider, "options": options},
    });
    let k = KongGateway::start_with_env(
        &deck_config(&[route("/", config)]),
        &[("AWS_REGION", "us-east-1")],
    );
    let r = k.request(
        "POST",
        "/",
        &fixture("unit/requests/llm-v1-chat.json"),
        &[("Content-Type", "application/json")],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let sent = mock.requests()[0].body_json_serde();
    let json_fixture = |kind: &str| -> Value {
        serde_json::from_str(&fixture(&format!("unit/{kind}/{dir}/llm-v1-chat.json"))).unwrap()
    };
    (
        sent,
        json_fixture("expected-requests"),
        body_json(&r),
        json_fixture("expected-responses"),
    )
}

fn assert_message(got: &Value, want: &Value) {
    assert_eq!(
        got["choices"][0]["message"], want["choices"][0]["message"],
        "{got}"
    );
    assert_eq!(got["object"], "chat.completion");
}

fn no_auth() -> Value {
    json!({"header_name": "x-key", "header_value": "k"})
}

/// Kong's `finish_reason` is Anthropic's `stop_sequence`; llmux gives OpenAI clients OpenAI's
/// `stop` (docs/decisions.md, "finish_reason"). Kong leaves `top_p` out; llmux sends the
/// target's `top_p` option, as for every provider that has one.
#[test]
fn anthropic_llm_v1_chat_format_test() {
    let (sent, expected, got, want) = exchange(&Format {
        provider: "anthropic",
        name: "claude-2.1",
        options: json!({"max_tokens": 512, "temperature": 0.5, "top_p": 1.0}),
        dir: "anthropic",
        path: "/v1/messages",
        auth: no_auth(),
    });
    assert_eq!(anthropic_turns(&sent), anthropic_turns(&expected));
    let keys = ["model", "max_tokens", "temperature"];
    assert_eq!(pick(&sent, &keys), pick(&expected, &keys));
    assert_eq!(sent["top_p"], 1.0);
    assert_message(&got, &want);
    assert_eq!(got["model"], want["model"]);
    assert_eq!(want["choices"][0]["finish_reason"], "stop_sequence");
    assert_eq!(got["choices"][0]["finish_reason"], "stop");
}

#[test]
fn gemini_llm_v1_chat_format_test() {
    let (sent, expected, got, want) = exchange(&Format {
        provider: "gemini",
        name: "gemini-pro",
        options: json!({"max_tokens": 8192, "temperature": 0.8, "top_k": 1, "top_p": 0.6}),
        dir: "gemini",
        path: "/v1beta/models/gemini-pro:generateContent",
        auth: json!({"header_name": "x-goog-api-key", "header_value": "k"}),
    });
    assert_eq!(gemini_turns(&sent), gemini_turns(&expected));
    let keys = ["temperature", "topK", "topP", "maxOutputTokens"];
    assert_eq!(
        pick(&sent["generationConfig"], &keys),
        pick(&expected["generationConfig"], &keys)
    );
    assert_message(&got, &want);
    assert_eq!(got["model"], want["model"]);
    assert_eq!(
        got["choices"][0]["finish_reason"],
        want["choices"][0]["finish_reason"]
    );
}

/// Kong's `finish_reason` is Bedrock's `end_turn`; llmux's is OpenAI's `stop`. The fixture's
/// `usage` uses OpenAI's member names, which Converse never sends, so llmux reports none.
#[test]
fn bedrock_llm_v1_chat_format_test() {
    let (sent, expected, got, want) = exchange(&Format {
        provider: "bedrock",
        name: "bedrock",
        options: json!({"max_tokens": 8192, "temperature": 0.8, "top_k": 1, "top_p": 0.6}),
        dir: "bedrock",
        path: "/model/bedrock/converse",
        auth: json!({"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}),
    });
    assert_eq!(bedrock_turns(&sent), bedrock_turns(&expected));
    let keys = ["maxTokens", "temperature", "topP"];
    assert_eq!(
        pick(&sent["inferenceConfig"], &keys),
        pick(&expected["inferenceConfig"], &keys)
    );
    assert_message(&got, &want);
    assert_eq!(got["model"], want["model"]);
    assert_eq!(want["choices"][0]["finish_reason"], "end_turn");
    assert_eq!(got["choices"][0]["finish_reason"], "stop");
}

/// Kong writes Cohere's v1 request (`chat_history`, `message`, the system prompt as a USER
/// turn); llmux writes v2's (`messages` with their OpenAI roles, the system prompt a `system`
/// message). The conversation is compared with Kong's input; the answer is Kong's fixture text
/// in a v2 body (see `cohere.rs`).
#[test]
fn cohere_llm_v1_chat_format_test() {
    let want: Value =
        serde_json::from_str(&fixture("unit/expected-responses/cohere/llm-v1-chat.json")).unwrap();
    let answer = json!({
        "id": "f8aabbeb-f745-4e9b-85b1-71a3269620d9",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text",
            "text": want["choices"][0]["message"]["content"]}]},
        "usage": {"billed_units": {"input_tokens": 81, "output_tokens": 258}},
    })
    .to_string();
    let mock = RecordingUpstream::start(move |_| Reply::json(200, &answer));
    let config = json!({
        "route_type": "llm/v1/chat",
        "auth": {"header_name": "Authorization", "header_value": "Bearer k"},
        "model": {"name": "command", "provider": "cohere", "options": {
            "max_tokens": 512, "temperature": 0.5, "top_p": 1.0, "upstream_url": mock.url("/v2/chat")}},
    });
    let k = KongGateway::start(&deck_config(&[route("/", config)]));
    let request = fixture("unit/requests/llm-v1-chat.json");
    let r = k.request(
        "POST",
        "/",
        &request,
        &[("Content-Type", "application/json")],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let sent = mock.requests()[0].body_json_serde();
    let input: Value = serde_json::from_str(&request).unwrap();
    assert_eq!(ollama_turns(&sent), ollama_turns(&input));
    let expected: Value =
        serde_json::from_str(&fixture("unit/expected-requests/cohere/llm-v1-chat.json")).unwrap();
    let keys = ["model", "max_tokens", "temperature", "p"];
    assert_eq!(pick(&sent, &keys), pick(&expected, &keys));
    let got = body_json(&r);
    assert_message(&got, &want);
    assert_eq!(got["model"], want["model"]);
    assert_eq!(got["id"], want["id"]);
    assert_eq!(
        got["choices"][0]["finish_reason"],
        want["choices"][0]["finish_reason"]
    );
}

/// Ollama's chat API (`llama2_format: ollama`, `mistral_format: ollama`). Kong's expected
/// `usage` (130/139) is its own estimate; llmux reports Ollama's counts
/// (`prompt_eval_count` 26, `eval_count` 100).
fn check_ollama(
    provider: &'static str,
    name: &'static str,
    format: (&str, &str),
    dir: &'static str,
) {
    let mut options = json!({"max_tokens": 512, "temperature": 0.5});
    options[format.0] = json!(format.1);
    let (sent, expected, got, want) = exchange(&Format {
        provider,
        name,
        options,
        dir,
        path: "/api/chat",
        auth: no_auth(),
    });
    assert_eq!(ollama_turns(&sent), ollama_turns(&expected));
    assert_eq!(
        pick(&sent, &["model", "stream"]),
        pick(&expected, &["model", "stream"])
    );
    let keys = ["num_predict", "temperature"];
    assert_eq!(
        pick(&sent["options"], &keys),
        pick(&expected["options"], &keys)
    );
    assert_message(&got, &want);
    assert_eq!(got["model"], want["model"]);
    assert_eq!(
        got["choices"][0]["finish_reason"],
        want["choices"][0]["finish_reason"]
    );
    assert_eq!(
        (
            &got["usage"]["prompt_tokens"],
            &got["usage"]["completion_tokens"]
        ),
        (&json!(26), &json!(100))
    );
}

#[test]
fn llama2_ollama_llm_v1_chat_format_test() {
    check_ollama(
        "llama2",
        "llama2",
        ("llama2_format", "ollama"),
        "llama2/ollama",
    );
}

#[test]
fn mistral_ollama_llm_v1_chat_format_test() {
    check_ollama(
        "mistral",
        "mistral-tiny",
        ("mistral_format", "ollama"),
        "mistral/ollama",
    );
}

/// Kong's template joins everything with spaces and writes the first message as the system
/// prompt whatever its role; llmux's follows Llama 2's own template (newlines around
/// `<<SYS>>`, assistant turns closed with `</s>`) and roles (docs/decisions.md, "llama2
/// `raw`"). The texts, parameters and the answer after the last `[/INST]` are Kong's.
#[test]
fn llama2_raw_llm_v1_chat_format_test() {
    let (sent, expected, got, want) = exchange(&Format {
        provider: "llama2",
        name: "llama2",
        options: json!({"max_tokens": 512, "temperature": 0.5, "llama2_format": "raw",
                        "top_p": 1, "top_k": 40}),
        dir: "llama2/raw",
        path: "/raw",
        auth: no_auth(),
    });
    let inputs = sent["inputs"].as_str().unwrap_or_default();
    for text in [
        "<<SYS>>\nYou are a mathematician.\n<</SYS>>",
        "What is 1 + 2? [/INST]",
        "Multiply that by 2 [/INST]",
        "[INST] Why can't you divide by zero? [/INST]",
    ] {
        assert!(inputs.contains(text), "{text:?} in {inputs:?}");
    }
    let keys = ["max_new_tokens", "temperature", "top_k", "top_p"];
    assert_eq!(
        pick(&sent["parameters"], &keys),
        pick(&expected["parameters"], &keys)
    );
    assert_message(&got, &want);
}
