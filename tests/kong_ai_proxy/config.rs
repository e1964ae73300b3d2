//! Kong's `00-config_spec.lua`, the schema cases, through
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

/// Kong: "does not require API auth for self-hosted mistral model", with Mistral's OpenAI
/// format (Kong's own case, with `mistral_format: ollama`, is the next-but-one test).
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

/// `validate` with environment variables (Kong's specs run with `AWS_REGION` and an instance
/// role; llmux resolves Bedrock's region and keys when the configuration loads).
fn validate_env(config: Value, env: &[(&str, &str)]) -> (bool, String) {
    let file = TempFile::with_contents("kong-config", "yaml", deck_config(&[route("/x", config)]));
    let (status, out, err) = run_cli(&["validate", "--config", file.path_str()], env);
    (status.success(), format!("{out}{err}"))
}

fn self_hosted(provider: &str, format: (&str, &str), upstream_url: Option<&str>) -> Value {
    let mut options = json!({"max_tokens": 256, "temperature": 1.0, format.0: format.1});
    if let Some(url) = upstream_url {
        options["upstream_url"] = json!(url);
    }
    json!({
        "route_type": "llm/v1/chat",
        "model": {"name": "llama-2-7b-chat-hf", "provider": provider, "options": options},
    })
}

/// Kong: `must set 'model.options.upstream_url' for self-hosted providers/models`.
#[test]
fn config_requires_upstream_url_when_using_self_hosted_llama2_model() {
    let mut config = self_hosted("llama2", ("llama2_format", "raw"), None);
    config["auth"] = json!({"header_name": "Authorization", "header_value": "Bearer token"});
    let (ok, out) = validate(config);
    assert!(!ok, "{out}");
    assert!(
        out.contains("model.options.upstream_url: is required for provider llama2"),
        "{out}"
    );
}

#[test]
fn config_does_not_require_api_auth_for_self_hosted_llama2_model() {
    let config = self_hosted("llama2", ("llama2_format", "raw"), Some("http://nowhere"));
    let (ok, out) = validate(config);
    assert!(ok, "{out}");
}

/// Kong's loop runs this case for Mistral too, with `mistral_format: ollama`.
#[test]
fn config_does_not_require_api_auth_for_self_hosted_mistral_ollama_model() {
    let config = self_hosted(
        "mistral",
        ("mistral_format", "ollama"),
        Some("http://nowhere"),
    );
    let (ok, out) = validate(config);
    assert!(ok, "{out}");
}

/// Kong: `must set 'model.options.anthropic_version' for anthropic provider`. llmux sends
/// Anthropic's `2023-06-01` when the option is absent (the version every current Messages API
/// feature works with), so the configuration loads.
#[test]
fn config_anthropic_version_defaults_instead_of_being_required() {
    let (ok, out) = validate(json!({
        "route_type": "llm/v1/chat",
        "auth": {"header_name": "x-api-key", "header_value": "anthropic_key"},
        "model": {"name": "anthropic-chat", "provider": "anthropic", "options": {
            "max_tokens": 256, "temperature": 1.0}},
    }));
    assert!(ok, "{out}");
}

/// Kong refuses `log_statistics` on an Anthropic `llm/v1/completions` route; llmux refuses the
/// route itself (completions are not translated for Anthropic), which covers it.
#[test]
fn config_do_not_support_log_statistics_when_completions_route_type_is_used_for_anthropic() {
    let (ok, out) = validate(json!({
        "route_type": "llm/v1/completions",
        "auth": {"header_name": "x-api-key", "header_value": "anthropic_key"},
        "model": {"name": "anthropic-chat", "provider": "anthropic", "options": {
            "max_tokens": 256, "temperature": 1.0, "anthropic_version": "2021-09-01"}},
        "logging": {"log_statistics": true},
    }));
    assert!(!ok, "{out}");
    assert!(out.contains("route_type"), "{out}");
}

/// The auth block Kong's `allow_override` cases use: header, query parameter, override on.
fn override_auth() -> Value {
    json!({
        "param_name": "apikey", "param_value": "key", "param_location": "query",
        "header_name": "Authorization", "header_value": "Bearer token", "allow_override": true,
    })
}

/// Kong: `bedrock model can not support ath.allowed_auth_override`. Kong's config is refused
/// by llmux too, but for its missing AWS keys (llmux resolves them when the configuration
/// loads). With keys it loads: llmux signs every Bedrock request with the target's keys and
/// drops the client's `Authorization` and `x-amz-*` headers, so `allow_override` cannot let a
/// client credential through and is ignored rather than refused.
#[test]
fn config_bedrock_model_with_auth_allow_override() {
    let config = json!({
        "route_type": "llm/v1/chat",
        "auth": override_auth(),
        "model": {"name": "bedrock", "provider": "bedrock", "options": {
            "max_tokens": 256, "temperature": 1.0, "upstream_url": "http://nowhere"}},
    });
    let (ok, out) = validate(config.clone());
    assert!(!ok, "{out}");
    assert!(out.contains("AWS credentials not found"), "{out}");
    let (ok, out) = validate_env(
        config,
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
    );
    assert!(ok, "{out}");
}

/// Kong: `gemini model can not support ath.allowed_auth_override` (Kong's Gemini driver can
/// authenticate with a GCP service account, which a client credential cannot replace). llmux
/// sends Gemini the configured header or query key, and `allow_override` lets the client's own
/// key stand as for every other key-authenticated provider, so the configuration loads.
#[test]
fn config_gemini_model_supports_auth_allow_override() {
    let (ok, out) = validate(json!({
        "route_type": "llm/v1/chat",
        "auth": override_auth(),
        "model": {"name": "gemini", "provider": "gemini", "options": {
            "max_tokens": 256, "temperature": 1.0, "upstream_url": "http://nowhere"}},
    }));
    assert!(ok, "{out}");
}

fn native(route_type: &str, provider: &str, llm_format: &str, auth: Value) -> Value {
    json!({
        "route_type": route_type,
        "auth": auth,
        "model": {"name": provider, "provider": provider, "options": {
            "max_tokens": 256, "temperature": 1.0, "upstream_url": "http://nowhere"}},
        "llm_format": llm_format,
    })
}

fn both_auths() -> Value {
    json!({
        "param_name": "apikey", "param_value": "key", "param_location": "query",
        "header_name": "Authorization", "header_value": "Bearer token", "allow_override": false,
    })
}

/// Kong: `native provider options in llm_format can only be used with the 'llm/v1/chat'
/// route_type`, `value must be llm/v1/chat` on `config.route_type`.
#[test]
fn config_native_llm_format_can_only_use_llm_v1_chat_route_type() {
    let (ok, out) = validate(native(
        "llm/v1/completions",
        "gemini",
        "gemini",
        both_auths(),
    ));
    assert!(!ok, "{out}");
    assert!(
        out.contains("route_type: must be llm/v1/chat when llm_format is gemini"),
        "{out}"
    );
    let (ok, out) = validate(native("llm/v1/chat", "gemini", "gemini", both_auths()));
    assert!(ok, "{out}");
}

/// Kong: `native llm_format 'bedrock' can only be used with the 'bedrock' model.provider`.
/// Kong's valid Bedrock config has no keys (Kong finds them at request time); llmux reads them
/// from the environment when the configuration loads, so the valid half runs with them set.
#[test]
fn config_bedrock_llm_format_can_only_use_bedrock_provider() {
    let (ok, out) = validate(native("llm/v1/chat", "openai", "bedrock", both_auths()));
    assert!(!ok, "{out}");
    assert!(
        out.contains("model.provider: must be bedrock when llm_format is bedrock"),
        "{out}"
    );
    let (ok, out) = validate_env(
        native(
            "llm/v1/chat",
            "bedrock",
            "bedrock",
            json!({"allow_override": false}),
        ),
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
    );
    assert!(ok, "{out}");
}

/// Kong: `native llm_format 'gemini' can only be used with the 'gemini' model.provider`.
#[test]
fn config_gemini_llm_format_can_only_use_gemini_provider() {
    let (ok, out) = validate(native("llm/v1/chat", "openai", "gemini", both_auths()));
    assert!(!ok, "{out}");
    assert!(
        out.contains("model.provider: must be gemini when llm_format is gemini"),
        "{out}"
    );
    let (ok, out) = validate(native(
        "llm/v1/chat",
        "gemini",
        "gemini",
        json!({"allow_override": false}),
    ));
    assert!(ok, "{out}");
}
