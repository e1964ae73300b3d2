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
