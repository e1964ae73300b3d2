//! Each access plugin's `config`, checked against Kong's schema and built into the typed form
//! the request path uses, with Kong's defaults and entity checks.

use super::schema::{
    is_header_name, ACL as ACL_SCHEMA, AI_RATE_LIMITING_ADVANCED as AI_RLA_SCHEMA,
    KEY_AUTH as KEY_AUTH_SCHEMA, RATE_LIMITING as RL_SCHEMA,
};
use crate::config::error::Diag;
use crate::config::schema::check_record;
use crate::config::types::Provider;
use crate::config::value::{
    as_num, get, get_bool, get_num, get_seq, get_str, get_str_list, index, join,
};
use serde_yaml_ng::Value;

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

/// What building a plugin needs to know about the rest of the file.
pub(crate) struct BuildCx<'a> {
    pub id: String,
    /// A consumer's index by `id` or `username`, for `anonymous`.
    pub find_consumer: &'a dyn Fn(&str) -> Option<u32>,
    /// The plugin is scoped to a consumer (`key-auth` and `acl` cannot be).
    pub consumer_scoped: bool,
}

/// Checks and builds the `config` (at `path`) of access plugin `name`; `None` after an error.
pub(crate) fn build_access_plugin(
    name: &str,
    cfg: Option<&Value>,
    path: &str,
    cx: &BuildCx<'_>,
    d: &mut Diag,
) -> Option<AccessPlugin> {
    let before = d.error_count();
    let empty = Value::Mapping(Default::default());
    let cfg = cfg.unwrap_or(&empty);
    let built = match name {
        KEY_AUTH => {
            check_record(cfg, KEY_AUTH_SCHEMA, path, true, d);
            no_consumer(name, path, cx, d);
            AccessPlugin::KeyAuth(key_auth(cfg, path, cx, d))
        }
        ACL => {
            check_record(cfg, ACL_SCHEMA, path, true, d);
            no_consumer(name, path, cx, d);
            acl(cfg, path, cx, d)
        }
        RATE_LIMITING => {
            check_record(cfg, RL_SCHEMA, path, true, d);
            AccessPlugin::RequestLimit(request_limit(cfg, path, cx, d))
        }
        _ => {
            check_record(cfg, AI_RLA_SCHEMA, path, true, d);
            AccessPlugin::TokenLimit(token_limit(cfg, path, cx, d))
        }
    };
    (d.error_count() == before).then_some(built)
}

/// Kong's `no_consumer`: authentication and ACL plugins cannot be scoped to a consumer.
fn no_consumer(name: &str, path: &str, cx: &BuildCx<'_>, d: &mut Diag) {
    if cx.consumer_scoped {
        let at = path.strip_suffix(".config").unwrap_or(path);
        d.err(
            &join(at, "consumer"),
            format!("plugin `{name}` cannot be scoped to a consumer (Kong's rule)"),
        );
    }
}

fn key_auth(cfg: &Value, path: &str, cx: &BuildCx<'_>, d: &mut Diag) -> KeyAuth {
    let key_names = match get(cfg, "key_names") {
        Some(_) => get_str_list(cfg, "key_names"),
        None => vec!["apikey".to_string()],
    };
    if key_names.is_empty() && get(cfg, "key_names").is_some() {
        d.err(&join(path, "key_names"), "must not be empty");
    }
    for (i, n) in key_names.iter().enumerate() {
        if !is_header_name(n) {
            d.err(
                &index(&join(path, "key_names"), i),
                "may only contain letters, digits, `-` and `_`",
            );
        }
    }
    let in_body = get_bool(cfg, "key_in_body").unwrap_or(false);
    if in_body {
        // llmux edits these members of the body; a key among them could not be hidden.
        for (i, n) in key_names.iter().enumerate() {
            if ["model", "stream", "stream_options"].contains(&n.as_str()) {
                d.err(
                    &index(&join(path, "key_names"), i),
                    format!(
                        "`{n}` cannot be a key name with key_in_body: llmux rewrites that member"
                    ),
                );
            }
        }
    }
    if get_bool(cfg, "hide_credentials") == Some(false) {
        d.warn(
            &join(path, "hide_credentials"),
            "llmux never forwards a consumer's key to a provider: the key is always hidden",
        );
    }
    let anonymous = get_str(cfg, "anonymous").filter(|a| !a.is_empty());
    let anonymous = anonymous.and_then(|a| match (cx.find_consumer)(a) {
        Some(c) => Some(c),
        None => {
            d.err(
                &join(path, "anonymous"),
                format!("consumer `{a}` is not defined in this file"),
            );
            None
        }
    });
    let www_authenticate = match get_str(cfg, "realm") {
        Some(realm) if realm.bytes().any(|b| b.is_ascii_control() || b == b'"') => {
            d.err(
                &join(path, "realm"),
                "must not contain quotes or control characters",
            );
            String::new()
        }
        Some(realm) => format!("Key realm=\"{realm}\""),
        None => "Key".to_string(),
    };
    KeyAuth {
        id: cx.id.clone(),
        key_names,
        in_header: get_bool(cfg, "key_in_header").unwrap_or(true),
        in_query: get_bool(cfg, "key_in_query").unwrap_or(true),
        in_body,
        run_on_preflight: get_bool(cfg, "run_on_preflight").unwrap_or(true),
        anonymous,
        www_authenticate,
    }
}

fn acl(cfg: &Value, path: &str, cx: &BuildCx<'_>, d: &mut Diag) -> AccessPlugin {
    let allow = get(cfg, "allow").map(|_| get_str_list(cfg, "allow"));
    let deny = get(cfg, "deny").map(|_| get_str_list(cfg, "deny"));
    // Kong: only_one_of and at_least_one_of { allow, deny } (an empty list counts as unset
    // for the choice of type, as in Kong's handler).
    let (deny, groups) = match (allow, deny) {
        (Some(_), Some(_)) => {
            d.err(path, "only one of `allow` or `deny` may be set");
            (false, Vec::new())
        }
        (None, None) => {
            d.err(path, "one of `allow` or `deny` is required");
            (false, Vec::new())
        }
        (Some(a), None) => (false, a),
        (None, Some(g)) => (!g.is_empty(), g),
    };
    AccessPlugin::Acl {
        acl: Acl {
            id: cx.id.clone(),
            hide_groups_header: get_bool(cfg, "hide_groups_header").unwrap_or(false),
            verdicts: Vec::new(),
        },
        deny,
        groups,
    }
}

impl Acl {
    /// Kong's rule for each consumer's groups against the configured ones.
    pub(crate) fn decide(&mut self, deny: bool, groups: &[String], consumers: &[Vec<String>]) {
        self.verdicts = consumers
            .iter()
            .map(|own| {
                let in_group = groups.iter().any(|g| own.contains(g));
                match (deny, own.is_empty()) {
                    (false, true) => AclVerdict::NoGroups,
                    (true, _) if in_group => AclVerdict::Forbid,
                    (false, _) if !in_group => AclVerdict::Forbid,
                    _ => AclVerdict::Allow,
                }
            })
            .collect();
    }

    /// The verdict for a request's consumer (`None`: no consumer).
    pub fn verdict(&self, consumer: Option<u32>) -> AclVerdict {
        consumer
            .and_then(|c| self.verdicts.get(c as usize).copied())
            .unwrap_or(AclVerdict::NoGroups)
    }
}

/// `limit_by` / `identifier` with its `header_name` / `path`, Kong's conditional checks.
fn limit_by(cfg: &Value, key: &str, path: &str, d: &mut Diag) -> LimitBy {
    match get_str(cfg, key).unwrap_or("consumer") {
        "credential" => LimitBy::Credential,
        "ip" => LimitBy::Ip,
        "service" => LimitBy::Service,
        "header" => match get_str(cfg, "header_name") {
            Some(h) if is_header_name(h) => LimitBy::Header(h.to_string()),
            Some(_) => {
                d.err(
                    &join(path, "header_name"),
                    "may only contain letters, digits, `-` and `_`",
                );
                LimitBy::Ip
            }
            None => {
                d.err(
                    &join(path, "header_name"),
                    format!("is required when {key} is header"),
                );
                LimitBy::Ip
            }
        },
        "path" => match get_str(cfg, "path") {
            Some(p) if p.starts_with('/') => LimitBy::Path(p.to_string()),
            Some(_) => {
                d.err(&join(path, "path"), "must start with `/`");
                LimitBy::Ip
            }
            None => {
                d.err(
                    &join(path, "path"),
                    format!("is required when {key} is path"),
                );
                LimitBy::Ip
            }
        },
        _ => LimitBy::Consumer,
    }
}

/// `error_code` (a number, Kong's default 429).
fn error_code(cfg: &Value) -> u16 {
    get_num(cfg, "error_code")
        .filter(|n| n.fract() == 0.0)
        .map_or(429, |n| n as u16)
}

fn request_limit(cfg: &Value, path: &str, cx: &BuildCx<'_>, d: &mut Diag) -> RequestLimit {
    let limits: Vec<(Period, f64)> = Period::ALL
        .iter()
        .filter_map(|p| get_num(cfg, p.name()).map(|n| (*p, n)))
        .collect();
    if limits.is_empty() {
        d.err(
            path,
            "at least one of `second`, `minute`, `hour`, `day`, `month` or `year` is required",
        );
    }
    // Kong's custom validator: a longer period may not allow fewer requests.
    for (i, (shorter, a)) in limits.iter().enumerate() {
        for (longer, b) in &limits[i + 1..] {
            if b < a {
                d.err(
                    &join(path, longer.name()),
                    format!(
                        "The limit for {}({b:.1}) cannot be lower than the limit for {}({a:.1})",
                        longer.name(),
                        shorter.name()
                    ),
                );
            }
        }
    }
    let strategy = strategy(cfg, "policy");
    let sync_rate = get_num(cfg, "sync_rate").unwrap_or(-1.0);
    if strategy == Strategy::Local && sync_rate != -1.0 {
        d.err(
            &join(path, "sync_rate"),
            "sync_rate can only be used with the redis policy",
        );
    }
    if strategy == Strategy::Redis && sync_rate != -1.0 && sync_rate < 0.02 {
        d.err(
            &join(path, "sync_rate"),
            "sync_rate must be greater than 0.02, or -1 to disable",
        );
    }
    RequestLimit {
        id: cx.id.clone(),
        limits,
        limit_by: limit_by(cfg, "limit_by", path, d),
        strategy,
        hide_client_headers: get_bool(cfg, "hide_client_headers").unwrap_or(false),
        error_code: error_code(cfg),
        error_message: get_str(cfg, "error_message")
            .unwrap_or("API rate limit exceeded")
            .to_string(),
    }
}

fn strategy(cfg: &Value, key: &str) -> Strategy {
    match get_str(cfg, key) {
        Some("redis") => Strategy::Redis,
        _ => Strategy::Local,
    }
}

/// The llmux provider a Kong `llm_providers[].name` spends for.
fn provider_of(name: &str) -> Option<Provider> {
    Provider::parse(name)
}

fn token_limit(cfg: &Value, path: &str, cx: &BuildCx<'_>, d: &mut Diag) -> TokenLimit {
    let providers_path = join(path, "llm_providers");
    if get_seq(cfg, "llm_providers").is_empty() {
        d.err(
            &providers_path,
            "is required and must list at least one provider",
        );
    }
    let mut providers: Vec<TokenProvider> = Vec::new();
    for (i, p) in get_seq(cfg, "llm_providers").iter().enumerate() {
        let pp = index(&providers_path, i);
        let Some(name) = get_str(p, "name") else {
            if get(p, "name").is_none() {
                d.err(&join(&pp, "name"), "is required");
            }
            continue;
        };
        if providers.iter().any(|o| o.name == name) {
            d.err(
                &join(&pp, "name"),
                format!("provider `{name}` is listed twice"),
            );
        }
        let limits: Vec<f64> = get_seq(p, "limit").iter().filter_map(as_num).collect();
        let sizes: Vec<f64> = get_seq(p, "window_size")
            .iter()
            .filter_map(as_num)
            .collect();
        for key in ["limit", "window_size"] {
            if get_seq(p, key).is_empty() {
                d.err(&join(&pp, key), "is required and must not be empty");
            }
        }
        if limits.len() != sizes.len() {
            d.err(
                &pp,
                "`limit` and `window_size` must have the same number of entries",
            );
        }
        let mut windows: Vec<TokenWindow> = Vec::new();
        for (j, (&limit, &size)) in limits.iter().zip(&sizes).enumerate() {
            if size.fract() != 0.0 {
                d.err(
                    &index(&join(&pp, "window_size"), j),
                    "must be a whole number of seconds",
                );
                continue;
            }
            let seconds = size as u64;
            if windows.iter().any(|w| w.seconds == seconds) {
                d.err(
                    &index(&join(&pp, "window_size"), j),
                    format!("window size {seconds} is listed twice"),
                );
            }
            let suffix = format!("{seconds}-{name}");
            windows.push(TokenWindow {
                limit,
                seconds,
                limit_header: format!("X-AI-RateLimit-Limit-{suffix}"),
                remaining_header: format!("X-AI-RateLimit-Remaining-{suffix}"),
                reset_header: format!("X-AI-RateLimit-Reset-{suffix}"),
                retry_after_header: format!("X-AI-RateLimit-Retry-After-{suffix}"),
            });
        }
        let provider = provider_of(name);
        if provider.is_none() {
            d.warn(
                &join(&pp, "name"),
                format!("llmux has no `{name}` targets: this budget is never spent"),
            );
        }
        providers.push(TokenProvider {
            name: name.to_string(),
            provider,
            windows,
        });
    }
    let strategy = strategy(cfg, "strategy");
    let count = get_str(cfg, "tokens_count_strategy")
        .and_then(TokenCount::parse)
        .unwrap_or(TokenCount::TotalTokens);
    TokenLimit {
        id: cx.id.clone(),
        providers,
        identifier: limit_by(cfg, "identifier", path, d),
        strategy,
        window_type: get_str(cfg, "window_type")
            .and_then(WindowType::parse)
            .unwrap_or(WindowType::Sliding),
        count,
        hide_client_headers: get_bool(cfg, "hide_client_headers").unwrap_or(false),
        error_code: error_code(cfg),
        error_message: get_str(cfg, "error_message")
            .unwrap_or("AI token rate limit exceeded for provider(s): ")
            .to_string(),
        error_hide_providers: get_bool(cfg, "error_hide_providers").unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(name: &str, yaml: &str) -> (Option<AccessPlugin>, Vec<String>, Vec<String>) {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut d = Diag::default();
        let find = |s: &str| (s == "anon").then_some(7);
        let cx = BuildCx {
            id: "p".into(),
            find_consumer: &find,
            consumer_scoped: false,
        };
        let built = build_access_plugin(name, Some(&v), "plugins[0].config", &cx, &mut d);
        let lines = |v: &[crate::config::ConfigError]| {
            v.iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect()
        };
        (built, lines(&d.errors), lines(&d.warnings))
    }

    #[test]
    fn key_auth_defaults_and_anonymous() {
        let (p, errors, _) = build(KEY_AUTH, "anonymous: anon\nrealm: llm");
        assert!(errors.is_empty(), "{errors:?}");
        let Some(AccessPlugin::KeyAuth(k)) = p else {
            panic!()
        };
        assert_eq!(k.key_names, vec!["apikey"]);
        assert!(k.in_header && k.in_query && !k.in_body && k.run_on_preflight);
        assert_eq!(k.anonymous, Some(7));
        assert_eq!(k.www_authenticate, "Key realm=\"llm\"");
        let (_, errors, warnings) = build(
            KEY_AUTH,
            "anonymous: nobody\nkey_names: [a b, model]\nkey_in_body: true\nhide_credentials: false",
        );
        assert_eq!(
            errors,
            vec![
                "plugins[0].config.key_names[0]: may only contain letters, digits, `-` and `_`",
                "plugins[0].config.key_names[1]: `model` cannot be a key name with key_in_body: llmux rewrites that member",
                "plugins[0].config.anonymous: consumer `nobody` is not defined in this file",
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn acl_verdicts_follow_kong() {
        let consumers = vec![vec![], vec!["gold".to_string()], vec!["bronze".to_string()]];
        let (
            Some(AccessPlugin::Acl {
                mut acl,
                deny,
                groups,
            }),
            _,
            _,
        ) = build(ACL, "allow: [gold]")
        else {
            panic!()
        };
        acl.decide(deny, &groups, &consumers);
        assert_eq!(
            acl.verdicts,
            vec![AclVerdict::NoGroups, AclVerdict::Allow, AclVerdict::Forbid]
        );
        let (
            Some(AccessPlugin::Acl {
                mut acl,
                deny,
                groups,
            }),
            _,
            _,
        ) = build(ACL, "deny: [gold]")
        else {
            panic!()
        };
        acl.decide(deny, &groups, &consumers);
        assert_eq!(
            acl.verdicts,
            vec![AclVerdict::Allow, AclVerdict::Forbid, AclVerdict::Allow]
        );
        assert_eq!(acl.verdict(None), AclVerdict::NoGroups);
        let (_, errors, _) = build(ACL, "allow: [a]\ndeny: [b]");
        assert_eq!(
            errors,
            vec!["plugins[0].config: only one of `allow` or `deny` may be set"]
        );
    }

    #[test]
    fn rate_limiting_checks() {
        let (p, errors, _) = build(RATE_LIMITING, "minute: 5\nsecond: 1\nlimit_by: ip");
        assert!(errors.is_empty(), "{errors:?}");
        let Some(AccessPlugin::RequestLimit(r)) = p else {
            panic!()
        };
        assert_eq!(r.limits, vec![(Period::Second, 1.0), (Period::Minute, 5.0)]);
        assert_eq!(
            (r.limit_by, r.error_code, r.error_message.as_str()),
            (LimitBy::Ip, 429, "API rate limit exceeded")
        );
        let (_, errors, _) = build(
            RATE_LIMITING,
            "second: 10\nhour: 5\nlimit_by: header\nsync_rate: 1\npolicy: cluster",
        );
        assert_eq!(
            errors,
            vec![
                "plugins[0].config.policy: `cluster` is not supported yet by llmux",
                "plugins[0].config.hour: The limit for hour(5.0) cannot be lower than the limit for second(10.0)",
                "plugins[0].config.sync_rate: sync_rate can only be used with the redis policy",
                "plugins[0].config.header_name: is required when limit_by is header",
            ]
        );
        let (_, errors, _) = build(RATE_LIMITING, "limit_by: ip");
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn token_limit_headers_and_defaults() {
        let (p, errors, warnings) = build(
            AI_RATE_LIMITING_ADVANCED,
            "llm_providers: [{name: openai, limit: [100, 1000], window_size: [60, 3600]}, {name: cohere, limit: [5], window_size: [60]}]",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(warnings.is_empty(), "{warnings:?}");
        let Some(AccessPlugin::TokenLimit(t)) = p else {
            panic!()
        };
        assert_eq!(t.providers[1].provider, Some(Provider::Cohere));
        assert_eq!(t.window_type, WindowType::Sliding);
        assert_eq!(t.count, TokenCount::TotalTokens);
        assert_eq!(t.identifier, LimitBy::Consumer);
        assert_eq!(t.providers[0].provider, Some(Provider::OpenAi));
        assert_eq!(
            t.providers[0].windows[1].remaining_header,
            "X-AI-RateLimit-Remaining-3600-openai"
        );
        let (_, errors, _) = build(
            AI_RATE_LIMITING_ADVANCED,
            "llm_providers: [{name: openai, limit: [1, 2], window_size: [60]}]\npolicies: []",
        );
        assert_eq!(
            errors,
            vec![
                "plugins[0].config.policies: `policies` is not supported yet by llmux",
                "plugins[0].config.llm_providers[0]: `limit` and `window_size` must have the same number of entries",
            ]
        );
    }
}
