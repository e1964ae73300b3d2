//! Kong's `01-unit_spec.lua` "format tests" for the OpenAI-format providers (openai, azure,
//! mistral with `mistral_format: openai`), over the wire: Kong's standard request goes through
//! llmux and what the provider receives must be Kong's `expected-requests` document; the
//! provider's `real-responses` document must reach the client as Kong's `expected-responses`
//! (`choices[0].message` and `model`, the fields Kong compares).
//!
//! One deliberate difference: Kong re-serialises the body and writes `"stream": false` when the
//! client did not ask to stream; llmux forwards the client's bytes and adds only `model` and
//! the option defaults, so an absent `stream` stays absent (docs/kong-spec.md).

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply};
use serde_json::{json, Value};

struct Format {
    provider: &'static str,
    route_type: &'static str,
    name: &'static str,
    options: Value,
    /// Directory under `unit/expected-requests/` etc. (`mistral/openai` for Mistral).
    dir: &'static str,
}

fn check(f: Format) {
    let file = f.route_type.replace('/', "-");
    let real = fixture(&format!("unit/real-responses/{}/{file}.json", f.dir));
    let mock = RecordingUpstream::start(move |_| Reply::json(200, &real));
    let mut options = f.options.clone();
    options["upstream_url"] = json!(mock.url("/"));
    if f.provider == "azure" {
        options["azure_instance"] = json!("001-kong-t");
        options["azure_deployment_id"] = json!("gpt-3.5-custom");
    }
    let config = json!({
        "route_type": f.route_type,
        "model": {"name": f.name, "provider": f.provider, "options": options},
    });
    let k = KongGateway::start(&deck_config(&[route("/", config)]));
    let request = fixture(&format!("unit/requests/{file}.json"));
    let r = k.request("POST", "/", &request, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());

    let mut sent = mock.requests()[0].body_json_serde();
    let mut expected: Value = serde_json::from_str(&fixture(&format!(
        "unit/expected-requests/{}/{file}.json",
        f.dir
    )))
    .unwrap();
    assert_eq!(expected["stream"], json!(false));
    expected.as_object_mut().unwrap().remove("stream");
    normalise_numbers(&mut sent);
    normalise_numbers(&mut expected);
    assert_eq!(sent, expected, "what the provider received");

    let got = body_json(&r);
    let want: Value = serde_json::from_str(&fixture(&format!(
        "unit/expected-responses/{}/{file}.json",
        f.dir
    )))
    .unwrap();
    if f.route_type == "llm/v1/chat" {
        assert_eq!(got["choices"][0]["message"], want["choices"][0]["message"]);
    } else {
        assert_eq!(got["choices"][0]["text"], want["choices"][0]["text"]);
    }
    assert_eq!(got["model"], want["model"]);
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

#[test]
fn openai_llm_v1_chat_format_test() {
    check(Format {
        provider: "openai",
        route_type: "llm/v1/chat",
        name: "gpt-4",
        options: json!({"max_tokens": 512, "temperature": 0.5}),
        dir: "openai",
    });
}

#[test]
fn openai_llm_v1_completions_format_test() {
    check(Format {
        provider: "openai",
        route_type: "llm/v1/completions",
        name: "gpt-3.5-turbo-instruct",
        options: json!({"max_tokens": 512, "temperature": 0.5}),
        dir: "openai",
    });
}

#[test]
fn azure_llm_v1_chat_format_test() {
    check(Format {
        provider: "azure",
        route_type: "llm/v1/chat",
        name: "gpt-4",
        options: json!({"max_tokens": 512, "temperature": 0.5, "top_p": 1.0}),
        dir: "azure",
    });
}

#[test]
fn azure_llm_v1_completions_format_test() {
    check(Format {
        provider: "azure",
        route_type: "llm/v1/completions",
        name: "gpt-3.5-turbo-instruct",
        options: json!({"max_tokens": 512, "temperature": 0.5, "top_p": 1.0}),
        dir: "azure",
    });
}

#[test]
fn mistral_openai_llm_v1_chat_format_test() {
    check(Format {
        provider: "mistral",
        route_type: "llm/v1/chat",
        name: "mistral-tiny",
        options: json!({"max_tokens": 512, "temperature": 0.5, "mistral_format": "openai"}),
        dir: "mistral/openai",
    });
}
