//! `GET /metrics`: Prometheus text with Kong's AI metric names, plus llmux's own.
//!
//! Written by hand rather than with a metrics crate: every value comes from merged
//! HdrHistograms and merged counters that already exist, so a registry crate would only add a
//! second copy of them behind a custom collector.

use crate::stats::Registry;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt::{Display, Write};

/// Kong's `ai_llm_provider_latency_ms` buckets, in ms.
const LATENCY_BUCKETS_MS: [u64; 13] = [
    25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000,
];
/// Buckets for llmux's own overhead, in µs.
const OVERHEAD_BUCKETS_US: [u64; 10] = [10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 100000];

/// Kong labels by provider and model; several targets may share them.
#[derive(Default)]
struct Sums {
    requests: u64,
    failures: u64,
    prompt: u64,
    completion: u64,
    total: u64,
    cost: f64,
    latency: Option<Histogram<u64>>,
}

pub fn render(reg: &Registry) -> String {
    let by_model = sums_by_model(reg);
    let kong_labels = |(p, m): &(String, String)| {
        format!(
            "ai_provider=\"{}\",ai_model=\"{}\",cache_status=\"\",vector_db=\"\",embeddings_provider=\"\",embeddings_model=\"\",workspace=\"default\"",
            escape(p),
            escape(m)
        )
    };
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "ai_llm_requests_total",
        "counter",
        "AI requests total per ai_provider in Kong",
        by_model.iter().map(|(k, s)| (kong_labels(k), s.requests)),
    );
    family(
        &mut out,
        "ai_llm_tokens_total",
        "counter",
        "AI tokens total per ai_provider in Kong",
        by_model.iter().flat_map(|(k, s)| {
            [
                ("prompt_tokens", s.prompt),
                ("completion_tokens", s.completion),
                ("total_tokens", s.total),
            ]
            .map(|(kind, n)| (format!("{},token_type=\"{kind}\"", kong_labels(k)), n))
        }),
    );
    family(
        &mut out,
        "ai_llm_cost_total",
        "counter",
        "AI requests cost per ai_provider/cache in Kong",
        by_model.iter().map(|(k, s)| (kong_labels(k), s.cost)),
    );
    header(
        &mut out,
        "ai_llm_provider_latency_ms",
        "histogram",
        "LLM response Latency for each AI plugins per ai_provider in Kong",
    );
    for (k, s) in &by_model {
        if let Some(h) = &s.latency {
            histogram(
                &mut out,
                "ai_llm_provider_latency_ms",
                &kong_labels(k),
                h,
                &LATENCY_BUCKETS_MS,
                1000.0,
            );
        }
    }
    family(
        &mut out,
        "llmux_upstream_failures_total",
        "counter",
        "Attempts that failed (connect, timeout, reset, listed status, cut stream)",
        by_model.iter().map(|((p, m), s)| {
            (
                format!("ai_provider=\"{}\",ai_model=\"{}\"", escape(p), escape(m)),
                s.failures,
            )
        }),
    );
    header(
        &mut out,
        "llmux_proxy_overhead_us",
        "histogram",
        "Time llmux spends on a request before sending it upstream, in microseconds",
    );
    histogram(
        &mut out,
        "llmux_proxy_overhead_us",
        "",
        &reg.core.overhead,
        &OVERHEAD_BUCKETS_US,
        1.0,
    );
    header(
        &mut out,
        "llmux_time_to_first_token_ms",
        "histogram",
        "Request received until the response head was sent, in ms",
    );
    histogram(
        &mut out,
        "llmux_time_to_first_token_ms",
        "",
        &reg.core.ttft,
        &LATENCY_BUCKETS_MS,
        1000.0,
    );
    consumer_families(&mut out, reg);
    let per_worker = |value: fn(&crate::stats::CoreGauges) -> u64| {
        reg.gauges
            .iter()
            .enumerate()
            .map(move |(i, g)| (format!("worker=\"{i}\""), value(g)))
    };
    family(
        &mut out,
        "llmux_open_connections",
        "gauge",
        "Open client connections per worker",
        per_worker(|g| g.open_connections as u64),
    );
    family(
        &mut out,
        "llmux_in_flight_requests",
        "gauge",
        "Requests waiting on a provider per worker",
        per_worker(|g| g.in_flight as u64),
    );
    family(
        &mut out,
        "llmux_upstream_idle_connections",
        "gauge",
        "Provider connections idle in each worker's keep-alive pool",
        per_worker(|g| g.idle_upstream_connections as u64),
    );
    family(
        &mut out,
        "llmux_statistics_log_dropped_total",
        "counter",
        "Statistics-log buffers dropped because the log writer fell behind, per worker",
        per_worker(|g| g.statistics_log_dropped),
    );
    fleet(&mut out, reg);
    family(
        &mut out,
        "llmux_worker_info",
        "gauge",
        "One per worker, with the io driver it runs",
        reg.drivers
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("worker=\"{i}\",io_driver=\"{d}\""), 1)),
    );
    out
}

/// Spend per consumer (its username, else custom_id, else id), provider and model: requests,
/// tokens and cost, so a budget can be watched per consumer.
fn consumer_families(out: &mut String, reg: &Registry) {
    let mut by: BTreeMap<(String, String, String), crate::stats::Tally> = BTreeMap::new();
    for ((key, consumer), tally) in &reg.consumers {
        let k = (
            consumer.to_string(),
            key.provider.as_str().to_string(),
            key.model.clone(),
        );
        by.entry(k).or_default().add(tally);
    }
    let labels = |(c, p, m): &(String, String, String)| {
        format!(
            "consumer=\"{}\",ai_provider=\"{}\",ai_model=\"{}\"",
            escape(c),
            escape(p),
            escape(m)
        )
    };
    family(
        out,
        "llmux_consumer_requests_total",
        "counter",
        "AI requests per consumer",
        by.iter().map(|(k, t)| (labels(k), t.requests)),
    );
    family(
        out,
        "llmux_consumer_tokens_total",
        "counter",
        "AI tokens per consumer",
        by.iter().flat_map(|(k, t)| {
            [
                ("prompt_tokens", t.prompt_tokens),
                ("completion_tokens", t.completion_tokens),
                ("total_tokens", t.total_tokens),
            ]
            .map(|(kind, n)| (format!("{},token_type=\"{kind}\"", labels(k)), n))
        }),
    );
    family(
        out,
        "llmux_consumer_cost_total",
        "counter",
        "AI requests cost per consumer",
        by.iter().map(|(k, t)| (labels(k), t.cost)),
    );
}

/// The fleet sync and configuration store (`--redis`, `--state redis://`); nothing without them.
fn fleet(out: &mut String, reg: &Registry) {
    if let Some(f) = &reg.fleet {
        let node = format!("node=\"{}\"", escape(&f.node));
        let one = |v: u64| std::iter::once((node.clone(), v));
        family(out, "llmux_fleet_up", "gauge",
            "1 while the last fleet usage sync with Redis succeeded, else 0 (balancing on local counts)",
            one(u64::from(f.up)));
        family(
            out,
            "llmux_fleet_syncs_total",
            "counter",
            "Successful fleet usage syncs with Redis",
            one(f.syncs),
        );
        family(
            out,
            "llmux_fleet_sync_errors_total",
            "counter",
            "Failed fleet usage syncs and connection attempts",
            one(f.errors),
        );
        family(
            out,
            "llmux_fleet_redis_round_trips_total",
            "counter",
            "Request/reply exchanges with Redis made by the fleet usage sync (one per sync)",
            one(f.round_trips),
        );
        family(
            out,
            "llmux_fleet_last_sync_timestamp_seconds",
            "gauge",
            "Unix time of the last successful fleet usage sync (0: none yet)",
            std::iter::once((
                node.clone(),
                f.last_success_unix_ms.map_or(0.0, |t| t as f64 / 1000.0),
            )),
        );
    }
    if let Some(s) = &reg.fleet_state {
        let one = |v: u64| std::iter::once((String::new(), v));
        family(
            out,
            "llmux_fleet_config_version",
            "gauge",
            "Version of the fleet configuration this node runs (--state redis://)",
            one(s.version),
        );
        family(
            out,
            "llmux_fleet_config_adopted_total",
            "counter",
            "Fleet configuration versions written by other nodes and applied here",
            one(s.adopted),
        );
        family(
            out,
            "llmux_fleet_config_errors_total",
            "counter",
            "Failed calls to the fleet configuration store",
            one(s.errors),
        );
    }
}

/// Per (provider, model): the merged counters and every matching target's latency histogram.
fn sums_by_model(reg: &Registry) -> BTreeMap<(String, String), Sums> {
    let mut by_model: BTreeMap<(String, String), Sums> = BTreeMap::new();
    let labels =
        |key: &crate::config::TargetId| (key.provider.as_str().to_string(), key.model.clone());
    if let Some(m) = &reg.merged {
        for (key, t) in &m.targets {
            let s = by_model.entry(labels(key)).or_default();
            s.requests += t.tally.requests;
            s.failures += t.tally.failures;
            s.prompt += t.tally.prompt_tokens;
            s.completion += t.tally.completion_tokens;
            s.total += t.tally.total_tokens;
            s.cost += t.tally.cost;
        }
    }
    for (key, h) in &reg.targets {
        let s = by_model.entry(labels(key)).or_default();
        match &mut s.latency {
            Some(acc) => {
                let _ = acc.add(&h.provider);
            }
            None => s.latency = Some(h.provider.clone()),
        }
    }
    by_model
}

/// One metric family: its `HELP` and `TYPE` lines, then one sample per `(labels, value)`.
fn family<V: Display>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl Iterator<Item = (String, V)>,
) {
    header(out, name, kind, help);
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Cumulative buckets from an HdrHistogram recorded in µs; `unit_us` converts a bucket bound
/// to µs (1000 for ms buckets).
fn histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    h: &Histogram<u64>,
    bounds: &[u64],
    unit_us: f64,
) {
    let sep = if labels.is_empty() { "" } else { "," };
    for b in bounds {
        let upto = (*b as f64 * unit_us) as u64;
        let n = if h.is_empty() {
            0
        } else {
            h.count_between(0, upto)
        };
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.len());
    let sum = h.mean() * h.len() as f64 / unit_us;
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.len());
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
