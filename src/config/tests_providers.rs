//! Loading every provider Kong's ai-proxy-advanced speaks: default URLs, wire formats, Bedrock's
//! signing settings from options or the environment, native formats, the Responses route, and
//! decks written by Kong AI Gateway 2.x tooling.

use super::*;

fn load_env(yaml: &str, vars: &[(&str, &str)]) -> Result<Loaded, ConfigErrors> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load_str(yaml, "t.yaml", &move |name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
}

fn errors_env(yaml: &str, vars: &[(&str, &str)]) -> Vec<String> {
    match load_env(yaml, vars) {
        Ok(_) => vec![],
        Err(e) => {
            e.0.iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect()
        }
    }
}

fn one_target(target: &str) -> String {
    format!("_format_version: \"3.0\"\nplugins:\n- name: ai-proxy-advanced\n  config:\n    targets:\n    - {target}\n")
}

fn target_of(yaml: &str, vars: &[(&str, &str)]) -> TargetConfig {
    let l = load_env(yaml, vars).unwrap_or_else(|e| panic!("{e}"));
    l.config.catch_all.unwrap().targets[0].clone()
}

#[test]
fn default_urls_and_wires() {
    let cases = [
        ("anthropic", "claude-x", Wire::Anthropic, "https://api.anthropic.com/v1/messages"),
        ("cohere", "command-a", Wire::Cohere, "https://api.cohere.com/v2/chat"),
        (
            "gemini",
            "gemini-2.0-flash",
            Wire::Gemini,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
        ),
        (
            "huggingface",
            "org/m",
            Wire::OpenAi,
            "https://api-inference.huggingface.co/models/org/m/v1/chat/completions",
        ),
        (
            "dashscope",
            "qwen-plus",
            Wire::OpenAi,
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions",
        ),
    ];
    for (provider, name, wire, url) in cases {
        let t = target_of(
            &one_target(&format!(
                "route_type: llm/v1/chat\n      model: {{provider: {provider}, name: {name}}}"
            )),
            &[],
        );
        assert_eq!(t.wire, wire, "{provider}");
        assert_eq!(t.upstream.display, url, "{provider}");
    }
    let g = target_of(
        &one_target("route_type: llm/v1/chat\n      model: {provider: gemini, name: g}\n      auth: {param_name: key, param_location: query, param_value: k}"),
        &[],
    );
    assert_eq!(
        g.options.stream_path.as_deref(),
        Some("/v1beta/models/g:streamGenerateContent?alt=sse&key=k")
    );
    assert_eq!(
        g.options.model_path_prefix.as_deref(),
        Some("/v1beta/models/")
    );
    let a = target_of(&one_target("route_type: llm/v1/chat\n      model: {provider: anthropic, options: {anthropic_version: '2024-01-01', top_k: 7}}"), &[]);
    assert_eq!(a.options.anthropic_version, "2024-01-01");
    assert_eq!(a.options.top_k, Some(7));
    let a = target_of(
        &one_target("route_type: llm/v1/chat\n      model: {provider: anthropic}"),
        &[],
    );
    assert_eq!(a.options.anthropic_version, "2023-06-01");
}

#[test]
fn self_hosted_providers_need_urls_and_formats() {
    assert_eq!(
        errors_env(&one_target("route_type: llm/v1/chat\n      model: {provider: ollama, name: llama3}"), &[]),
        ["plugins[0].config.targets[0].model.options.upstream_url: is required for provider ollama (a self-hosted server)"]
    );
    assert_eq!(
        errors_env(
            &one_target("route_type: llm/v1/chat\n      model: {provider: llama2, options: {upstream_url: 'http://h/gen'}}"),
            &[]
        ),
        ["plugins[0].config.targets[0].model.options.llama2_format: is required for provider llama2 (raw, openai or ollama)"]
    );
    for (format, wire) in [
        ("raw", Wire::Llama2Raw),
        ("openai", Wire::OpenAi),
        ("ollama", Wire::Ollama),
    ] {
        let t = target_of(
            &one_target(&format!("route_type: llm/v1/chat\n      model: {{provider: llama2, options: {{upstream_url: 'http://h/x', llama2_format: {format}}}}}")),
            &[],
        );
        assert_eq!(t.wire, wire);
    }
    let m = target_of(
        &one_target("route_type: llm/v1/chat\n      model: {provider: mistral, options: {mistral_format: ollama, upstream_url: 'http://h:11434/api/chat'}}"),
        &[],
    );
    assert_eq!(m.wire, Wire::Ollama);
    assert_eq!(
        errors_env(&one_target("route_type: llm/v1/chat\n      model: {provider: databricks}"), &[]),
        ["plugins[0].config.targets[0].model.options.databricks.workspace_instance_id: is required for provider databricks without upstream_url"]
    );
    assert_eq!(
        errors_env(&one_target("route_type: llm/v1/chat\n      model: {provider: gemini}"), &[]),
        ["plugins[0].config.targets[0].model.name: is required for provider gemini (the model is part of its URL)"]
    );
}

#[test]
fn vertex_needs_all_three_keys() {
    let t = target_of(
        &one_target("route_type: llm/v1/chat\n      model: {provider: gemini, name: g, options: {gemini: {api_endpoint: europe-west4-aiplatform.googleapis.com, project_id: p, location_id: europe-west4}}}"),
        &[],
    );
    assert_eq!(
        t.upstream.display,
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/publishers/google/models/g:generateContent"
    );
    assert_eq!(
        errors_env(
            &one_target("route_type: llm/v1/chat\n      model: {provider: gemini, name: g, options: {gemini: {project_id: p}}}"),
            &[]
        ),
        ["plugins[0].config.targets[0].model.options.gemini: all or none of `api_endpoint`, `project_id`, `location_id` must be set (Vertex AI)"]
    );
}

#[test]
fn bedrock_signing_from_options_or_environment() {
    let yaml = one_target("route_type: llm/v1/chat\n      model: {provider: bedrock, name: 'anthropic.claude-3-haiku-20240307-v1:0'}");
    assert_eq!(
        errors_env(&yaml, &[]),
        [
            "plugins[0].config.targets[0].auth: AWS credentials not found: set `aws_access_key_id` and `aws_secret_access_key`, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
            "plugins[0].config.targets[0].model.options.bedrock.aws_region: AWS region not specified anywhere (set it here, or AWS_REGION or AWS_DEFAULT_REGION)",
        ]
    );
    let env = [
        ("AWS_DEFAULT_REGION", "eu-central-1"),
        ("AWS_ACCESS_KEY_ID", "AKIAENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_SESSION_TOKEN", "env-token"),
    ];
    let t = target_of(&yaml, &env);
    let aws = t.options.aws.as_ref().unwrap();
    assert_eq!(
        (
            aws.region.as_str(),
            aws.access_key_id.as_str(),
            aws.session_token.as_deref()
        ),
        ("eu-central-1", "AKIAENV", Some("env-token"))
    );
    assert_eq!(
        t.upstream.display,
        "https://bedrock-runtime.eu-central-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    );
    assert_eq!(
        t.options.stream_path.as_deref(),
        Some("/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream")
    );
    // Configured keys and region win over the environment; no session token goes with them.
    let own = one_target("route_type: llm/v1/chat\n      auth: {aws_access_key_id: AKIACONF, aws_secret_access_key: conf-secret}\n      model: {provider: bedrock, name: m, options: {bedrock: {aws_region: us-west-2, performance_config_latency: optimized}}}");
    let t = target_of(&own, &env);
    let aws = t.options.aws.as_ref().unwrap();
    assert_eq!(
        (
            aws.region.as_str(),
            aws.access_key_id.as_str(),
            aws.session_token.as_deref()
        ),
        ("us-west-2", "AKIACONF", None)
    );
    assert_eq!(t.options.bedrock_latency.as_deref(), Some("optimized"));
    let debug = format!("{t:?}");
    assert!(!debug.contains("conf-secret"), "{debug}");
    let role = one_target("route_type: llm/v1/chat\n      model: {provider: bedrock, name: m, options: {bedrock: {aws_assume_role_arn: 'arn:aws:iam::1:role/x'}}}");
    assert!(errors_env(&role, &env)
        .contains(&"plugins[0].config.targets[0].model.options.bedrock.aws_assume_role_arn: `aws_assume_role_arn` is not supported yet by llmux".to_string()));
}

#[test]
fn native_formats_pass_through_to_their_own_provider() {
    let yaml = "_format_version: \"3.0\"\nplugins:\n- name: ai-proxy-advanced\n  config:\n    llm_format: anthropic\n    targets:\n    - route_type: llm/v1/chat\n      model: {provider: anthropic, name: claude}\n    - route_type: llm/v1/embeddings\n      model: {provider: openai, name: gpt}\n";
    assert_eq!(
        errors_env(yaml, &[]),
        [
            "plugins[0].config.targets[1].model.provider: must be anthropic when llm_format is anthropic: native formats pass through to their own provider (translating anthropic to openai is not supported yet by llmux)",
            "plugins[0].config.targets[1].route_type: must be llm/v1/chat when llm_format is anthropic",
        ]
    );
    let ok = yaml.replace(
        "    - route_type: llm/v1/embeddings\n      model: {provider: openai, name: gpt}\n",
        "",
    );
    let l = load_env(&ok, &[]).unwrap();
    assert_eq!(l.config.catch_all.unwrap().llm_format, LlmFormat::Anthropic);
}

#[test]
fn route_types_per_provider() {
    let rt = |provider: &str, route: &str, extra: &str| {
        errors_env(
            &one_target(&format!(
                "route_type: {route}\n      model: {{provider: {provider}, name: m{extra}}}"
            )),
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "a"),
                ("AWS_SECRET_ACCESS_KEY", "b"),
            ],
        )
    };
    for p in ["openai", "xai"] {
        assert!(rt(p, "llm/v1/responses", "").is_empty(), "{p}");
    }
    assert!(rt(
        "azure",
        "llm/v1/responses",
        ", options: {azure_instance: i, azure_deployment_id: d}"
    )
    .is_empty());
    assert_eq!(
        rt("anthropic", "llm/v1/responses", ""),
        ["plugins[0].config.targets[0].route_type: `llm/v1/responses` is not supported yet by llmux for provider anthropic"]
    );
    assert_eq!(
        rt("bedrock", "llm/v1/embeddings", ""),
        ["plugins[0].config.targets[0].route_type: `llm/v1/embeddings` is not supported yet by llmux for provider bedrock"]
    );
    assert!(rt("dashscope", "llm/v1/embeddings", "").is_empty());
    assert!(rt("cohere", "llm/v1/embeddings", "").is_empty());
    assert!(rt(
        "ollama",
        "llm/v1/embeddings",
        ", options: {upstream_url: 'http://h/api/embed'}"
    )
    .is_empty());
    assert!(rt("gemini", "llm/v1/embeddings", "").is_empty());
    assert_eq!(
        rt("gemini", "llm/v1/embeddings", ", options: {gemini: {api_endpoint: a.b, project_id: p, location_id: l}}"),
        ["plugins[0].config.targets[0].model.options.gemini: llm/v1/embeddings on Vertex AI is not supported yet by llmux (Google AI Studio is)"]
    );
    assert_eq!(
        rt("anthropic", "llm/v1/embeddings", ""),
        ["plugins[0].config.targets[0].route_type: `llm/v1/embeddings` is not supported yet by llmux for provider anthropic"]
    );
    let t = target_of(
        &one_target("route_type: llm/v1/embeddings\n      model: {provider: gemini, name: text-embedding-004}"),
        &[],
    );
    assert_eq!(
        t.upstream.display,
        "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents"
    );
}

#[test]
fn ai_gateway_2_decks_load() {
    let yaml = r#"_format_version: "3.0"
_info:
  select_tags:
  - 'managed_by:deck-ai'
ai_models:
- alias: '@openai/gpt-5.2'
  name: gpt-5-2
plugins:
- config:
    body_path: model
    max_request_body_size: 8388608
    source: body
  name: ai-model-selector
  route: openai-chat
- config:
    balancer:
      algorithm: round-robin
    genai_category: text/generation
    llm_format: openai
    targets:
    - auth:
        header_name: Authorization
        header_value: 'Bearer sk'
      description: gpt-5.2
      logging:
        log_payloads: false
        log_statistics: true
      model:
        model_alias: '@openai/gpt-5.2'
        name: gpt-5.2
        options:
          max_tokens: 1024
          temperature: 1
        provider: openai
      route_type: llm/v1/chat
  model: gpt-5-2
  name: ai-proxy-advanced
  route: openai-chat
services:
- name: ai-gateway
  routes:
  - methods:
    - POST
    name: openai-chat
    paths:
    - /ai/chat/completions
    strip_path: false
  url: http://ai-gateway.upstream.local
"#;
    let l = load_env(yaml, &[]).unwrap_or_else(|e| panic!("{e}"));
    // Only `_info` warns: the model list, the selector and the plugin's `model` are understood.
    assert_eq!(
        l.warnings,
        ["t.yaml: _info: is not implemented by llmux and is ignored"]
    );
    let selector_by_header = yaml.replace("source: body", "source: header");
    let l = load_env(&selector_by_header, &[]).unwrap();
    assert!(
        l.warnings
            .iter()
            .any(|w| w
                .contains("plugin `ai-model-selector` is not implemented by llmux and is ignored")),
        "{:?}",
        l.warnings
    );
}

/// Every example in `config/` loads (any environment variable it names is set), and only
/// `_info` in the AI Gateway 2.x deck warns.
#[test]
fn example_configs_load() {
    let examples: [(&str, &str); 15] = [
        (
            "anthropic.yaml",
            include_str!("../../config/anthropic.yaml"),
        ),
        (
            "claude-code.yaml",
            include_str!("../../config/claude-code.yaml"),
        ),
        ("gemini.yaml", include_str!("../../config/gemini.yaml")),
        ("bedrock.yaml", include_str!("../../config/bedrock.yaml")),
        ("cohere.yaml", include_str!("../../config/cohere.yaml")),
        ("ollama.yaml", include_str!("../../config/ollama.yaml")),
        ("llama2.yaml", include_str!("../../config/llama2.yaml")),
        (
            "huggingface.yaml",
            include_str!("../../config/huggingface.yaml"),
        ),
        (
            "dashscope.yaml",
            include_str!("../../config/dashscope.yaml"),
        ),
        (
            "databricks.yaml",
            include_str!("../../config/databricks.yaml"),
        ),
        (
            "openai-compatible.yaml",
            include_str!("../../config/openai-compatible.yaml"),
        ),
        (
            "mixed-fleet.yaml",
            include_str!("../../config/mixed-fleet.yaml"),
        ),
        (
            "responses.yaml",
            include_str!("../../config/responses.yaml"),
        ),
        (
            "ai-gateway-2.yaml",
            include_str!("../../config/ai-gateway-2.yaml"),
        ),
        (
            "route-by-model-alias.yaml",
            include_str!("../../config/route-by-model-alias.yaml"),
        ),
    ];
    for (name, text) in examples {
        let l = load_str(text, name, &|var| {
            Some(
                if var.contains("REGION") {
                    "us-east-1"
                } else {
                    "value"
                }
                .to_string(),
            )
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected: &[&str] = if name == "ai-gateway-2.yaml" {
            &["ai-gateway-2.yaml: _info: is not implemented by llmux and is ignored"]
        } else {
            &[]
        };
        assert_eq!(l.warnings, expected, "{name}");
    }
}
