//! `GET /status`: what the gateway runs and how each target is doing, merged across cores.

use super::registry::Registry;
use crate::body::push_quoted;
use crate::config::GatewayConfig;
use crate::stats::{target_keys, TargetKey};
use hdrhistogram::Histogram;
use std::sync::{Arc, RwLock};

/// The config-derived part of the status, rebuilt on every reload.
pub struct View {
    pub routes: Vec<(String, Vec<String>, bool)>,
    pub targets: Vec<TargetInfo>,
}

pub type SharedView = Arc<RwLock<View>>;

pub struct TargetInfo {
    pub key: TargetKey,
    pub plugin: String,
    pub provider: &'static str,
    pub model: String,
    pub alias: String,
    pub weight: u32,
    /// Scheme, host and port only: a query string may carry an auth parameter.
    pub upstream: String,
}

impl View {
    pub fn of(config: &GatewayConfig) -> View {
        let routes = config
            .routes
            .iter()
            .map(|r| (r.name.clone(), r.paths.clone(), r.plugin.is_some()))
            .collect();
        let mut targets = Vec::new();
        for p in config.plugins() {
            for (t, key) in p.targets.iter().zip(target_keys(p)) {
                let scheme = if t.upstream.tls { "https" } else { "http" };
                targets.push(TargetInfo {
                    key,
                    plugin: p.id.clone(),
                    provider: t.provider.as_str(),
                    model: t.model_name.clone().unwrap_or_default(),
                    alias: t.model_alias.clone().unwrap_or_default(),
                    weight: t.weight,
                    upstream: format!("{scheme}://{}:{}", t.upstream.host, t.upstream.port),
                });
            }
        }
        View { routes, targets }
    }
}

pub fn render(view: &View, reg: &Registry) -> String {
    let mut o = Vec::with_capacity(4096);
    o.extend_from_slice(b"{\"version\":");
    push_quoted(env!("CARGO_PKG_VERSION"), &mut o);
    o.extend_from_slice(b",\"workers\":[");
    for (i, g) in reg.gauges.iter().enumerate() {
        comma(&mut o, i);
        let driver = reg.drivers.get(i).copied().unwrap_or("starting");
        o.extend_from_slice(
            format!(
                "{{\"id\":{i},\"io_driver\":\"{driver}\",\"open_connections\":{},\"in_flight\":{}}}",
                g.open_connections, g.in_flight
            )
            .as_bytes(),
        );
    }
    o.extend_from_slice(b"],\"proxy_overhead_us\":");
    percentiles(&mut o, &reg.core.overhead, 1.0);
    o.extend_from_slice(b",\"time_to_first_token_ms\":");
    percentiles(&mut o, &reg.core.ttft, 1000.0);
    o.extend_from_slice(b",\"routes\":[");
    for (i, (name, paths, ai)) in view.routes.iter().enumerate() {
        comma(&mut o, i);
        o.extend_from_slice(b"{\"name\":");
        push_quoted(name, &mut o);
        o.extend_from_slice(b",\"paths\":[");
        for (j, p) in paths.iter().enumerate() {
            comma(&mut o, j);
            push_quoted(p, &mut o);
        }
        o.extend_from_slice(format!("],\"ai_proxy\":{ai}}}").as_bytes());
    }
    o.extend_from_slice(b"],\"targets\":[");
    for (i, t) in view.targets.iter().enumerate() {
        comma(&mut o, i);
        target(&mut o, t, reg);
    }
    o.extend_from_slice(b"]}");
    String::from_utf8_lossy(&o).into_owned()
}

fn target(o: &mut Vec<u8>, t: &TargetInfo, reg: &Registry) {
    o.extend_from_slice(b"{\"plugin\":");
    push_quoted(&t.plugin, o);
    o.extend_from_slice(b",\"provider\":");
    push_quoted(t.provider, o);
    o.extend_from_slice(b",\"model\":");
    push_quoted(&t.model, o);
    o.extend_from_slice(b",\"alias\":");
    push_quoted(&t.alias, o);
    o.extend_from_slice(b",\"upstream\":");
    push_quoted(&t.upstream, o);
    let merged = reg.merged.as_ref().and_then(|m| m.targets.get(&t.key));
    let tally = merged.map(|m| m.tally).unwrap_or_default();
    let open_on = reg.open.iter().filter(|keys| keys.contains(&t.key)).count();
    let health = if open_on == 0 { "healthy" } else { "unhealthy" };
    o.extend_from_slice(
        format!(
            ",\"weight\":{},\"health\":\"{health}\",\"breaker_open_on_workers\":{open_on},\"requests\":{},\"failures\":{},\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{},\"cost\":{}",
            t.weight, tally.requests, tally.failures, tally.prompt_tokens, tally.completion_tokens, tally.total_tokens, tally.cost
        )
        .as_bytes(),
    );
    let hists = reg.targets.get(&t.key);
    o.extend_from_slice(b",\"latency_ms\":");
    match hists {
        Some(h) => percentiles(o, &h.provider, 1000.0),
        None => percentiles(o, &super::new_histogram(), 1000.0),
    }
    o.extend_from_slice(b",\"time_to_first_token_ms\":");
    match hists {
        Some(h) => percentiles(o, &h.ttft, 1000.0),
        None => percentiles(o, &super::new_histogram(), 1000.0),
    }
    o.push(b'}');
}

/// `{"count":N,"p50":..,"p90":..,"p99":..,"p99.9":..,"max":..}` in the unit `divisor` gives.
fn percentiles(o: &mut Vec<u8>, h: &Histogram<u64>, divisor: f64) {
    let q = |p: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(p) as f64 / divisor
        }
    };
    let max = if h.is_empty() {
        0.0
    } else {
        h.max() as f64 / divisor
    };
    o.extend_from_slice(
        format!(
            "{{\"count\":{},\"p50\":{},\"p90\":{},\"p99\":{},\"p99.9\":{},\"max\":{}}}",
            h.len(),
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            max
        )
        .as_bytes(),
    );
}

fn comma(o: &mut Vec<u8>, i: usize) {
    if i > 0 {
        o.push(b',');
    }
}
