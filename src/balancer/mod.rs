//! Choosing one target among a request's candidates.
//!
//! Each worker keeps its own balancer state per plugin; nothing here is shared between cores.
//! The algorithms are pure modules behind [`Balancer`]; [`PluginBalancer`] joins one to the
//! worker's passive health state and its view of merged usage and latency.

pub mod algorithm;
pub mod consistent_hash;
pub mod health;
pub mod least_connections;
pub mod lowest_latency;
pub mod lowest_usage;
pub mod priority;
pub mod round_robin;

pub use algorithm::{Balancer, PickInput, StatsView};
pub use health::Health;
pub use round_robin::SmoothRoundRobin;

use crate::config::{AiProxyConfig, TargetKey};
use crate::stats::{LatencySample, Merged, PluginStats, Tally};
use std::time::{Duration, Instant};

/// One worker's balancing state for one plugin.
pub struct PluginBalancer {
    balancer: Balancer,
    health: Health,
    weights: Vec<u32>,
    pub stats: PluginStats,
}

impl PluginBalancer {
    pub fn new(plugin: &AiProxyConfig, merged: Option<&Merged>, core: usize) -> PluginBalancer {
        let weights: Vec<u32> = plugin.targets.iter().map(|t| t.weight).collect();
        PluginBalancer {
            balancer: Balancer::new(plugin.balancer.algorithm, &weights, plugin.balancer.slots),
            health: Health::new(
                plugin.targets.len(),
                plugin.balancer.max_fails,
                Duration::from_millis(plugin.balancer.fail_timeout_ms),
            ),
            weights,
            stats: PluginStats::new(plugin, merged, core),
        }
    }

    /// Picks a healthy candidate not in `tried` and counts it in flight.
    pub fn pick(
        &mut self,
        candidates: &[usize],
        tried: &[usize],
        hash_key: Option<&[u8]>,
    ) -> Option<usize> {
        let now = Instant::now();
        let health = &self.health;
        let eligible = |t: usize| !tried.contains(&t) && health.eligible(t, now);
        let input = PickInput {
            candidates,
            weights: &self.weights,
            stats: StatsView {
                usage: &self.stats.usage_view,
                latency: &self.stats.latency_view,
                in_flight: &self.stats.in_flight,
            },
            hash_key,
            eligible: &eligible,
        };
        let t = self.balancer.pick(&input)?;
        self.health.on_pick(t);
        self.stats.start(t);
        Some(t)
    }

    /// An attempt on `t` failed (connect, timeout, listed status, cut stream).
    pub fn failed(&mut self, t: usize) {
        self.stats.finish(t);
        self.health.record_failure(t, Instant::now());
        let tally = Tally {
            requests: 1,
            failures: 1,
            ..Tally::default()
        };
        self.stats.record(t, tally, None, Instant::now());
    }

    /// `t` answered and the whole response was relayed.
    pub fn succeeded(&mut self, t: usize, tally: Tally, latency: Option<LatencySample>) {
        self.stats.finish(t);
        self.health.record_success(t);
        self.stats.record(t, tally, latency, Instant::now());
    }

    /// Takes the merger's totals; other cores' failures count toward this core's breakers.
    pub fn apply_merged(&mut self, m: &Merged, core: usize, now: Instant) {
        let external = self.stats.apply_merged(m, core, now);
        for (t, n) in external.into_iter().enumerate() {
            for _ in 0..n.min(u64::from(self.health_max_fails())) {
                self.health.record_failure(t, now);
            }
        }
    }

    /// Takes totals merged before this balancer existed: they are history, so other cores'
    /// failures in them do not count toward this core's breakers.
    pub fn adopt_merged(&mut self, m: &Merged, core: usize) {
        let _ = self.stats.apply_merged(m, core, Instant::now());
    }

    fn health_max_fails(&self) -> u32 {
        self.health.max_fails()
    }

    /// Keys of the targets this core's breaker keeps out right now.
    pub fn open_targets(&self, out: &mut Vec<TargetKey>) {
        let now = Instant::now();
        for (t, key) in self.stats.keys().iter().enumerate() {
            if !self.health.eligible(t, now) {
                out.push(key.clone());
            }
        }
    }

    /// The request ended on `t` without a verdict on the target (the client went away).
    pub fn abandoned(&mut self, t: usize) {
        self.stats.finish(t);
    }
}
