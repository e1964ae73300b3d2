//! Accounting: usage, latency, failures and latency histograms, counted per core and merged
//! across cores. This module is data and arithmetic; rendering it (`/status`, Prometheus,
//! `.hgrm`) is the admin side's job.
//!
//! Every worker counts into its own memory on the request path (no locks, no atomics shared
//! with another core); every merge interval it sends what it counted since the last send over
//! a crossbeam channel to the merger thread, which sums all cores and sends each core the
//! merged totals back. A core balances on merged totals plus its own deltas the merger has not
//! acknowledged yet, so its own recent traffic is never invisible and never counted twice.
//!
//! Targets are identified by their [`TargetKey`] (plugin, provider, model, alias, upstream
//! URL), not by position, so totals survive a config reload for every target that did not
//! change.

pub mod consumers;
pub mod hists;
pub mod limits;
pub mod merger;
pub mod peak_ewma;
pub mod registry;
pub mod view;

use crate::config::{TargetKey, TokensCountStrategy};
use crate::usage::Usage;

pub use hists::{micros, new_histogram, CoreHists, TargetHists};
pub use merger::{Merged, MergedTarget, MergerHandle, RemoteTotals};
pub use peak_ewma::PeakEwma;
pub use registry::{
    CoreGauges, FleetReport, FleetStateReport, HistReport, Registry, SharedRegistry,
};
pub use view::PluginStats;

/// Additive counters for one target; cores send deltas of this and the merger sums them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub requests: u64,
    pub failures: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub cost: f64,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.requests += o.requests;
        self.failures += o.failures;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.total_tokens += o.total_tokens;
        self.cost += o.cost;
    }

    /// Tokens and cost of one request (its `requests`/`failures` are counted elsewhere).
    pub fn from_usage(u: &Usage, input_cost: f64, output_cost: f64) -> Tally {
        Tally {
            prompt_tokens: u.prompt,
            completion_tokens: u.completion,
            total_tokens: u.total_tokens(),
            cost: u.cost(input_cost, output_cost),
            ..Tally::default()
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Tally::default()
    }

    /// Usage in the unit `lowest-usage` balances on.
    pub fn amount(&self, strategy: TokensCountStrategy) -> f64 {
        match strategy {
            TokensCountStrategy::PromptTokens => self.prompt_tokens as f64,
            TokensCountStrategy::CompletionTokens => self.completion_tokens as f64,
            TokensCountStrategy::TotalTokens => self.total_tokens as f64,
            TokensCountStrategy::Cost => self.cost,
        }
    }
}

/// One latency observation, kept in both of Kong's units so the merger serves either strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySample {
    /// Request sent to last byte, in ms.
    pub e2e_ms: f64,
    /// `e2e_ms` per completion token (the e2e value when the provider reported none).
    pub tpot_ms: f64,
}

/// What one core counted since its previous report.
#[derive(Default)]
pub struct CoreReport {
    pub core: usize,
    /// Increases by one per report; the merger echoes the last one it applied.
    pub seq: u64,
    pub tallies: Vec<(TargetKey, Tally)>,
    pub latencies: Vec<(TargetKey, LatencySample)>,
    pub gauges: CoreGauges,
    /// Targets whose circuit breaker is open on this core now.
    pub open: Vec<TargetKey>,
    /// Latency histograms, shipped about once a second rather than every tick.
    pub hists: Option<Box<HistReport>>,
    /// This core's count of every rate-limit counter that changed since its last report.
    pub limits: Vec<limits::LimitReport>,
    /// Requests, tokens and cost per (target, consumer) since the last report.
    pub consumers: Vec<(TargetKey, std::sync::Arc<str>, Tally)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_strategy() {
        let t = Tally {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 16,
            cost: 0.25,
            ..Tally::default()
        };
        assert_eq!(t.amount(TokensCountStrategy::PromptTokens), 10.0);
        assert_eq!(t.amount(TokensCountStrategy::CompletionTokens), 5.0);
        assert_eq!(t.amount(TokensCountStrategy::TotalTokens), 16.0);
        assert_eq!(t.amount(TokensCountStrategy::Cost), 0.25);
        let mut sum = t;
        sum.add(&t);
        assert_eq!(sum.total_tokens, 32);
        assert!(!sum.is_zero() && Tally::default().is_zero());
    }
}
