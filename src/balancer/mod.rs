//! Choosing one target among a request's candidates.
//!
//! Each worker keeps its own balancer state per plugin; nothing here is shared between cores.
//! This issue ships smooth weighted round-robin and passive health; the other Kong algorithms
//! plug in beside them.

pub mod health;
pub mod round_robin;

pub use health::Health;
pub use round_robin::SmoothRoundRobin;

use crate::config::AiProxyConfig;
use std::time::{Duration, Instant};

/// One worker's balancing state for one plugin.
pub struct PluginBalancer {
    rr: SmoothRoundRobin,
    health: Health,
}

impl PluginBalancer {
    pub fn new(plugin: &AiProxyConfig) -> PluginBalancer {
        PluginBalancer {
            rr: SmoothRoundRobin::new(plugin.targets.len()),
            health: Health::new(
                plugin.targets.len(),
                plugin.balancer.max_fails,
                Duration::from_millis(plugin.balancer.fail_timeout_ms),
            ),
        }
    }

    /// Picks a healthy candidate not in `tried`.
    pub fn pick(
        &mut self,
        plugin: &AiProxyConfig,
        candidates: &[usize],
        tried: &[usize],
    ) -> Option<usize> {
        let now = Instant::now();
        let health = &self.health;
        let t = self.rr.pick(
            candidates,
            |t| plugin.targets[t].weight,
            |t| !tried.contains(&t) && health.eligible(t, now),
        )?;
        self.health.on_pick(t);
        Some(t)
    }

    pub fn record_failure(&mut self, t: usize) {
        self.health.record_failure(t, Instant::now());
    }

    pub fn record_success(&mut self, t: usize) {
        self.health.record_success(t);
    }
}
