//! The typed forms of the four access plugins, as the request path reads them; `plugins`
//! builds them from a decK `config` with Kong's defaults and checks.

use crate::config::types::Provider;

pub(crate) const KEY_AUTH: &str = "key-auth";
pub(crate) const ACL: &str = "acl";
pub(crate) const RATE_LIMITING: &str = "rate-limiting";
pub(crate) const AI_RATE_LIMITING_ADVANCED: &str = "ai-rate-limiting-advanced";

/// `key-auth`.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub id: String,
    /// Where to look, in order: each name as a header, then as a query parameter, then as a
    /// top-level member of a JSON body (Kong's order).
    pub key_names: Vec<String>,
    pub in_header: bool,
    pub in_query: bool,
    pub in_body: bool,
    pub run_on_preflight: bool,
    /// The consumer requests without a valid key run as (`anonymous`), by index.
    pub anonymous: Option<u32>,
    /// The `WWW-Authenticate` value of a 401: `Key`, or `Key realm="..."`.
    pub www_authenticate: String,
}

/// What an ACL decides for one consumer, computed at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclVerdict {
    Allow,
    /// In a denied group, or in none of the allowed ones: 403.
    Forbid,
    /// An allow-list and a consumer without groups: 403 for a consumer with a credential, 401
    /// for an anonymous one (Kong's rule).
    NoGroups,
}

/// `acl`.
#[derive(Debug, Clone)]
pub struct Acl {
    pub id: String,
    pub hide_groups_header: bool,
    /// By consumer index.
    pub verdicts: Vec<AclVerdict>,
}

/// A `rate-limiting` period: calendar-aligned fixed windows, as Kong counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
}

impl Period {
    pub const ALL: [Period; 6] = [
        Period::Second,
        Period::Minute,
        Period::Hour,
        Period::Day,
        Period::Month,
        Period::Year,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Period::Second => "second",
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    /// Kong's `EXPIRATION` table: the nominal length in seconds (a month is 30 days).
    pub fn seconds(self) -> u64 {
        match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3600,
            Period::Day => 86_400,
            Period::Month => 2_592_000,
            Period::Year => 31_536_000,
        }
    }

    /// `X-RateLimit-Limit-<Period>`.
    pub fn limit_header(self) -> &'static str {
        match self {
            Period::Second => "X-RateLimit-Limit-Second",
            Period::Minute => "X-RateLimit-Limit-Minute",
            Period::Hour => "X-RateLimit-Limit-Hour",
            Period::Day => "X-RateLimit-Limit-Day",
            Period::Month => "X-RateLimit-Limit-Month",
            Period::Year => "X-RateLimit-Limit-Year",
        }
    }

    /// `X-RateLimit-Remaining-<Period>`.
    pub fn remaining_header(self) -> &'static str {
        match self {
            Period::Second => "X-RateLimit-Remaining-Second",
            Period::Minute => "X-RateLimit-Remaining-Minute",
            Period::Hour => "X-RateLimit-Remaining-Hour",
            Period::Day => "X-RateLimit-Remaining-Day",
            Period::Month => "X-RateLimit-Remaining-Month",
            Period::Year => "X-RateLimit-Remaining-Year",
        }
    }
}

/// What a limiter counts per (Kong's `limit_by` / `identifier`). Whatever is missing on a
/// request (no consumer, no such header) falls back to the client's IP address, as in Kong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitBy {
    Consumer,
    Credential,
    Ip,
    Service,
    /// The value of this header (name as configured).
    Header(String),
    /// This exact request path.
    Path(String),
}

/// Where a limiter's counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// This node: every core's counts, merged between cores.
    Local,
    /// The fleet: every node's counts, shared through the fleet's Redis.
    Redis,
}

/// `rate-limiting`.
#[derive(Debug, Clone)]
pub struct RequestLimit {
    /// Counter identity across cores, reloads and nodes.
    pub id: String,
    /// The periods set, shortest first, with their limits.
    pub limits: Vec<(Period, f64)>,
    pub limit_by: LimitBy,
    pub strategy: Strategy,
    pub hide_client_headers: bool,
    pub error_code: u16,
    pub error_message: String,
}

/// Kong's spelling of an enum value, both ways.
macro_rules! spelled {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub(crate) fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

spelled!(
    /// `window_type`: Kong's sliding window weighs the previous window's count by how much of
    /// it still overlaps the last `window_size` seconds.
    WindowType {
        Sliding = "sliding",
        Fixed = "fixed",
    }
);

spelled!(
    /// `tokens_count_strategy` of ai-rate-limiting-advanced (Kong spells it with `_`, unlike
    /// the balancer's).
    TokenCount {
        TotalTokens = "total_tokens",
        PromptTokens = "prompt_tokens",
        CompletionTokens = "completion_tokens",
        Cost = "cost",
    }
);

/// One `limit`/`window_size` pair of an `llm_providers` entry, with its headers ready.
#[derive(Debug, Clone)]
pub struct TokenWindow {
    pub limit: f64,
    pub seconds: u64,
    /// `X-AI-RateLimit-Limit-<window>-<provider>` and the other per-window names.
    pub limit_header: String,
    pub remaining_header: String,
    pub reset_header: String,
    pub retry_after_header: String,
}

/// One `llm_providers` entry.
#[derive(Debug, Clone)]
pub struct TokenProvider {
    /// As configured (`openai`), for headers and messages.
    pub name: String,
    /// The llmux provider whose targets spend this budget; `None` for a provider llmux does not
    /// serve (its budget is never spent).
    pub provider: Option<Provider>,
    pub windows: Vec<TokenWindow>,
}

/// `ai-rate-limiting-advanced`.
#[derive(Debug, Clone)]
pub struct TokenLimit {
    pub id: String,
    pub providers: Vec<TokenProvider>,
    pub identifier: LimitBy,
    pub strategy: Strategy,
    pub window_type: WindowType,
    pub count: TokenCount,
    pub hide_client_headers: bool,
    pub error_code: u16,
    pub error_message: String,
    pub error_hide_providers: bool,
}

/// One built access plugin.
#[derive(Debug, Clone)]
pub(crate) enum AccessPlugin {
    KeyAuth(KeyAuth),
    /// Verdicts are filled in once consumers are known.
    Acl {
        acl: Acl,
        deny: bool,
        groups: Vec<String>,
    },
    RequestLimit(RequestLimit),
    TokenLimit(TokenLimit),
}
