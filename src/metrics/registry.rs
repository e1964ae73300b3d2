//! What the admin API reads: merged histograms, gauges per core and the latest merged totals.

use super::{CoreGauges, CoreHists, TargetHists};
use crate::stats::{Merged, TargetKey};
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
