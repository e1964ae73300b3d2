//! Each provider's own URL (Kong's defaults) for a route type, and the variants streaming and
//! native requests need: Gemini's `:streamGenerateContent?alt=sse`, Bedrock's `/converse-stream`,
//! and the path prefix before the model for clients that name the model in the path.

use super::types::{Provider, RouteType};
use super::upstream_url::encode;

/// Azure OpenAI's coordinates from `model.options`.
pub(crate) struct Azure<'a> {
    pub instance: &'a str,
    pub deployment_id: &'a str,
    pub api_version: &'a str,
}

/// Vertex AI's coordinates from `model.options.gemini`.
pub(crate) struct Vertex<'a> {
    pub api_endpoint: &'a str,
    pub project_id: &'a str,
    pub location_id: &'a str,
}

/// What a provider's default URL is built from (`model.options` and `model.name`).
#[derive(Default)]
pub(crate) struct UrlParts<'a> {
    pub azure: Option<Azure<'a>>,
    /// `model.name`, for providers that name the model in the path.
    pub model: Option<&'a str>,
    pub vertex: Option<Vertex<'a>>,
    /// Bedrock's region (already resolved from options or the environment).
    pub aws_region: Option<&'a str>,
    /// DashScope `international` (default true).
    pub dashscope_international: Option<bool>,
    /// Databricks `workspace_instance_id`.
    pub databricks_instance: Option<&'a str>,
}

/// Why a provider has no default URL: the `model.options` key (or `model.name`, as `name`) that is
/// missing or wrong, and what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UrlError {
    pub key: &'static str,
    pub message: String,
}

fn missing(key: &'static str, message: impl Into<String>) -> UrlError {
    UrlError {
        key,
        message: message.into(),
    }
}

/// A DNS name (labels of letters, digits and `-`, dots between), for hosts built from options.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The provider's own URL for this route type (Kong's defaults). `Err` names what is missing.
pub(crate) fn provider_url(
    provider: Provider,
    route_type: RouteType,
    parts: &UrlParts<'_>,
) -> Result<String, UrlError> {
    let openai_path = route_type.openai_path();
    let model = || {
        parts.model.map(encode).ok_or_else(|| {
            missing(
                "name",
                format!("is required for provider {provider} (the model is part of its URL)"),
            )
        })
    };
    let url = match provider {
        Provider::OpenAi => format!("https://api.openai.com{openai_path}"),
        Provider::Mistral => format!("https://api.mistral.ai{openai_path}"),
        Provider::Deepseek => format!("https://api.deepseek.com{openai_path}"),
        Provider::Xai => format!("https://api.x.ai{openai_path}"),
        Provider::Cerebras => format!("https://api.cerebras.ai{openai_path}"),
        Provider::Vllm | Provider::Ollama | Provider::Llama2 => {
            return Err(missing(
                "upstream_url",
                format!("is required for provider {provider} (a self-hosted server)"),
            ))
        }
        Provider::Azure => {
            let Some(az) = &parts.azure else {
                return Err(missing(
                    "azure_instance",
                    "azure needs azure_instance and azure_deployment_id",
                ));
            };
            let label_ok = !az.instance.is_empty()
                && az.instance.len() <= 63
                && az
                    .instance
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !label_ok {
                return Err(missing(
                    "azure_instance",
                    "azure_instance must be a DNS label (letters, digits, `-`)",
                ));
            }
            let host = format!("https://{}.openai.azure.com", az.instance);
            let version = encode(az.api_version);
            if route_type == RouteType::Responses {
                return Ok(format!("{host}/openai/v1/responses?api-version={version}"));
            }
            let op = match route_type {
                RouteType::Chat => "chat/completions",
                RouteType::Completions => "completions",
                _ => "embeddings",
            };
            format!(
                "{host}/openai/deployments/{}/{op}?api-version={version}",
                encode(az.deployment_id)
            )
        }
        Provider::Anthropic => "https://api.anthropic.com/v1/messages".to_string(),
        Provider::Cohere => match route_type {
            RouteType::Embeddings => "https://api.cohere.com/v2/embed".to_string(),
            _ => "https://api.cohere.com/v2/chat".to_string(),
        },
        Provider::Gemini => {
            let model = model()?;
            let method = match route_type {
                RouteType::Embeddings if parts.vertex.is_some() => {
                    return Err(missing(
                        "gemini",
                        "llm/v1/embeddings on Vertex AI is not supported yet by llmux (Google AI Studio is)",
                    ))
                }
                RouteType::Embeddings => "batchEmbedContents",
                _ => "generateContent",
            };
            match &parts.vertex {
                Some(v) => {
                    if !is_dns_name(v.api_endpoint) {
                        return Err(missing(
                            "gemini.api_endpoint",
                            "must be a host name (e.g. us-central1-aiplatform.googleapis.com)",
                        ));
                    }
                    format!(
                        "https://{}/v1/projects/{}/locations/{}/publishers/google/models/{model}:{method}",
                        v.api_endpoint,
                        encode(v.project_id),
                        encode(v.location_id)
                    )
                }
                None => format!(
                    "https://generativelanguage.googleapis.com/v1beta/models/{model}:{method}"
                ),
            }
        }
        Provider::Bedrock => {
            let model = model()?;
            let Some(region) = parts.aws_region else {
                return Err(missing(
                    "bedrock.aws_region",
                    "AWS region not specified anywhere (set model.options.bedrock.aws_region, AWS_REGION or AWS_DEFAULT_REGION)",
                ));
            };
            if !is_dns_name(region) {
                return Err(missing(
                    "bedrock.aws_region",
                    "must be an AWS region name (e.g. us-east-1)",
                ));
            }
            format!("https://bedrock-runtime.{region}.amazonaws.com/model/{model}/converse")
        }
        Provider::Huggingface => {
            let model = parts.model.ok_or_else(|| {
                missing(
                    "name",
                    "is required for provider huggingface (the model is part of its URL)",
                )
            })?;
            // Repository ids are `owner/name`: the slash stays, everything else is encoded.
            let model: Vec<String> = model.split('/').map(encode).collect();
            format!(
                "https://api-inference.huggingface.co/models/{}{openai_path}",
                model.join("/")
            )
        }
        Provider::Dashscope => {
            let host = if parts.dashscope_international.unwrap_or(true) {
                "dashscope-intl.aliyuncs.com"
            } else {
                "dashscope.aliyuncs.com"
            };
            let op = match route_type {
                RouteType::Embeddings => "embeddings",
                RouteType::Completions => "completions",
                _ => "chat/completions",
            };
            format!("https://{host}/compatible-mode/v1/{op}")
        }
        Provider::Databricks => {
            let Some(instance) = parts.databricks_instance else {
                return Err(missing(
                    "databricks.workspace_instance_id",
                    "is required for provider databricks without upstream_url",
                ));
            };
            if !is_dns_name(instance) {
                return Err(missing(
                    "databricks.workspace_instance_id",
                    "must be a DNS label (letters, digits, `-`)",
                ));
            }
            format!("https://{instance}.cloud.databricks.com/serving-endpoints{openai_path}")
        }
    };
    Ok(url)
}

/// The path streamed requests use when it differs from the plain one: Gemini swaps
/// `:generateContent` for `:streamGenerateContent` and asks for SSE (`alt=sse`), Bedrock swaps
/// `/converse` for `/converse-stream`. Applied to `upstream_url` paths too.
pub(crate) fn stream_path(provider: Provider, path_and_query: &str) -> Option<String> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    match provider {
        Provider::Gemini => {
            let base = path.strip_suffix(":generateContent")?;
            let mut out = format!("{base}:streamGenerateContent?alt=sse");
            for pair in query.into_iter().flat_map(|q| q.split('&')) {
                if !pair.is_empty() && pair != "alt=sse" && !pair.starts_with("alt=") {
                    out.push('&');
                    out.push_str(pair);
                }
            }
            Some(out)
        }
        Provider::Bedrock => {
            let base = path.strip_suffix("/converse")?;
            Some(match query {
                Some(q) => format!("{base}/converse-stream?{q}"),
                None => format!("{base}/converse-stream"),
            })
        }
        _ => None,
    }
}

/// Where the model segment of a Gemini or Bedrock path starts (`.../models/` or `/model/`),
/// so a native-format request can name its own model and method after it.
pub(crate) fn model_path_prefix(provider: Provider, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let marker = match provider {
        Provider::Gemini => "/models/",
        Provider::Bedrock => "/model/",
        _ => return None,
    };
    let at = path.rfind(marker)?;
    Some(path[..at + marker.len()].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(provider: Provider, route_type: RouteType, parts: UrlParts<'_>) -> String {
        provider_url(provider, route_type, &parts).unwrap()
    }

    #[test]
    fn provider_urls() {
        let chat = RouteType::Chat;
        let none = || UrlParts::default();
        assert_eq!(
            url(Provider::OpenAi, chat, none()),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            url(Provider::Xai, RouteType::Embeddings, none()),
            "https://api.x.ai/v1/embeddings"
        );
        assert_eq!(
            url(Provider::Xai, RouteType::Responses, none()),
            "https://api.x.ai/v1/responses"
        );
        assert_eq!(
            url(Provider::Cerebras, RouteType::Completions, none()),
            "https://api.cerebras.ai/v1/completions"
        );
        let az = |dep| UrlParts {
            azure: Some(Azure {
                instance: "my-inst",
                deployment_id: dep,
                api_version: "2023-05-15",
            }),
            ..UrlParts::default()
        };
        assert_eq!(
            url(Provider::Azure, chat, az("gpt4o")),
            "https://my-inst.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2023-05-15"
        );
        assert_eq!(
            url(Provider::Azure, RouteType::Embeddings, az("a/b")),
            "https://my-inst.openai.azure.com/openai/deployments/a%2Fb/embeddings?api-version=2023-05-15"
        );
        assert_eq!(
            url(Provider::Azure, RouteType::Responses, az("d")),
            "https://my-inst.openai.azure.com/openai/v1/responses?api-version=2023-05-15"
        );
        let bad = UrlParts {
            azure: Some(Azure {
                instance: "x.evil.com/",
                deployment_id: "d",
                api_version: "v",
            }),
            ..UrlParts::default()
        };
        assert!(provider_url(Provider::Azure, chat, &bad).is_err());
        assert_eq!(
            provider_url(Provider::Vllm, chat, &none()).unwrap_err().key,
            "upstream_url"
        );
    }

    #[test]
    fn translated_provider_urls() {
        let chat = RouteType::Chat;
        let model = |m| UrlParts {
            model: Some(m),
            ..UrlParts::default()
        };
        assert_eq!(
            url(Provider::Anthropic, chat, UrlParts::default()),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            url(Provider::Cohere, chat, UrlParts::default()),
            "https://api.cohere.com/v2/chat"
        );
        assert_eq!(
            url(Provider::Gemini, chat, model("gemini-2.0-flash")),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
        );
        let vertex = UrlParts {
            model: Some("gemini-2.5-pro"),
            vertex: Some(Vertex {
                api_endpoint: "us-central1-aiplatform.googleapis.com",
                project_id: "my-proj",
                location_id: "us-central1",
            }),
            ..UrlParts::default()
        };
        assert_eq!(
            url(Provider::Gemini, chat, vertex),
            "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"
        );
        let bedrock = UrlParts {
            model: Some("anthropic.claude-3-5-sonnet-20240620-v1:0"),
            aws_region: Some("eu-west-1"),
            ..UrlParts::default()
        };
        assert_eq!(
            url(Provider::Bedrock, chat, bedrock),
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
        );
        let no_region = provider_url(Provider::Bedrock, chat, &model("m")).unwrap_err();
        assert_eq!(no_region.key, "bedrock.aws_region");
        assert!(no_region
            .message
            .contains("AWS region not specified anywhere"));
        assert_eq!(
            provider_url(Provider::Gemini, chat, &UrlParts::default())
                .unwrap_err()
                .key,
            "name"
        );
        assert_eq!(
            url(Provider::Huggingface, chat, model("meta-llama/Llama-3.1-8B-Instruct")),
            "https://api-inference.huggingface.co/models/meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions"
        );
        assert_eq!(
            url(Provider::Dashscope, chat, UrlParts::default()),
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"
        );
        let cn = UrlParts {
            dashscope_international: Some(false),
            ..UrlParts::default()
        };
        assert_eq!(
            url(Provider::Dashscope, RouteType::Embeddings, cn),
            "https://dashscope.aliyuncs.com/compatible-mode/v1/embeddings"
        );
        let dbx = UrlParts {
            databricks_instance: Some("dbc-1234"),
            ..UrlParts::default()
        };
        assert_eq!(
            url(Provider::Databricks, chat, dbx),
            "https://dbc-1234.cloud.databricks.com/serving-endpoints/v1/chat/completions"
        );
        for p in [Provider::Ollama, Provider::Llama2] {
            assert_eq!(
                provider_url(p, chat, &UrlParts::default()).unwrap_err().key,
                "upstream_url"
            );
        }
    }

    #[test]
    fn stream_paths_and_model_prefixes() {
        assert_eq!(
            stream_path(Provider::Gemini, "/v1beta/models/g:generateContent?key=k").as_deref(),
            Some("/v1beta/models/g:streamGenerateContent?alt=sse&key=k")
        );
        assert_eq!(
            stream_path(Provider::Gemini, "/v1beta/models/g:generateContent").as_deref(),
            Some("/v1beta/models/g:streamGenerateContent?alt=sse")
        );
        assert_eq!(stream_path(Provider::Gemini, "/custom/path"), None);
        assert_eq!(
            stream_path(Provider::Bedrock, "/model/m%3A0/converse").as_deref(),
            Some("/model/m%3A0/converse-stream")
        );
        assert_eq!(stream_path(Provider::Anthropic, "/v1/messages"), None);
        assert_eq!(
            model_path_prefix(Provider::Gemini, "/v1beta/models/g:generateContent").as_deref(),
            Some("/v1beta/models/")
        );
        assert_eq!(
            model_path_prefix(Provider::Bedrock, "/model/m/converse").as_deref(),
            Some("/model/")
        );
    }
}
