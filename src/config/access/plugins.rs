//! Each access plugin's `config`, checked against Kong's schema and built into the typed form
//! the request path uses, with Kong's defaults and entity checks.

use super::forms::*;
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
mod tests;
