//! Balancer picks per algorithm, and the stats merge path (merger side and core side), for
//! plugins with 2, 16 and 256 targets.

#[path = "common.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use llmux::balancer::{Balancer, PickInput, StatsView};
use llmux::config::{load_str, AiProxyConfig, Algorithm, TargetKey};
use llmux::stats::merger::{apply, Merged};
use llmux::stats::{CoreReport, LatencySample, PluginStats, Tally};

const SIZES: [usize; 3] = [2, 16, 256];

const ALGORITHMS: [(&str, Algorithm); 6] = [
    ("round-robin", Algorithm::RoundRobin),
    ("lowest-usage", Algorithm::LowestUsage),
    ("lowest-latency", Algorithm::LowestLatency),
    ("least-connections", Algorithm::LeastConnections),
    ("consistent-hashing", Algorithm::ConsistentHashing),
    ("priority", Algorithm::Priority),
];

/// Deterministic pseudo-random numbers for stats values.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Mutable backing for a `PickInput`: what a worker's `PluginStats` holds.
struct Stats {
    usage: Vec<f64>,
    latency: Vec<Option<f64>>,
    in_flight: Vec<u32>,
}

fn picks(c: &mut Criterion) {
    let mut group = c.benchmark_group("balancer/pick");
    group.throughput(Throughput::Elements(1));
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    // Per-request tokens and latencies (ms) charged to the picked target after each pick.
    let costs: Vec<f64> = (0..64).map(|_| 200.0 + rng.below(2000) as f64).collect();
    let latencies: Vec<f64> = (0..64).map(|_| 300.0 + rng.below(3000) as f64).collect();
    let keys: Vec<Vec<u8>> = (0..256)
        .map(|i| format!("session-{i:08x}").into_bytes())
        .collect();
    for (name, kind) in ALGORITHMS {
        for n in SIZES {
            // Two priority groups (200 and 100) plus some lighter targets.
            let weights: Vec<u32> = (0..n).map(|t| [100, 100, 50, 200][t % 4]).collect();
            let candidates: Vec<usize> = (0..n).collect();
            let mut stats = Stats {
                usage: (0..n).map(|_| rng.below(1_000_000) as f64).collect(),
                latency: (0..n)
                    .map(|_| Some(300.0 + rng.below(3000) as f64))
                    .collect(),
                in_flight: (0..n).map(|_| rng.below(4) as u32).collect(),
            };
            let mut balancer = Balancer::new(kind, &weights, 10_000);
            let eligible = |_: usize| true;
            let mut i = 0usize;
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| {
                    i = i.wrapping_add(1);
                    let input = PickInput {
                        candidates: &candidates,
                        weights: &weights,
                        stats: StatsView {
                            usage: &stats.usage,
                            latency: &stats.latency,
                            in_flight: &stats.in_flight,
                        },
                        hash_key: Some(&keys[i % keys.len()]),
                        eligible: &eligible,
                    };
                    let t = balancer.pick(black_box(&input)).unwrap();
                    // What finishing the request records, so the next pick sees new stats.
                    stats.usage[t] += costs[i % 64];
                    stats.latency[t] = Some(latencies[i % 64]);
                    stats.in_flight[t] = (stats.in_flight[t] + 1) % 8;
                    t
                })
            });
        }
    }
    group.finish();
}

/// A lowest-usage plugin with `n` OpenAI targets, loaded as the gateway loads its config.
fn plugin(n: usize) -> AiProxyConfig {
    let mut yaml = String::from(
        "_format_version: \"3.0\"\nplugins:\n- name: ai-proxy-advanced\n  config:\n    \
         balancer: {algorithm: lowest-usage, tokens_count_strategy: total-tokens, \
         latency_strategy: e2e}\n    targets:\n",
    );
    for t in 0..n {
        yaml.push_str(&format!(
            "    - {{route_type: llm/v1/chat, model: {{provider: openai, name: model-{t}, \
             options: {{upstream_url: \"http://127.0.0.1:{}/v1/chat/completions\"}}}}}}\n",
            8000 + t
        ));
    }
    let loaded = load_str(&yaml, "bench", &|_| None).unwrap();
    let plugin = loaded.config.plugins()[0].as_ref().clone();
    assert_eq!(plugin.targets.len(), n);
    plugin
}

fn tally(t: usize) -> Tally {
    let prompt = 500 + 37 * t as u64 % 1500;
    Tally {
        requests: 3,
        prompt_tokens: prompt,
        completion_tokens: 250,
        total_tokens: prompt + 250,
        cost: prompt as f64 * 2.5e-6 + 250.0 * 1e-5,
        ..Tally::default()
    }
}

fn sample(t: usize) -> LatencySample {
    LatencySample {
        e2e_ms: 400.0 + t as f64,
        tpot_ms: 12.0,
    }
}

/// One core's report in which every target has a tally and a latency sample.
fn report(keys: &[TargetKey]) -> CoreReport {
    CoreReport {
        core: 0,
        seq: 1,
        tallies: keys
            .iter()
            .enumerate()
            .map(|(t, k)| (k.clone(), tally(t)))
            .collect(),
        latencies: keys
            .iter()
            .enumerate()
            .map(|(t, k)| (k.clone(), sample(t)))
            .collect(),
        ..CoreReport::default()
    }
}

fn merge(c: &mut Criterion) {
    let mut group = c.benchmark_group("stats");
    for n in SIZES {
        let plugin = plugin(n);
        let keys: Vec<TargetKey> = plugin.targets.iter().map(|t| t.key.clone()).collect();
        let now = Instant::now();

        // Merger thread: add one core's report to totals that already hold every target.
        let mut merged = Merged {
            acked: vec![0, 0],
            ..Merged::default()
        };
        apply(&mut merged, report(&keys), now);
        group.bench_function(BenchmarkId::new("merger_apply", n), |b| {
            b.iter_batched(
                || report(&keys),
                |r| apply(&mut merged, r, now),
                BatchSize::SmallInput,
            )
        });

        // Worker merge tick: drain this core's counts into a fresh report, then take the
        // merged totals (which acknowledge that report). Setup records one request per target.
        let fresh = || {
            let mut s = PluginStats::new(&plugin, None, 0);
            for t in 0..n {
                s.record(t, tally(t), Some(sample(t)), now);
            }
            s
        };
        group.bench_function(BenchmarkId::new("drain_into+apply_merged", n), |b| {
            b.iter_batched(
                fresh,
                |mut s| {
                    let mut r = CoreReport::default();
                    s.drain_into(1, &mut r.tallies, &mut r.latencies);
                    let external = s.apply_merged(black_box(&merged), 0, now);
                    (s, r, external)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = picks, merge }
criterion_main!(benches);
