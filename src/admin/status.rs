//! `GET /status`: what the gateway runs and how each target is doing, merged across cores.
//!
//! The document is a set of `Serialize` structs, so its shape is visible as types; field order
//! is the JSON key order.

use crate::config::{GatewayConfig, TargetKey};
use crate::stats::{new_histogram, FleetReport, FleetStateReport, Registry, Tally};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::{Arc, RwLock};

/// The config-derived part of the status, rebuilt on every reload.
pub struct View {
    pub routes: Vec<RouteInfo>,
    pub targets: Vec<TargetInfo>,
}

pub type SharedView = Arc<RwLock<View>>;

#[derive(Serialize)]
pub struct RouteInfo {
    name: String,
    paths: Vec<String>,
    ai_proxy: bool,
}

pub struct TargetInfo {
    pub key: TargetKey,
    pub weight: u32,
    /// Scheme, host and port only: a query string may carry an auth parameter.
    pub upstream: String,
}

impl View {
    pub fn of(config: &GatewayConfig) -> View {
        let routes = config
            .routes
            .iter()
            .map(|r| RouteInfo {
                name: r.name.clone(),
                paths: r.paths.clone(),
                ai_proxy: r.plugin.is_some(),
            })
            .collect();
        let targets = config
            .plugins()
            .iter()
            .flat_map(|p| p.targets.iter())
            .map(|t| {
                let scheme = if t.upstream.tls { "https" } else { "http" };
                TargetInfo {
                    key: t.key.clone(),
                    weight: t.weight,
                    upstream: format!("{scheme}://{}:{}", t.upstream.host, t.upstream.port),
                }
            })
            .collect();
        View { routes, targets }
    }
}

#[derive(Serialize)]
struct Status<'a> {
    version: &'static str,
    /// `off` (no Redis), `starting`, `ok`, or `degraded` (Redis unreachable: balancing on this
    /// node's own counts plus the fleet totals of the last successful sync).
    fleet: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet_sync: Option<FleetSync<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet_state: Option<FleetState<'a>>,
    workers: Vec<WorkerStatus>,
    proxy_overhead_us: Percentiles,
    time_to_first_token_ms: Percentiles,
    routes: &'a [RouteInfo],
    targets: Vec<TargetStatus<'a>>,
    /// Spend per consumer (by username, else custom_id, else id), over every target.
    consumers: Vec<ConsumerStatus>,
}

#[derive(Serialize)]
struct ConsumerStatus {
    consumer: String,
    requests: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    cost: f64,
}

#[derive(Serialize)]
struct FleetSync<'a> {
    node: &'a str,
    redis: &'a str,
    state: &'static str,
    interval_ms: u64,
    last_success_unix_ms: Option<u64>,
    /// How long ago the last successful sync was, so a reader needs no clock.
    last_success_age_ms: Option<u64>,
    syncs_total: u64,
    errors_total: u64,
    round_trips_total: u64,
    connects_total: u64,
    last_error: Option<&'a str>,
}

#[derive(Serialize)]
struct FleetState<'a> {
    redis: &'a str,
    state: &'static str,
    version: u64,
    adopted_total: u64,
    errors_total: u64,
    last_error: Option<&'a str>,
}

/// A target's usage across the fleet: this node's totals plus the other nodes' as of the last
/// sync.
#[derive(Serialize)]
struct FleetUsage {
    requests: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    cost: f64,
}

#[derive(Serialize)]
struct WorkerStatus {
    id: usize,
    io_driver: &'static str,
    open_connections: usize,
    in_flight: usize,
    idle_upstream_connections: usize,
    statistics_log_dropped: u64,
}

#[derive(Serialize)]
struct TargetStatus<'a> {
    plugin: &'a str,
    provider: &'static str,
    model: &'a str,
    alias: &'a str,
    upstream: &'a str,
    weight: u32,
    health: &'static str,
    breaker_open_on_workers: usize,
    requests: u64,
    failures: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    cost: f64,
    /// Present in a fleet (`--redis`).
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet_usage: Option<FleetUsage>,
    latency_ms: Percentiles,
    time_to_first_token_ms: Percentiles,
}

/// Count and percentiles of one histogram, in the unit the field name says.
#[derive(Serialize)]
struct Percentiles {
    count: u64,
    p50: f64,
    p90: f64,
    p99: f64,
    #[serde(rename = "p99.9")]
    p99_9: f64,
    max: f64,
}

impl Percentiles {
    /// `divisor` converts the recorded µs into the reported unit.
    fn of(h: &Histogram<u64>, divisor: f64) -> Percentiles {
        let q = |p: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(p) as f64 / divisor
            }
        };
        Percentiles {
            count: h.len(),
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p99_9: q(0.999),
            max: if h.is_empty() {
                0.0
            } else {
                h.max() as f64 / divisor
            },
        }
    }
}

impl FleetUsage {
    fn of(t: &Tally) -> FleetUsage {
        FleetUsage {
            requests: t.requests,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            total_tokens: t.total_tokens,
            cost: t.cost,
        }
    }
}

fn sync_word(f: &FleetReport) -> &'static str {
    match (f.up, f.syncs + f.errors) {
        (true, _) => "ok",
        (false, 0) => "starting",
        (false, _) => "degraded",
    }
}

fn state_word(s: &FleetStateReport) -> &'static str {
    match (s.up, s.errors) {
        (true, _) => "ok",
        (false, 0) => "starting",
        (false, _) => "degraded",
    }
}

/// The fleet in one word: `degraded` if any part that is configured is down.
fn fleet_word(sync: Option<&FleetReport>, state: Option<&FleetStateReport>) -> &'static str {
    let words = [sync.map(sync_word), state.map(state_word)];
    let configured: Vec<&str> = words.iter().flatten().copied().collect();
    if configured.is_empty() {
        "off"
    } else if configured.contains(&"degraded") {
        "degraded"
    } else if configured.contains(&"starting") {
        "starting"
    } else {
        "ok"
    }
}

pub fn render(view: &View, reg: &Registry) -> String {
    let workers = reg
        .gauges
        .iter()
        .enumerate()
        .map(|(id, g)| WorkerStatus {
            id,
            io_driver: reg.drivers.get(id).copied().unwrap_or("starting"),
            open_connections: g.open_connections,
            in_flight: g.in_flight,
            idle_upstream_connections: g.idle_upstream_connections,
            statistics_log_dropped: g.statistics_log_dropped,
        })
        .collect();
    let empty = new_histogram();
    let targets = view
        .targets
        .iter()
        .map(|t| {
            let key = &t.key;
            let tally = reg
                .merged
                .as_ref()
                .and_then(|m| m.targets.get(key))
                .map(|m| m.tally)
                .unwrap_or_default();
            let fleet_usage = reg.fleet.as_ref().map(|_| {
                let mut all = tally;
                if let Some(m) = &reg.merged {
                    all.add(&m.others_of(key));
                }
                FleetUsage::of(&all)
            });
            let open_on = reg.open.iter().filter(|keys| keys.contains(key)).count();
            let hists = reg.targets.get(key);
            TargetStatus {
                plugin: &key.plugin,
                provider: key.provider.as_str(),
                model: &key.model,
                alias: &key.alias,
                upstream: &t.upstream,
                weight: t.weight,
                health: if open_on == 0 { "healthy" } else { "unhealthy" },
                breaker_open_on_workers: open_on,
                requests: tally.requests,
                failures: tally.failures,
                prompt_tokens: tally.prompt_tokens,
                completion_tokens: tally.completion_tokens,
                total_tokens: tally.total_tokens,
                cost: tally.cost,
                fleet_usage,
                latency_ms: Percentiles::of(hists.map_or(&empty, |h| &h.provider), 1000.0),
                time_to_first_token_ms: Percentiles::of(hists.map_or(&empty, |h| &h.ttft), 1000.0),
            }
        })
        .collect();
    let mut by_consumer: std::collections::BTreeMap<&str, crate::stats::Tally> =
        std::collections::BTreeMap::new();
    for ((_, consumer), tally) in &reg.consumers {
        by_consumer.entry(consumer).or_default().add(tally);
    }
    let consumers = by_consumer
        .into_iter()
        .map(|(consumer, t)| ConsumerStatus {
            consumer: consumer.to_string(),
            requests: t.requests,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            total_tokens: t.total_tokens,
            cost: t.cost,
        })
        .collect();
    let now = crate::fleet::sync::unix_ms();
    let status = Status {
        version: env!("CARGO_PKG_VERSION"),
        fleet: fleet_word(reg.fleet.as_ref(), reg.fleet_state.as_ref()),
        fleet_sync: reg.fleet.as_ref().map(|f| FleetSync {
            node: &f.node,
            redis: &f.redis,
            state: sync_word(f),
            interval_ms: f.sync_interval_ms,
            last_success_unix_ms: f.last_success_unix_ms,
            last_success_age_ms: f.last_success_unix_ms.map(|t| now.saturating_sub(t)),
            syncs_total: f.syncs,
            errors_total: f.errors,
            round_trips_total: f.round_trips,
            connects_total: f.connects,
            last_error: f.last_error.as_deref(),
        }),
        fleet_state: reg.fleet_state.as_ref().map(|s| FleetState {
            redis: &s.redis,
            state: state_word(s),
            version: s.version,
            adopted_total: s.adopted,
            errors_total: s.errors,
            last_error: s.last_error.as_deref(),
        }),
        workers,
        proxy_overhead_us: Percentiles::of(&reg.core.overhead, 1.0),
        time_to_first_token_ms: Percentiles::of(&reg.core.ttft, 1000.0),
        routes: &view.routes,
        targets,
        consumers,
    };
    // Serialising plain structs of strings and numbers cannot fail (f64 NaN becomes null).
    serde_json::to_string(&status).unwrap_or_default()
}
