//! What the admin thread reads: merged histograms, gauges per core and the latest merged
//! totals. The merger thread fills it; the admin thread renders it (`admin::status`,
//! `admin::prometheus`). Workers never touch it.

use super::hists::{CoreHists, TargetHists};
use super::merger::Merged;
use crate::config::TargetKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub type SharedRegistry = Arc<Mutex<Registry>>;

#[derive(Default)]
pub struct Registry {
    pub targets: HashMap<TargetKey, TargetHists>,
    pub core: CoreHists,
    pub gauges: Vec<CoreGauges>,
    pub drivers: Vec<&'static str>,
    /// The merger's latest totals (requests, failures, tokens, cost, latency scores).
    pub merged: Option<Arc<Merged>>,
    /// Per core, the targets whose circuit breaker is open there.
    pub open: Vec<Vec<TargetKey>>,
    /// Requests, tokens and cost per (target, consumer label), summed over cores and the
    /// tokenizer thread.
    pub consumers: HashMap<(TargetKey, Arc<str>), super::Tally>,
    /// The fleet usage sync (`--redis`), filled by its thread after every attempt.
    pub fleet: Option<FleetReport>,
    /// The fleet configuration store (`--state redis://`), filled by the supervisor.
    pub fleet_state: Option<FleetStateReport>,
}

/// How the fleet usage sync is doing, for `/status` and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct FleetReport {
    /// This node's id in Redis (`HOST-PID-RANDOM`).
    pub node: String,
    /// The Redis URL, password hidden.
    pub redis: String,
    pub sync_interval_ms: u64,
    /// The last attempt succeeded.
    pub up: bool,
    /// Wall-clock time of the last successful sync, ms since the Unix epoch.
    pub last_success_unix_ms: Option<u64>,
    /// Successful syncs since start.
    pub syncs: u64,
    /// Failed connects and failed syncs since start.
    pub errors: u64,
    /// Request/reply exchanges with Redis (one per sync, plus script loads), for checking that
    /// the cost per interval does not grow with traffic.
    pub round_trips: u64,
    pub connects: u64,
    pub last_error: Option<String>,
}

/// How the fleet configuration store is doing.
#[derive(Debug, Clone, Default)]
pub struct FleetStateReport {
    pub redis: String,
    /// The configuration version this node runs (0: none from the fleet yet).
    pub version: u64,
    pub up: bool,
    /// Fleet configuration versions this node adopted from other nodes.
    pub adopted: u64,
    pub errors: u64,
    pub last_error: Option<String>,
}

/// Gauges a worker reports whenever one of them changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreGauges {
    pub open_connections: usize,
    pub in_flight: usize,
    /// Upstream connections idle in this worker's keep-alive pool.
    pub idle_upstream_connections: usize,
    /// Statistics-log buffers this worker dropped because the writer thread fell behind
    /// (a counter, carried with the gauges).
    pub statistics_log_dropped: u64,
}

/// A worker's histograms since its previous shipment.
pub struct HistReport {
    pub targets: Vec<(TargetKey, TargetHists)>,
    pub core: CoreHists,
}

impl Registry {
    pub fn new(cores: usize) -> Registry {
        Registry {
            gauges: vec![CoreGauges::default(); cores],
            open: vec![Vec::new(); cores],
            ..Registry::default()
        }
    }

    pub fn add(&mut self, report: &HistReport) {
        for (key, h) in &report.targets {
            self.targets.entry(key.clone()).or_default().add(h);
        }
        let _ = self.core.overhead.add(&report.core.overhead);
        let _ = self.core.ttft.add(&report.core.ttft);
    }

    /// Adds per-consumer counts.
    pub fn add_consumers(&mut self, tallies: &[(TargetKey, Arc<str>, super::Tally)]) {
        for (key, consumer, tally) in tallies {
            self.consumers
                .entry((key.clone(), consumer.clone()))
                .or_default()
                .add(tally);
        }
    }

    pub fn set_gauges(&mut self, core: usize, g: CoreGauges, open: &[TargetKey]) {
        if let Some(slot) = self.gauges.get_mut(core) {
            *slot = g;
        }
        if let Some(slot) = self.open.get_mut(core) {
            slot.clear();
            slot.extend_from_slice(open);
        }
    }
}
