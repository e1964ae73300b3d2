//! Kong's `00-config_spec.lua`, the schema cases for OpenAI-format providers, through
//! `llmux validate` (llmux's messages carry the YAML path; Kong's are quoted in comments).

use crate::support::kong::deck_config;
use crate::support::kong::route;
use crate::support::{run_cli, TempFile};
use serde_json::{json, Value};

fn validate(config: Value) -> (bool, String) {
    let file = TempFile::with_contents("kong-config", "yaml", deck_config(&[route("/x", config)]));
    let (status, out, err) = run_cli(&["validate", "--config", file.path_str()], &[]);
    (status.success(), format!("{out}{err}"))
}

fn openai(auth: Value) -> Value {
    json!({
        "route_type": "llm/v1/chat",
        "auth": auth,
        "model": {"name": "openai", "provider": "openai", "options": {
            "max_tokens": 256, "temperature": 1.0, "upstream_url": "http://nowhere"}},
    })
}

/// Kong: "does not require API auth for self-hosted mistral model" (llmux serves Mistral's
/// OpenAI format; the `ollama` format is listed as pending provider work).
#[test]
fn config_does_not_require_api_auth_for_self_hosted_mistral_model() {
    let (ok, out) = validate(json!({
        "route_type": "llm/v1/chat",
        "model": {"name": "llama-2-7b-chat-hf", "provider": "mistral", "options": {
            "max_tokens": 256, "temperature": 1.0, "upstream_url": "http://nowhere",
            "mistral_format": "openai"}},
    }));
    assert!(ok, "{out}");
}

/// Kong: `must set 'model.options.azure_instance' for azure provider`.
#[test]
fn config_requires_azure_instance_field_when_azure_provider_is_used() {
    let (ok, out) = validate(json!({
        "route_type": "llm/v1/chat",
        "auth": {"header_name": "Authorization", "header_value": "Bearer token"},
        "model": {"name": "azure-chat", "provider": "azure", "options": {
            "max_tokens": 256, "temperature": 1.0}},
    }));
    assert!(!ok, "{out}");
    assert!(out.contains("azure_instance"), "{out}");
}

/// Kong: `all or none of these fields must be set: 'auth.header_name', 'auth.header_value'`.
#[test]
fn config_requires_both_header_name_and_header_value_to_be_set() {
    let (ok, out) = validate(openai(json!({"header_name": "Authorization"})));
    assert!(!ok, "{out}");
    assert!(
        out.contains("all or none of `header_name`, `header_value` must be set"),
        "{out}"
    );
    let (ok, out) = validate(openai(
        json!({"header_name": "Authorization", "header_value": "Bearer token"}),
    ));
    assert!(ok, "{out}");
}

/// Kong: `all or none of these fields must be set: 'auth.param_name', 'auth.param_value',
/// 'auth.param_location'`.
#[test]
fn config_requires_all_of_param_name_param_value_and_param_location_to_be_set() {
    let (ok, out) = validate(openai(
        json!({"param_name": "apikey", "param_value": "key"}),
    ));
    assert!(!ok, "{out}");
    assert!(
        out.contains("all or none of `param_name`, `param_value`, `param_location` must be set"),
        "{out}"
    );
    let (ok, out) = validate(openai(
        json!({"param_name": "apikey", "param_value": "key", "param_location": "query"}),
    ));
    assert!(ok, "{out}");
}

#[test]
fn config_requires_all_auth_parameters_set_in_order_to_use_both_header_and_param_types() {
    let (ok, out) = validate(openai(json!({
        "param_name": "apikey", "param_value": "key", "param_location": "query",
        "header_name": "Authorization", "header_value": "Bearer token",
    })));
    assert!(ok, "{out}");
}
