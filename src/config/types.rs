//! The typed, validated configuration of one AI proxy plugin, as the rest of llmux uses it.
//! `Debug` of everything that can hold a secret prints `<redacted>` instead.

use super::target_id::TargetKey;
use std::fmt;
use std::sync::Arc;

pub(crate) const REDACTED: &str = "<redacted>";

/// One `ai-proxy-advanced` (or `ai-proxy`) plugin instance, with Kong's defaults applied.
#[derive(Debug, Clone)]
pub struct AiProxyConfig {
    /// The plugin's `id` from YAML, else its `instance_name`, else a stable id built from its
    /// scope (`ai-proxy-advanced@global`, `...@route:NAME`, `...@service:NAME`).
    pub id: String,
    /// Position among the configuration's distinct AI plugins ([`GatewayConfig::plugins`]), so
    /// per-plugin worker state is found by index rather than by hashing the id.
    ///
    /// [`GatewayConfig::plugins`]: super::GatewayConfig::plugins
    pub slot: usize,
    /// `ai-proxy-advanced` or `ai-proxy` (the latter is read as one target, default balancer).
    pub plugin_name: &'static str,
    /// Where it applies, for humans: `global`, `service NAME`, `route NAME`,
    /// `route NAME + service NAME`.
    pub scope: String,
    pub balancer: BalancerConfig,
    pub targets: Vec<TargetConfig>,
    /// Which targets each `model` reaches.
    pub candidates: super::CandidateIndex,
    /// Default 1048576; Kong's `0` (unlimited) is `usize::MAX`.
    pub max_request_body_size: usize,
    pub model_name_header: bool,
    pub response_streaming: ResponseStreaming,
    /// True when any target has `logging.log_statistics` (Kong 3.14 sets logging per target).
    pub log_statistics: bool,
    /// True when any target has `logging.log_payloads`.
    pub log_payloads: bool,
    /// The API clients speak: `openai` (translated to each target's provider) or a provider's
    /// own (passed through to targets of that provider).
    pub llm_format: LlmFormat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancerConfig {
    pub algorithm: Algorithm,
    pub tokens_count_strategy: TokensCountStrategy,
    pub latency_strategy: LatencyStrategy,
    pub retries: u32,
    pub failover_criteria: Vec<FailoverCriterion>,
    pub connect_timeout_ms: u64,
    pub read_timeout_ms: u64,
    pub write_timeout_ms: u64,
    pub max_fails: u32,
    pub fail_timeout_ms: u64,
    pub hash_on_header: String,
    pub slots: u32,
}

impl Default for BalancerConfig {
    /// Kong's defaults.
    fn default() -> Self {
        BalancerConfig {
            algorithm: Algorithm::RoundRobin,
            tokens_count_strategy: TokensCountStrategy::TotalTokens,
            latency_strategy: LatencyStrategy::Tpot,
            retries: 5,
            failover_criteria: vec![FailoverCriterion::Error, FailoverCriterion::Timeout],
            connect_timeout_ms: 60_000,
            read_timeout_ms: 60_000,
            write_timeout_ms: 60_000,
            max_fails: 0,
            fail_timeout_ms: 10_000,
            hash_on_header: "X-Kong-LLM-Request-ID".to_string(),
            slots: 10_000,
        }
    }
}

/// Kong's spelling of an enum value, both ways.
macro_rules! kong_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The value as written in Kong's configuration.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub(crate) fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

kong_enum!(Algorithm {
    RoundRobin = "round-robin",
    LowestUsage = "lowest-usage",
    LowestLatency = "lowest-latency",
    LeastConnections = "least-connections",
    ConsistentHashing = "consistent-hashing",
    Priority = "priority",
});

kong_enum!(TokensCountStrategy {
    TotalTokens = "total-tokens",
    PromptTokens = "prompt-tokens",
    CompletionTokens = "completion-tokens",
    Cost = "cost",
});

kong_enum!(LatencyStrategy {
    Tpot = "tpot",
    E2e = "e2e",
});

/// One entry of `balancer.failover_criteria` (nginx's `proxy_next_upstream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailoverCriterion {
    Error,
    Timeout,
    InvalidHeader,
    /// `http_403`, `http_404`, `http_429`, `http_500`, `http_502`, `http_503`, `http_504`: the
    /// upstream answered with this status.
    Http(u16),
    NonIdempotent,
}

impl FailoverCriterion {
    /// The statuses Kong accepts as `http_NNN`.
    pub const HTTP_STATUSES: [u16; 7] = [403, 404, 429, 500, 502, 503, 504];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "error" => Some(FailoverCriterion::Error),
            "timeout" => Some(FailoverCriterion::Timeout),
            "invalid_header" => Some(FailoverCriterion::InvalidHeader),
            "non_idempotent" => Some(FailoverCriterion::NonIdempotent),
            _ => s
                .strip_prefix("http_")
                .and_then(|code| code.parse::<u16>().ok())
                .filter(|code| Self::HTTP_STATUSES.contains(code))
                .map(FailoverCriterion::Http),
        }
    }
}

impl fmt::Display for FailoverCriterion {
    /// As written in Kong's configuration (`http_429`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailoverCriterion::Error => f.write_str("error"),
            FailoverCriterion::Timeout => f.write_str("timeout"),
            FailoverCriterion::InvalidHeader => f.write_str("invalid_header"),
            FailoverCriterion::Http(code) => write!(f, "http_{code}"),
            FailoverCriterion::NonIdempotent => f.write_str("non_idempotent"),
        }
    }
}

kong_enum!(RouteType {
    Chat = "llm/v1/chat",
    Completions = "llm/v1/completions",
    Embeddings = "llm/v1/embeddings",
    Responses = "llm/v1/responses",
});

impl AiProxyConfig {
    /// A copy that shares no `Arc` with `self` (target keys included), for one worker core.
    pub(crate) fn per_core_copy(&self) -> AiProxyConfig {
        let mut copy = self.clone();
        for t in &mut copy.targets {
            t.key = Arc::new(super::target_id::TargetId::clone(&t.key));
        }
        copy
    }
}

kong_enum!(
    /// Kong's `model.provider`: every provider `ai-proxy-advanced` speaks.
    Provider {
        OpenAi = "openai",
        Azure = "azure",
        Mistral = "mistral",
        Deepseek = "deepseek",
        Xai = "xai",
        Cerebras = "cerebras",
        Vllm = "vllm",
        Anthropic = "anthropic",
        Bedrock = "bedrock",
        Cohere = "cohere",
        Dashscope = "dashscope",
        Databricks = "databricks",
        Gemini = "gemini",
        Huggingface = "huggingface",
        Llama2 = "llama2",
        Ollama = "ollama",
    }
);

kong_enum!(
    /// `config.llm_format`: the API the clients of a plugin speak.
    LlmFormat {
        OpenAi = "openai",
        Anthropic = "anthropic",
        Bedrock = "bedrock",
        Cohere = "cohere",
        Gemini = "gemini",
        Huggingface = "huggingface",
    }
);

impl LlmFormat {
    /// The provider whose own API a native format is (`None` for `openai`).
    pub fn native_provider(self) -> Option<Provider> {
        match self {
            LlmFormat::OpenAi => None,
            LlmFormat::Anthropic => Some(Provider::Anthropic),
            LlmFormat::Bedrock => Some(Provider::Bedrock),
            LlmFormat::Cohere => Some(Provider::Cohere),
            LlmFormat::Gemini => Some(Provider::Gemini),
            LlmFormat::Huggingface => Some(Provider::Huggingface),
        }
    }
}

/// The wire format a target is spoken to in, decided at load from its provider and options
/// (`llama2_format`, `mistral_format`): which driver builds its requests and reads its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// OpenAI's chat/completions/embeddings/responses API (openai, azure, mistral, deepseek, xai,
    /// cerebras, vllm, dashscope, databricks, huggingface, llama2 `openai`).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Gemini's generateContent (Google AI Studio or Vertex AI).
    Gemini,
    /// Bedrock's Converse/ConverseStream, signed with SigV4.
    Bedrock,
    /// Cohere's v2 chat.
    Cohere,
    /// Ollama's native `/api/chat` (ollama, llama2 and mistral with format `ollama`).
    Ollama,
    /// A raw `[INST]` prompt with Hugging Face text-generation parameters (llama2 `raw`).
    Llama2Raw,
}

kong_enum!(ResponseStreaming {
    Allow = "allow",
    Deny = "deny",
    Always = "always",
});

impl RouteType {
    /// The path of this operation on OpenAI-style APIs (`/v1/chat/completions` ...).
    pub fn openai_path(self) -> &'static str {
        match self {
            RouteType::Chat => "/v1/chat/completions",
            RouteType::Completions => "/v1/completions",
            RouteType::Embeddings => "/v1/embeddings",
            RouteType::Responses => "/v1/responses",
        }
    }
}

/// One entry of `config.targets`.
#[derive(Clone)]
pub struct TargetConfig {
    /// Position in `config.targets` (0-based); ties in balancing go to the lower index.
    pub index: usize,
    /// Identity across cores and reloads, for counters and labels.
    pub key: TargetKey,
    pub route_type: RouteType,
    pub provider: Provider,
    pub model_name: Option<String>,
    pub model_alias: Option<String>,
    pub weight: u32,
    /// Body defaults from `model.options`, as (key, JSON literal), only those set, in the order
    /// `max_tokens`, `temperature`, `top_p`.
    pub defaults: Vec<(&'static str, String)>,
    pub input_cost: Option<f64>,
    pub output_cost: Option<f64>,
    pub upstream: UpstreamUrl,
    pub auth: Auth,
    /// How the target is spoken to (from its provider and format options).
    pub wire: Wire,
    /// Provider options beyond the OpenAI ones (`anthropic_version`, `top_k`, the streaming
    /// path, AWS signing...).
    pub options: ProviderOptions,
    pub description: Option<String>,
    /// `logging.log_statistics` of this target.
    pub log_statistics: bool,
    /// `logging.log_payloads` of this target.
    pub log_payloads: bool,
}

impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetConfig")
            .field("index", &self.index)
            .field("key", &self.key)
            .field("route_type", &self.route_type)
            .field("provider", &self.provider)
            .field("model_name", &self.model_name)
            .field("model_alias", &self.model_alias)
            .field("weight", &self.weight)
            .field("defaults", &self.defaults)
            .field("input_cost", &self.input_cost)
            .field("output_cost", &self.output_cost)
            .field("upstream", &self.upstream)
            .field("auth", &self.auth)
            .field("wire", &self.wire)
            .field("options", &self.options)
            .field("description", &self.description)
            .field("log_statistics", &self.log_statistics)
            .field("log_payloads", &self.log_payloads)
            .finish()
    }
}

/// Where a target's requests go. No DNS lookup has been done.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    pub tls: bool,
    /// Host name or IP address, without brackets for IPv6.
    pub host: String,
    pub port: u16,
    /// Path and query; an `auth.param_location: query` parameter is already appended,
    /// url-encoded. It can therefore hold a secret: never log it, log `display`.
    pub path_and_query: String,
    /// The `Host` header: `host`, or `host:port` when the port is not the scheme's default.
    pub host_header: String,
    /// The URL for logs and messages, with the auth query parameter's value redacted.
    pub display: String,
}

impl fmt::Debug for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UpstreamUrl({})", self.display)
    }
}

/// What a translating driver needs beyond [`TargetConfig`]'s common fields, resolved at load.
#[derive(Clone, Default, PartialEq)]
pub struct ProviderOptions {
    /// `model.options.top_k`: a default, like `max_tokens` (the client's value wins).
    pub top_k: Option<i64>,
    /// Anthropic's `anthropic-version` header (`model.options.anthropic_version`).
    pub anthropic_version: String,
    /// Path and query for streamed requests when they differ from `upstream.path_and_query`
    /// (Gemini's `:streamGenerateContent?alt=sse`, Bedrock's `/converse-stream`).
    pub stream_path: Option<String>,
    /// Gemini and Bedrock name the model in the path: the path up to the model (Gemini
    /// `/v1beta/models/`, Bedrock `/model/`), so native-format requests can name the method.
    pub model_path_prefix: Option<String>,
    /// Bedrock's SigV4 signing (region and credentials).
    pub aws: Option<AwsSigning>,
    /// Bedrock `model.options.bedrock.performance_config_latency`.
    pub bedrock_latency: Option<String>,
    /// Hugging Face `model.options.huggingface` `use_cache` / `wait_for_model`, sent as
    /// `x-use-cache` / `x-wait-for-model` headers.
    pub hf_use_cache: Option<bool>,
    pub hf_wait_for_model: Option<bool>,
    /// Cohere embeddings' `input_type` (`model.options.cohere.embedding_input_type`).
    pub embedding_input_type: Option<String>,
}

impl fmt::Debug for ProviderOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderOptions")
            .field("top_k", &self.top_k)
            .field("anthropic_version", &self.anthropic_version)
            .field("stream_path", &self.stream_path)
            .field("model_path_prefix", &self.model_path_prefix)
            .field("aws", &self.aws)
            .field("bedrock_latency", &self.bedrock_latency)
            .field("hf_use_cache", &self.hf_use_cache)
            .field("hf_wait_for_model", &self.hf_wait_for_model)
            .field("embedding_input_type", &self.embedding_input_type)
            .finish()
    }
}

/// Everything SigV4 needs, resolved once at load: `model.options.bedrock.aws_region` or
/// `AWS_REGION`/`AWS_DEFAULT_REGION`, and `auth.aws_access_key_id`/`aws_secret_access_key` or
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsSigning {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsSigning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSigning")
            .field("region", &self.region)
            .field("access_key_id", &REDACTED)
            .field("secret_access_key", &REDACTED)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

/// How llmux authenticates to a target.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// `(header_name, header_value)`: replaces the client's header of that name unless
    /// `allow_override` and the client sent one.
    pub header: Option<(String, String)>,
    pub allow_override: bool,
    /// `(param_name, param_value)` for `param_location: body`, the value already written as a
    /// JSON string literal (quotes and escapes included).
    pub body_param: Option<(String, String)>,
    /// The name (only) of the `param_location: query` parameter already in the upstream URL.
    pub query_param_name: Option<String>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = self.header.as_ref().map(|(n, _)| (n.as_str(), REDACTED));
        let body = self
            .body_param
            .as_ref()
            .map(|(n, _)| (n.as_str(), REDACTED));
        f.debug_struct("Auth")
            .field("header", &header)
            .field("allow_override", &self.allow_override)
            .field("body_param", &body)
            .field("query_param_name", &self.query_param_name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for a in [
            "round-robin",
            "lowest-usage",
            "priority",
            "consistent-hashing",
        ] {
            assert_eq!(Algorithm::parse(a).map(Algorithm::as_str), Some(a));
        }
        assert_eq!(Algorithm::parse("semantic"), None);
        assert_eq!(Provider::OpenAi.to_string(), "openai");
        assert_eq!(RouteType::Embeddings.openai_path(), "/v1/embeddings");
        assert_eq!(BalancerConfig::default().failover_criteria.len(), 2);
        for c in super::super::kong_schema::FAILOVER_CRITERIA {
            let parsed = FailoverCriterion::parse(c).unwrap();
            assert_eq!(parsed.to_string(), *c);
        }
        assert_eq!(
            FailoverCriterion::parse("http_429"),
            Some(FailoverCriterion::Http(429))
        );
        assert_eq!(FailoverCriterion::parse("http_418"), None);
    }

    #[test]
    fn auth_debug_redacts() {
        let a = Auth {
            header: Some(("Authorization".into(), "Bearer sk-123".into())),
            allow_override: false,
            body_param: Some(("key".into(), "sk-456".into())),
            query_param_name: None,
        };
        let s = format!("{a:?}");
        assert!(s.contains("Authorization") && s.contains(REDACTED), "{s}");
        assert!(!s.contains("sk-123") && !s.contains("sk-456"), "{s}");
    }
}
