//! Building an `AiProxyConfig` from the `config` of an `ai-proxy-advanced` or `ai-proxy` plugin.

use super::candidate_index::CandidateIndex;
use super::env::AwsEnv;
use super::error::Diag;
use super::kong_schema::{AI_PROXY, AI_PROXY_ADVANCED};
use super::schema::check_record;
use super::target::build_target;
use super::target_id::number_duplicates;
use super::types::{
    AiProxyConfig, Algorithm, BalancerConfig, FailoverCriterion, LatencyStrategy, LlmFormat,
    ResponseStreaming, RouteType, TargetConfig, TokensCountStrategy,
};
use super::value::{get, get_bool, get_int, get_seq, get_str, index, join};
use serde_yaml_ng::Value;

pub(crate) const AI_PROXY_ADVANCED_NAME: &str = "ai-proxy-advanced";
pub(crate) const AI_PROXY_NAME: &str = "ai-proxy";

/// Identity of the plugin instance being built.
pub(crate) struct PluginMeta {
    pub id: String,
    pub plugin_name: &'static str,
    pub scope: String,
}

/// Check and build one plugin's `config` (at `path`). All problems go to `d`; `None` when any
/// was found in this plugin.
pub(crate) fn build_plugin(
    cfg: Option<&Value>,
    path: &str,
    meta: PluginMeta,
    aws: &AwsEnv,
    d: &mut Diag,
) -> Option<AiProxyConfig> {
    let before = d.error_count();
    let Some(cfg) = cfg else {
        d.err(path, "is required");
        return None;
    };
    let advanced = meta.plugin_name == AI_PROXY_ADVANCED_NAME;
    check_record(
        cfg,
        if advanced {
            AI_PROXY_ADVANCED
        } else {
            AI_PROXY
        },
        path,
        true,
        d,
    );

    let (targets, balancer) = if advanced {
        let targets_path = join(path, "targets");
        if get(cfg, "targets").is_none() {
            d.err(&targets_path, "is required");
        } else if matches!(get(cfg, "targets"), Some(Value::Sequence(s)) if s.is_empty()) {
            d.err(&targets_path, "must contain at least one target");
        }
        let targets: Vec<_> = get_seq(cfg, "targets")
            .iter()
            .enumerate()
            .filter_map(|(i, t)| build_target(t, &index(&targets_path, i), i, &meta.id, aws, d))
            .collect();
        let balancer = get(cfg, "balancer").map(build_balancer).unwrap_or_default();
        (targets, balancer)
    } else {
        let target = build_target(cfg, path, 0, &meta.id, aws, d);
        (target.into_iter().collect(), BalancerConfig::default())
    };

    if balancer.tokens_count_strategy == TokensCountStrategy::Cost {
        check_cost(cfg, path, d);
    }
    let llm_format = get_str(cfg, "llm_format")
        .and_then(LlmFormat::parse)
        .unwrap_or(LlmFormat::OpenAi);
    let targets_path = if advanced {
        join(path, "targets")
    } else {
        path.to_string()
    };
    check_format(llm_format, &targets, advanced, &targets_path, d);

    let max_body = match get_int(cfg, "max_request_body_size") {
        Some(0) => usize::MAX,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => 1_048_576,
    };
    if d.error_count() > before {
        return None;
    }
    let mut plugin = AiProxyConfig {
        id: meta.id,
        slot: 0,
        candidates: CandidateIndex::new(&targets),
        plugin_name: meta.plugin_name,
        scope: meta.scope,
        log_statistics: targets.iter().any(|t| t.log_statistics),
        log_payloads: targets.iter().any(|t| t.log_payloads),
        balancer,
        targets,
        max_request_body_size: max_body,
        model_name_header: get_bool(cfg, "model_name_header").unwrap_or(true),
        response_streaming: get_str(cfg, "response_streaming")
            .and_then(ResponseStreaming::parse)
            .unwrap_or(ResponseStreaming::Allow),
        llm_format,
    };
    number_duplicates(&mut plugin);
    Some(plugin)
}

/// A native `llm_format` is passed through, so every target must speak it: be of that provider,
/// on `llm/v1/chat` (Kong's rule). Translating one native format into another provider's is not
/// something llmux does.
fn check_format(
    format: LlmFormat,
    targets: &[TargetConfig],
    advanced: bool,
    targets_path: &str,
    d: &mut Diag,
) {
    let Some(native) = format.native_provider() else {
        return;
    };
    for t in targets {
        let at = |key: &str| {
            if advanced {
                join(&index(targets_path, t.index), key)
            } else {
                join(targets_path, key)
            }
        };
        if t.provider != native {
            d.err(
                &at("model.provider"),
                format!(
                    "must be {native} when llm_format is {format}: native formats pass through to their own provider (translating {format} to {} is not supported yet by llmux)",
                    t.provider
                ),
            );
        }
        if t.route_type != RouteType::Chat {
            d.err(
                &at("route_type"),
                format!("must be llm/v1/chat when llm_format is {format}"),
            );
        }
    }
}

/// `config.balancer` with Kong's defaults for what is not set (types already checked).
fn build_balancer(b: &Value) -> BalancerConfig {
    let dflt = BalancerConfig::default();
    let int = |k: &str, dflt: i64| get_int(b, k).unwrap_or(dflt);
    let u32_of = |k: &str, dflt: u32| u32::try_from(int(k, i64::from(dflt))).unwrap_or(dflt);
    let ms_of = |k: &str, dflt: u64| {
        u64::try_from(int(k, 0))
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(dflt)
    };
    let failover_criteria = match get(b, "failover_criteria") {
        Some(_) => get_seq(b, "failover_criteria")
            .iter()
            .filter_map(|v| v.as_str().and_then(FailoverCriterion::parse))
            .collect(),
        None => dflt.failover_criteria.clone(),
    };
    BalancerConfig {
        algorithm: get_str(b, "algorithm")
            .and_then(Algorithm::parse)
            .unwrap_or(dflt.algorithm),
        tokens_count_strategy: get_str(b, "tokens_count_strategy")
            .and_then(TokensCountStrategy::parse)
            .unwrap_or(dflt.tokens_count_strategy),
        latency_strategy: get_str(b, "latency_strategy")
            .and_then(LatencyStrategy::parse)
            .unwrap_or(dflt.latency_strategy),
        retries: u32_of("retries", dflt.retries),
        failover_criteria,
        connect_timeout_ms: ms_of("connect_timeout", dflt.connect_timeout_ms),
        read_timeout_ms: ms_of("read_timeout", dflt.read_timeout_ms),
        write_timeout_ms: ms_of("write_timeout", dflt.write_timeout_ms),
        max_fails: u32_of("max_fails", dflt.max_fails),
        fail_timeout_ms: ms_of("fail_timeout", dflt.fail_timeout_ms),
        hash_on_header: get_str(b, "hash_on_header")
            .map(str::to_string)
            .unwrap_or(dflt.hash_on_header),
        slots: u32_of("slots", dflt.slots),
    }
}

/// Kong: `tokens_count_strategy: cost` needs `input_cost` and `output_cost` on every target and
/// `logging.log_statistics: true`.
fn check_cost(cfg: &Value, path: &str, d: &mut Diag) {
    const WHY: &str = "when balancer.tokens_count_strategy is cost";
    let targets_path = join(path, "targets");
    for (i, t) in get_seq(cfg, "targets").iter().enumerate() {
        let tp = index(&targets_path, i);
        let options = get(t, "model").and_then(|m| get(m, "options"));
        for key in ["input_cost", "output_cost"] {
            if options.and_then(|o| get(o, key)).is_none() {
                d.err(
                    &join(&tp, &format!("model.options.{key}")),
                    format!("is required {WHY}"),
                );
            }
        }
        if get(t, "logging").and_then(|l| get_bool(l, "log_statistics")) != Some(true) {
            d.err(
                &join(&tp, "logging.log_statistics"),
                format!("must be true {WHY}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(name: &'static str, yaml: &str) -> (Option<AiProxyConfig>, Diag) {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut d = Diag::default();
        let meta = PluginMeta {
            id: "x".into(),
            plugin_name: name,
            scope: "global".into(),
        };
        (
            build_plugin(Some(&v), "config", meta, &AwsEnv::default(), &mut d),
            d,
        )
    }

    #[test]
    fn kong_defaults() {
        let (p, d) = build(
            AI_PROXY_ADVANCED_NAME,
            "targets: [{route_type: llm/v1/chat, model: {provider: openai}}]",
        );
        assert!(d.errors.is_empty());
        let p = p.unwrap();
        assert_eq!(p.balancer, BalancerConfig::default());
        assert_eq!(p.max_request_body_size, 1_048_576);
        assert!(p.model_name_header && !p.log_statistics);
        assert_eq!(p.response_streaming, ResponseStreaming::Allow);
    }

    #[test]
    fn balancer_values_and_unlimited_body() {
        let (p, d) = build(
            AI_PROXY_ADVANCED_NAME,
            "max_request_body_size: 0\nresponse_streaming: always\nbalancer: {algorithm: priority, retries: 0, failover_criteria: [http_429], slots: 100, read_timeout: 5}\ntargets: [{route_type: llm/v1/chat, model: {provider: openai}}]",
        );
        assert!(d.errors.is_empty());
        let p = p.unwrap();
        assert_eq!(p.max_request_body_size, usize::MAX);
        assert_eq!(p.response_streaming, ResponseStreaming::Always);
        assert_eq!(p.balancer.algorithm, Algorithm::Priority);
        assert_eq!(
            (
                p.balancer.retries,
                p.balancer.slots,
                p.balancer.read_timeout_ms
            ),
            (0, 100, 5)
        );
        assert_eq!(
            p.balancer.failover_criteria,
            vec![FailoverCriterion::Http(429)]
        );
    }

    #[test]
    fn ai_proxy_is_one_target() {
        let (p, d) = build(AI_PROXY_NAME, "route_type: llm/v1/chat\nmodel: {provider: xai, name: grok-4}\nlogging: {log_statistics: true}");
        assert!(d.errors.is_empty());
        let p = p.unwrap();
        assert_eq!(p.targets.len(), 1);
        assert!(p.log_statistics);
        assert_eq!(p.targets[0].upstream.host, "api.x.ai");
    }

    #[test]
    fn empty_targets() {
        let (p, d) = build(AI_PROXY_ADVANCED_NAME, "targets: []");
        assert!(p.is_none());
        assert_eq!(d.errors[0].message, "must contain at least one target");
    }
}
