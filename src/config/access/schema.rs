//! Kong Gateway 3.14's schemas for the plugins that decide who may call the gateway and how
//! often: `key-auth`, `acl`, `rate-limiting` and `ai-rate-limiting-advanced` (Kong's published
//! plugin schemas, `app/_schemas/gateway/plugins/3.14/*.json`, and the open-source
//! `kong/plugins/*/schema.lua` for their entity checks). `docs/config-reference.md` is the prose
//! version.

use crate::config::schema::{f, int, num, one_of, Dflt, Sup::*, Ty, ANY, BOOL, F, STR, STR_LIST};

pub(crate) const KEY_AUTH: &[F] = &[
    f("key_names", STR_LIST, Use)
        .required()
        .default(Dflt::Strs(&["apikey"])),
    f("hide_credentials", BOOL, Use)
        .required()
        .default(Dflt::Bool(false)),
    f("anonymous", STR, Use),
    f("key_in_header", BOOL, Use)
        .required()
        .default(Dflt::Bool(true)),
    f("key_in_query", BOOL, Use)
        .required()
        .default(Dflt::Bool(true)),
    f("key_in_body", BOOL, Use)
        .required()
        .default(Dflt::Bool(false)),
    f("run_on_preflight", BOOL, Use)
        .required()
        .default(Dflt::Bool(true)),
    f("realm", STR, Use),
    // Konnect's identity realms look consumers up elsewhere: refusing beats ignoring.
    f("identity_realms", ANY, Reject),
];

pub(crate) const ACL: &[F] = &[
    f("allow", STR_LIST, Use),
    f("deny", STR_LIST, Use),
    f("hide_groups_header", BOOL, Use)
        .required()
        .default(Dflt::Bool(false)),
    // Authenticated groups come from authentication plugins llmux refuses, and consumer groups
    // have no members in llmux: both settings change nothing here.
    f("always_use_authenticated_groups", BOOL, Use)
        .required()
        .default(Dflt::Bool(false)),
    f("include_consumer_groups", BOOL, Use).default(Dflt::Bool(false)),
];

/// Identifiers both rate limiters share (Kong spells them alike); `consumer-group` is refused.
pub(crate) const IDENTIFIERS_KONG: &[&str] = &[
    "consumer",
    "consumer-group",
    "credential",
    "ip",
    "service",
    "header",
    "path",
];
pub(crate) const IDENTIFIERS_LLMUX: &[&str] =
    &["consumer", "credential", "ip", "service", "header", "path"];

const LIMIT: Ty = num(f64::MIN_POSITIVE, f64::MAX);

/// `config.redis` of rate-limiting (Kong's shared `kong.tools.redis.schema`). The fleet's Redis
/// (`--redis`) is what llmux uses; a per-plugin server is not supported.
const RL_REDIS: &[F] = &[
    f("host", STR, Reject),
    f("port", int(0, 65535), Meta),
    f("timeout", int(0, 2_147_483_646), Meta),
    f("username", STR, Reject),
    f("password", STR, Reject),
    f("database", int(i64::MIN, i64::MAX), Meta),
    f("ssl", BOOL, Meta),
    f("ssl_verify", BOOL, Meta),
    f("server_name", STR, Meta),
    f("cloud_authentication", ANY, Reject),
];

pub(crate) const RATE_LIMITING: &[F] = &[
    f("second", LIMIT, Use),
    f("minute", LIMIT, Use),
    f("hour", LIMIT, Use),
    f("day", LIMIT, Use),
    f("month", LIMIT, Use),
    f("year", LIMIT, Use),
    f(
        "limit_by",
        Ty::Enum {
            kong: IDENTIFIERS_KONG,
            llmux: IDENTIFIERS_LLMUX,
        },
        Use,
    )
    .default(Dflt::Str("consumer")),
    f("header_name", STR, Use),
    f("path", STR, Use),
    f(
        "policy",
        Ty::Enum {
            kong: &["local", "cluster", "redis"],
            llmux: &["local", "redis"],
        },
        Use,
    )
    .default(Dflt::Str("local")),
    f("fault_tolerant", BOOL, Use)
        .required()
        .default(Dflt::Bool(true)),
    f("redis", Ty::Rec(RL_REDIS), Use).required(),
    f("hide_client_headers", BOOL, Use)
        .required()
        .default(Dflt::Bool(false)),
    f("error_code", num(1.0, 599.0), Use).default(Dflt::Int(429)),
    f("error_message", STR, Use).default(Dflt::Str("API rate limit exceeded")),
    f("sync_rate", num(-1.0, f64::MAX), Use).default(Dflt::Int(-1)),
    // Kong 3.x's deprecated spellings of `redis.*`.
    f("redis_host", STR, Reject),
    f("redis_port", int(0, 65535), Meta),
    f("redis_password", STR, Reject),
    f("redis_username", STR, Reject),
    f("redis_ssl", BOOL, Meta),
    f("redis_ssl_verify", BOOL, Meta),
    f("redis_server_name", STR, Meta),
    f("redis_timeout", int(0, 2_147_483_646), Meta),
    f("redis_database", int(i64::MIN, i64::MAX), Meta),
];

/// Kong's `llm_providers[].name`, plus the providers llmux serves that Kong's list lacks (a
/// deliberate difference: otherwise their tokens could not be limited).
pub(crate) const TOKEN_PROVIDERS: &[&str] = &[
    "anthropic",
    "azure",
    "bedrock",
    "cohere",
    "customCost",
    "gemini",
    "huggingface",
    "llama2",
    "mistral",
    "openai",
    "requestPrompt",
    "deepseek",
    "xai",
    "cerebras",
    "vllm",
    "dashscope",
    "databricks",
    "ollama",
];
pub(crate) const TOKEN_PROVIDERS_LLMUX: &[&str] = &[
    "anthropic",
    "azure",
    "bedrock",
    "cohere",
    "gemini",
    "huggingface",
    "llama2",
    "mistral",
    "openai",
    "deepseek",
    "xai",
    "cerebras",
    "vllm",
    "dashscope",
    "databricks",
    "ollama",
];

const LLM_PROVIDER: &[F] = &[
    f(
        "name",
        Ty::Enum {
            kong: TOKEN_PROVIDERS,
            llmux: TOKEN_PROVIDERS_LLMUX,
        },
        Use,
    ),
    f("limit", Ty::List(&LIMIT), Use),
    f("window_size", Ty::List(&num(1.0, 100_000_000.0)), Use),
];

const TOKEN_STRATEGIES: &[&str] = &["total_tokens", "prompt_tokens", "completion_tokens", "cost"];

/// `config.redis` of ai-rate-limiting-advanced: as for rate-limiting, the fleet's Redis is the
/// one used.
const AI_REDIS: &[F] = &[
    f("host", STR, Reject),
    f("port", int(0, 65535), Meta),
    f("username", STR, Reject),
    f("password", STR, Reject),
    f("database", int(i64::MIN, i64::MAX), Meta),
    f("ssl", BOOL, Meta),
    f("ssl_verify", BOOL, Meta),
    f("server_name", STR, Meta),
    f("connect_timeout", int(0, 2_147_483_646), Meta),
    f("read_timeout", int(0, 2_147_483_646), Meta),
    f("send_timeout", int(0, 2_147_483_646), Meta),
    f("keepalive_pool_size", int(1, 2_147_483_646), Meta),
    f("keepalive_backlog", int(0, 2_147_483_646), Meta),
    f("connection_is_proxied", BOOL, Meta),
    f("cluster_max_redirections", int(i64::MIN, i64::MAX), Meta),
    f("cluster_nodes", ANY, Reject),
    f("sentinel_master", STR, Reject),
    f("sentinel_nodes", ANY, Reject),
    f("sentinel_password", STR, Reject),
    f("sentinel_role", one_of(&["any", "master", "slave"]), Meta),
    f("sentinel_username", STR, Reject),
    f("cloud_authentication", ANY, Reject),
];

pub(crate) const AI_RATE_LIMITING_ADVANCED: &[F] = &[
    f("llm_providers", Ty::List(&Ty::Rec(LLM_PROVIDER)), Use),
    f(
        "identifier",
        Ty::Enum {
            kong: IDENTIFIERS_KONG,
            llmux: IDENTIFIERS_LLMUX,
        },
        Use,
    )
    .required()
    .default(Dflt::Str("consumer")),
    f("header_name", STR, Use),
    f("path", STR, Use),
    f(
        "strategy",
        Ty::Enum {
            kong: &["local", "cluster", "redis"],
            llmux: &["local", "redis"],
        },
        Use,
    )
    .required()
    .default(Dflt::Str("local")),
    f("sync_rate", num(-1.0, f64::MAX), Use),
    f("window_type", one_of(&["sliding", "fixed"]), Use)
        .required()
        .default(Dflt::Str("sliding")),
    f("tokens_count_strategy", one_of(TOKEN_STRATEGIES), Use).default(Dflt::Str("total_tokens")),
    f("hide_client_headers", BOOL, Use)
        .required()
        .default(Dflt::Bool(false)),
    f("error_code", num(1.0, 599.0), Use).default(Dflt::Int(429)),
    f("error_message", STR, Use)
        .default(Dflt::Str("AI token rate limit exceeded for provider(s): ")),
    f("error_hide_providers", BOOL, Use).default(Dflt::Bool(false)),
    f("redis", Ty::Rec(AI_REDIS), Use).required(),
    f("namespace", STR, Meta),
    f("dictionary_name", STR, Meta),
    f("decrease_by_fractions_in_redis", BOOL, Meta),
    f("disable_penalty", BOOL, Meta),
    f(
        "llm_format",
        one_of(&[
            "openai",
            "anthropic",
            "bedrock",
            "cohere",
            "gemini",
            "huggingface",
        ]),
        Meta,
    ),
    // Adds random seconds to Retry-After; without it the header is exact.
    f("retry_after_jitter_max", num(0.0, f64::MAX), Warn),
    // Kong 3.14's policy matcher and the custom Lua counters: refused rather than ignored, so a
    // limit is never silently dropped.
    f("policies", ANY, Reject),
    f("request_prompt_count_function", STR, Reject),
    f("custom_cost_count_function", STR, Reject),
];

/// Kong's `header_name` typedef: a token of letters, digits, `-` and `_`.
pub(crate) fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
