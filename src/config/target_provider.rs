//! The parts of a target that depend on its provider: its wire format, the route types that
//! wire can serve, options that have no effect on it, and Bedrock's signing settings (from the
//! config or the environment read at load).

use super::env::AwsEnv;
use super::error::Diag;
use super::types::{AwsSigning, Provider, RouteType, Wire};
use super::value::{get, get_str, join};
use serde_yaml_ng::Value;

/// The wire format from the provider and `llama2_format` / `mistral_format`.
pub(super) fn wire(
    provider: Provider,
    options: Option<&Value>,
    options_path: &str,
    d: &mut Diag,
) -> Option<Wire> {
    let opt = |k: &str| options.and_then(|o| get_str(o, k));
    Some(match provider {
        Provider::OpenAi
        | Provider::Azure
        | Provider::Deepseek
        | Provider::Xai
        | Provider::Cerebras
        | Provider::Vllm
        | Provider::Dashscope
        | Provider::Databricks
        | Provider::Huggingface => Wire::OpenAi,
        Provider::Mistral => match opt("mistral_format") {
            Some("ollama") => Wire::Ollama,
            _ => Wire::OpenAi,
        },
        Provider::Anthropic => Wire::Anthropic,
        Provider::Gemini => Wire::Gemini,
        Provider::Bedrock => Wire::Bedrock,
        Provider::Cohere => Wire::Cohere,
        Provider::Ollama => Wire::Ollama,
        Provider::Llama2 => match opt("llama2_format") {
            Some("raw") => Wire::Llama2Raw,
            Some("openai") => Wire::OpenAi,
            Some("ollama") => Wire::Ollama,
            _ => {
                d.err(
                    &join(options_path, "llama2_format"),
                    "is required for provider llama2 (raw, openai or ollama)",
                );
                return None;
            }
        },
    })
}

/// Route types a translated wire format can serve: chat everywhere; embeddings and completions
/// only where llmux translates them; the Responses API only on OpenAI, Azure and xAI (Kong's
/// list).
pub(super) fn check_route_type(
    provider: Provider,
    wire: Wire,
    rt: RouteType,
    path: &str,
    d: &mut Diag,
) {
    let ok = match rt {
        RouteType::Chat => true,
        RouteType::Responses => {
            matches!(provider, Provider::OpenAi | Provider::Azure | Provider::Xai)
        }
        RouteType::Completions => wire == Wire::OpenAi,
        RouteType::Embeddings => {
            matches!(
                wire,
                Wire::OpenAi | Wire::Gemini | Wire::Cohere | Wire::Ollama
            )
        }
    };
    if !ok {
        d.err(
            path,
            format!("`{rt}` is not supported yet by llmux for provider {provider}"),
        );
    }
}

/// Provider-specific options set on a target of another provider do nothing: say so once each,
/// so a misplaced key (a region on an OpenAI target) does not pass unnoticed.
pub(super) fn warn_irrelevant(
    provider: Provider,
    wire: Wire,
    options: Option<&Value>,
    options_path: &str,
    auth: Option<&Value>,
    auth_path: &str,
    d: &mut Diag,
) {
    let uses_top_k = matches!(
        wire,
        Wire::Anthropic | Wire::Gemini | Wire::Cohere | Wire::Ollama | Wire::Llama2Raw
    );
    let option_keys: [(&str, bool); 10] = [
        ("top_k", uses_top_k),
        ("anthropic_version", provider == Provider::Anthropic),
        ("llama2_format", provider == Provider::Llama2),
        ("mistral_format", provider == Provider::Mistral),
        ("bedrock", provider == Provider::Bedrock),
        ("gemini", provider == Provider::Gemini),
        ("huggingface", provider == Provider::Huggingface),
        ("cohere", provider == Provider::Cohere),
        ("dashscope", provider == Provider::Dashscope),
        ("databricks", provider == Provider::Databricks),
    ];
    let irrelevant = |d: &mut Diag, path: String| {
        d.warn(
            &path,
            format!("has no effect for provider {provider} and is ignored"),
        );
    };
    for (key, used) in option_keys {
        if !used && options.and_then(|o| get(o, key)).is_some() {
            irrelevant(d, join(options_path, key));
        }
    }
    if provider != Provider::Bedrock {
        for key in ["aws_access_key_id", "aws_secret_access_key"] {
            if auth.and_then(|a| get(a, key)).is_some() {
                irrelevant(d, join(auth_path, key));
            }
        }
    }
}

/// Bedrock's SigV4 settings: region from `model.options.bedrock.aws_region` or the environment,
/// keys from `auth.aws_access_key_id`/`aws_secret_access_key` or the environment (with its
/// session token). Missing pieces are load errors: every Bedrock request would fail.
pub(super) fn aws_signing(
    auth: Option<&Value>,
    auth_path: &str,
    options: Option<&Value>,
    options_path: &str,
    env: &AwsEnv,
    d: &mut Diag,
) -> Option<AwsSigning> {
    let region = options
        .and_then(|o| get(o, "bedrock"))
        .and_then(|b| get_str(b, "aws_region"))
        .map(str::to_string)
        .or_else(|| env.region.clone());
    let key = |k: &str| auth.and_then(|a| get_str(a, k));
    let keys = match (key("aws_access_key_id"), key("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Some((id.to_string(), secret.to_string(), None)),
        (None, None) => match (&env.access_key_id, &env.secret_access_key) {
            (Some(id), Some(secret)) => {
                Some((id.clone(), secret.clone(), env.session_token.clone()))
            }
            _ => {
                d.err(
                    auth_path,
                    "AWS credentials not found: set `aws_access_key_id` and `aws_secret_access_key`, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
                );
                None
            }
        },
        _ => {
            d.err(
                auth_path,
                "all or none of `aws_access_key_id`, `aws_secret_access_key` must be set",
            );
            None
        }
    };
    let Some(region) = region else {
        d.err(
            &join(options_path, "bedrock.aws_region"),
            "AWS region not specified anywhere (set it here, or AWS_REGION or AWS_DEFAULT_REGION)",
        );
        return None;
    };
    let (access_key_id, secret_access_key, session_token) = keys?;
    for (name, value) in [
        ("aws_access_key_id", &access_key_id),
        ("aws_secret_access_key", &secret_access_key),
    ] {
        if value.contains(['\r', '\n']) || value.trim().is_empty() {
            d.err(&join(auth_path, name), "is empty or contains a line break");
        }
    }
    Some(AwsSigning {
        region,
        access_key_id,
        secret_access_key,
        session_token,
    })
}
