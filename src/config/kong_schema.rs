//! Kong Gateway 3.14's `ai-proxy-advanced` and `ai-proxy` plugin configuration schemas, as
//! published in Kong's developer docs (`app/_schemas/gateway/plugins/3.14/*.json`), with Kong's
//! defaults and required keys, annotated with what llmux does with each key.
//! `docs/config-reference.md` is the prose version of this file; [`PLUGINS`] is the list the
//! loader and the Admin API (`/schemas/plugins/{name}`, defaults in plugin answers) read.
//!
//! Which records Kong requires (and so shows with their defaults when unset) follows Kong's
//! open-source `ai-proxy` schema: `model` and `logging` are required, `auth` and `model.options`
//! are not; `ai-proxy-advanced`'s `balancer` is required, `embeddings` is not (docs/decisions.md).

use super::access::schema as access;
use super::schema::{f, int, num, one_of, Dflt, Sup::*, Ty, ANY, BOOL, F, STR};

/// A plugin llmux knows, by Kong's name, with its `config` schema.
pub(crate) struct PluginSchema {
    pub name: &'static str,
    pub config: &'static [F],
}

/// The plugins llmux knows. A plugin of another name in a decK file loads with one warning.
pub(crate) const PLUGINS: &[PluginSchema] = &[
    PluginSchema {
        name: "acl",
        config: access::ACL,
    },
    PluginSchema {
        name: "ai-proxy",
        config: AI_PROXY,
    },
    PluginSchema {
        name: "ai-proxy-advanced",
        config: AI_PROXY_ADVANCED,
    },
    PluginSchema {
        name: "ai-rate-limiting-advanced",
        config: access::AI_RATE_LIMITING_ADVANCED,
    },
    PluginSchema {
        name: "key-auth",
        config: access::KEY_AUTH,
    },
    PluginSchema {
        name: "rate-limiting",
        config: access::RATE_LIMITING,
    },
];

/// The `config` schema of plugin `name`, if llmux knows it.
pub(crate) fn plugin_config(name: &str) -> Option<&'static [F]> {
    PLUGINS.iter().find(|p| p.name == name).map(|p| p.config)
}

const AZURE_API_VERSION: Dflt = Dflt::Str("2023-05-15");

pub(crate) const TIMEOUT: Ty = int(1, 2_147_483_646);

pub(crate) const PROVIDERS_KONG: &[&str] = &[
    "anthropic",
    "azure",
    "bedrock",
    "cerebras",
    "cohere",
    "dashscope",
    "databricks",
    "deepseek",
    "gemini",
    "huggingface",
    "llama2",
    "mistral",
    "ollama",
    "openai",
    "vllm",
    "xai",
];
pub(crate) const PROVIDERS_LLMUX: &[&str] = PROVIDERS_KONG;

pub(crate) const ROUTE_TYPES_KONG: &[&str] = &[
    "audio/v1/audio/speech",
    "audio/v1/audio/transcriptions",
    "audio/v1/audio/translations",
    "image/v1/images/edits",
    "image/v1/images/generations",
    "llm/v1/assistants",
    "llm/v1/batches",
    "llm/v1/chat",
    "llm/v1/completions",
    "llm/v1/embeddings",
    "llm/v1/files",
    "llm/v1/responses",
    "preserve",
    "realtime/v1/realtime",
    "video/v1/videos/generations",
];
pub(crate) const ROUTE_TYPES_LLMUX: &[&str] = &[
    "llm/v1/chat",
    "llm/v1/completions",
    "llm/v1/embeddings",
    "llm/v1/responses",
];

pub(crate) const FAILOVER_CRITERIA: &[&str] = &[
    "error",
    "timeout",
    "invalid_header",
    "http_403",
    "http_404",
    "http_429",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "non_idempotent",
];

const AUTH: &[F] = &[
    f("header_name", STR, Use),
    f("header_value", STR, Use),
    f("param_name", STR, Use),
    f("param_value", STR, Use),
    f("param_location", one_of(&["query", "body"]), Use),
    f("allow_override", BOOL, Use).default(Dflt::Bool(false)),
    // `true` is refused while building (no managed identities / service accounts yet).
    f("azure_use_managed_identity", BOOL, Use).default(Dflt::Bool(false)),
    f("gcp_use_service_account", BOOL, Use).default(Dflt::Bool(false)),
    f("azure_client_id", STR, Warn),
    f("azure_client_secret", STR, Warn),
    f("azure_tenant_id", STR, Warn),
    f("gcp_service_account_json", STR, Warn),
    f("gcp_metadata_url", STR, Warn),
    f("gcp_oauth_token_url", STR, Warn),
    // Bedrock's SigV4 keys (else the AWS_* environment variables, read at load).
    f("aws_access_key_id", STR, Use),
    f("aws_secret_access_key", STR, Use),
];

/// `model.options.bedrock` of a chat target.
const BEDROCK: &[F] = &[
    f("aws_region", STR, Use),
    // Assuming a role needs an STS call llmux does not make; signing with the base keys instead
    // would be refused by AWS, so these are errors rather than warnings.
    f("aws_assume_role_arn", STR, Reject),
    f("aws_role_session_name", STR, Reject),
    f("aws_sts_endpoint_url", STR, Reject),
    f("batch_bucket_prefix", STR, Warn),
    f("batch_role_arn", STR, Warn),
    f("embeddings_normalize", BOOL, Warn),
    f("performance_config_latency", STR, Use),
    f("video_output_s3_uri", STR, Warn),
];
/// `embeddings.model.options.bedrock` (the `semantic` algorithm's, itself refused).
const BEDROCK_EMBEDDINGS: &[F] = &[
    f("aws_assume_role_arn", STR, Use),
    f("aws_region", STR, Use),
    f("aws_role_session_name", STR, Use),
    f("aws_sts_endpoint_url", STR, Use),
    f("batch_bucket_prefix", STR, Use),
    f("batch_role_arn", STR, Use),
    f("embeddings_normalize", BOOL, Use).default(Dflt::Bool(false)),
    f("performance_config_latency", STR, Use),
    f("video_output_s3_uri", STR, Use),
];
const GEMINI: &[F] = &[
    f("api_endpoint", STR, Use),
    // A Model Garden endpoint is another URL scheme llmux does not build yet.
    f("endpoint_id", STR, Reject),
    f("location_id", STR, Use),
    f("project_id", STR, Use),
];
const GEMINI_EMBEDDINGS: &[F] = &[
    f("api_endpoint", STR, Use),
    f("location_id", STR, Use),
    f("project_id", STR, Use),
];
const HUGGINGFACE: &[F] = &[f("use_cache", BOOL, Use), f("wait_for_model", BOOL, Use)];
const COHERE: &[F] = &[
    f(
        "embedding_input_type",
        one_of(&[
            "classification",
            "clustering",
            "image",
            "search_document",
            "search_query",
        ]),
        Use,
    )
    .default(Dflt::Str("classification")),
    f("wait_for_model", BOOL, Warn),
];
const DASHSCOPE: &[F] = &[f("international", BOOL, Use).default(Dflt::Bool(true))];
const DATABRICKS: &[F] = &[f("workspace_instance_id", STR, Use)];
const COST: Ty = num(0.0, f64::MAX);
const CACHE_WRITE_COST: &[F] = &[
    f("cost", COST, Use).required(),
    f("ttl", STR, Use).required(),
];
const CONTEXT_WINDOW_FACTOR: &[F] = &[
    f("above", STR, Use).required(),
    f("input_factor", COST, Use).required(),
    f("output_factor", COST, Use).required(),
];
const SERVICE_TIER_FACTOR: &[F] = &[
    f("factor", COST, Use).required(),
    f("tier", STR, Use).required(),
];

const OPTIONS: &[F] = &[
    f("max_tokens", int(i64::MIN, i64::MAX), Use),
    f("temperature", num(0.0, 5.0), Use),
    f("top_p", num(0.0, 1.0), Use),
    f("input_cost", COST, Use),
    f("output_cost", COST, Use),
    f("azure_instance", STR, Use),
    f("azure_api_version", STR, Use).default(AZURE_API_VERSION),
    f("azure_deployment_id", STR, Use),
    f("upstream_url", STR, Use),
    f("mistral_format", one_of(&["openai", "ollama"]), Use),
    // Deprecated in Kong in favour of upstream_url; it would change where requests go.
    f("upstream_path", STR, Reject),
    f("top_k", int(0, 500), Use),
    f("anthropic_version", STR, Use),
    f("llama2_format", one_of(&["raw", "openai", "ollama"]), Use),
    f("embeddings_dimensions", int(i64::MIN, i64::MAX), Warn),
    f("cache_read_cost", COST, Warn),
    f("cache_write_cost", COST, Warn),
    f(
        "cache_write_cost_list",
        Ty::List(&Ty::Rec(CACHE_WRITE_COST)),
        Warn,
    ),
    f(
        "context_window_factor",
        Ty::List(&Ty::Rec(CONTEXT_WINDOW_FACTOR)),
        Warn,
    ),
    f(
        "service_tier_factor",
        Ty::List(&Ty::Rec(SERVICE_TIER_FACTOR)),
        Warn,
    ),
    f("bedrock", Ty::Rec(BEDROCK), Use),
    f("gemini", Ty::Rec(GEMINI), Use),
    f("huggingface", Ty::Rec(HUGGINGFACE), Use),
    f("cohere", Ty::Rec(COHERE), Use),
    f("dashscope", Ty::Rec(DASHSCOPE), Use),
    f("databricks", Ty::Rec(DATABRICKS), Use),
];

const MODEL: &[F] = &[
    f(
        "provider",
        Ty::Enum {
            kong: PROVIDERS_KONG,
            llmux: PROVIDERS_LLMUX,
        },
        Use,
    )
    .required(),
    f("name", STR, Use),
    f("model_alias", STR, Use),
    f("options", Ty::Rec(OPTIONS), Use),
];

const LOGGING: &[F] = &[
    f("log_statistics", BOOL, Use)
        .required()
        .default(Dflt::Bool(false)),
    f("log_payloads", BOOL, Use)
        .required()
        .default(Dflt::Bool(false)),
];

const ROUTE_TYPE: Ty = Ty::Enum {
    kong: ROUTE_TYPES_KONG,
    llmux: ROUTE_TYPES_LLMUX,
};

/// `config.targets[]` of ai-proxy-advanced.
const TARGET: &[F] = &[
    f("route_type", ROUTE_TYPE, Use).required(),
    f("model", Ty::Rec(MODEL), Use).required(),
    f("auth", Ty::Rec(AUTH), Use),
    f("logging", Ty::Rec(LOGGING), Use).required(),
    f("weight", int(1, 65535), Use).default(Dflt::Int(100)),
    f("description", STR, Use),
    f("metadata", ANY, Warn),
];

const BALANCER: &[F] = &[
    f(
        "algorithm",
        Ty::Enum {
            kong: &[
                "round-robin",
                "lowest-usage",
                "lowest-latency",
                "least-connections",
                "consistent-hashing",
                "priority",
                "semantic",
            ],
            llmux: &[
                "round-robin",
                "lowest-usage",
                "lowest-latency",
                "least-connections",
                "consistent-hashing",
                "priority",
            ],
        },
        Use,
    )
    .default(Dflt::Str("round-robin")),
    f(
        "tokens_count_strategy",
        Ty::Enum {
            kong: &[
                "total-tokens",
                "prompt-tokens",
                "completion-tokens",
                "cost",
                "llm-accuracy",
            ],
            llmux: &["total-tokens", "prompt-tokens", "completion-tokens", "cost"],
        },
        Use,
    )
    .default(Dflt::Str("total-tokens")),
    f("latency_strategy", one_of(&["tpot", "e2e"]), Use).default(Dflt::Str("tpot")),
    f("retries", int(0, 32767), Use).default(Dflt::Int(5)),
    f(
        "failover_criteria",
        Ty::List(&one_of(FAILOVER_CRITERIA)),
        Use,
    )
    .default(Dflt::Strs(&["error", "timeout"])),
    f("connect_timeout", TIMEOUT, Use).default(Dflt::Int(60_000)),
    f("read_timeout", TIMEOUT, Use).default(Dflt::Int(60_000)),
    f("write_timeout", TIMEOUT, Use).default(Dflt::Int(60_000)),
    f("max_fails", int(0, 32767), Use).default(Dflt::Int(0)),
    f("fail_timeout", TIMEOUT, Use).default(Dflt::Int(10_000)),
    f("hash_on_header", STR, Use).default(Dflt::Str("X-Kong-LLM-Request-ID")),
    f("slots", int(10, 65536), Use).default(Dflt::Int(10_000)),
];

const EMBEDDINGS_AZURE: &[F] = &[
    f("api_version", STR, Use).default(AZURE_API_VERSION),
    f("deployment_id", STR, Use),
    f("instance", STR, Use),
];
const EMBEDDINGS_OPTIONS: &[F] = &[
    f("azure", Ty::Rec(EMBEDDINGS_AZURE), Use),
    f("bedrock", Ty::Rec(BEDROCK_EMBEDDINGS), Use),
    f("gemini", Ty::Rec(GEMINI_EMBEDDINGS), Use),
    f("huggingface", Ty::Rec(HUGGINGFACE), Use),
    f("upstream_url", STR, Use),
];
const EMBEDDINGS_MODEL: &[F] = &[
    f(
        "provider",
        one_of(&[
            "azure",
            "bedrock",
            "gemini",
            "huggingface",
            "mistral",
            "ollama",
            "openai",
        ]),
        Use,
    )
    .required(),
    f("name", STR, Use).required(),
    f("options", Ty::Rec(EMBEDDINGS_OPTIONS), Use),
];
/// Only used by the `semantic` algorithm, which is refused on its own.
const EMBEDDINGS: &[F] = &[
    f("auth", Ty::Rec(AUTH), Use),
    f("model", Ty::Rec(EMBEDDINGS_MODEL), Use).required(),
];

const LLM_FORMAT: Ty = one_of(&[
    "openai",
    "anthropic",
    "bedrock",
    "cohere",
    "gemini",
    "huggingface",
]);
const BODY_SIZE: Ty = int(0, i64::MAX);
const STREAMING: Ty = one_of(&["allow", "deny", "always"]);
const TEXT_CATEGORIES: &[&str] = &["text/generation", "text/embeddings"];
const GENAI_CATEGORY: Dflt = Dflt::Str("text/generation");
/// 1 MiB, Kong 3.13's default (8 KiB before).
const MAX_BODY: Dflt = Dflt::Int(1_048_576);

/// `config` of ai-proxy-advanced.
pub(crate) const AI_PROXY_ADVANCED: &[F] = &[
    f("targets", Ty::List(&Ty::Rec(TARGET)), Use).required(),
    f("balancer", Ty::Rec(BALANCER), Use).required(),
    f("max_request_body_size", BODY_SIZE, Use).default(MAX_BODY),
    f("model_name_header", BOOL, Use).default(Dflt::Bool(true)),
    f("response_streaming", STREAMING, Use).default(Dflt::Str("allow")),
    f("llm_format", LLM_FORMAT, Use).default(Dflt::Str("openai")),
    f(
        "genai_category",
        Ty::Enum {
            kong: &[
                "text/generation",
                "text/embeddings",
                "audio/speech",
                "audio/transcription",
                "image/generation",
                "realtime/generation",
                "video/generation",
            ],
            llmux: TEXT_CATEGORIES,
        },
        Use,
    )
    .default(GENAI_CATEGORY),
    f("embeddings", Ty::Rec(EMBEDDINGS), Warn),
    f("vectordb", ANY, Reject),
    f("acls", ANY, Reject),
];

/// `config` of ai-proxy: one target's keys at the top, plus the plugin-wide ones.
pub(crate) const AI_PROXY: &[F] = &[
    f("route_type", ROUTE_TYPE, Use).required(),
    f("model", Ty::Rec(MODEL), Use).required(),
    f("auth", Ty::Rec(AUTH), Use),
    f("logging", Ty::Rec(LOGGING), Use).required(),
    f("max_request_body_size", BODY_SIZE, Use).default(MAX_BODY),
    f("model_name_header", BOOL, Use).default(Dflt::Bool(true)),
    f("response_streaming", STREAMING, Use).default(Dflt::Str("allow")),
    f("llm_format", LLM_FORMAT, Use).default(Dflt::Str("openai")),
    f(
        "genai_category",
        Ty::Enum {
            kong: &[
                "text/generation",
                "text/embeddings",
                "audio/speech",
                "audio/transcription",
                "image/generation",
                "video/generation",
            ],
            llmux: TEXT_CATEGORIES,
        },
        Use,
    )
    .default(GENAI_CATEGORY),
];
