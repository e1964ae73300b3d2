//! One core's view of one plugin's targets: merged totals plus this core's own deltas that the
//! merger has not acknowledged yet. Everything here is owned by one worker.

use super::hists::TargetHists;
use super::merger::{Merged, LATENCY_DECAY};
use super::peak_ewma::PeakEwma;
use super::{LatencySample, Tally};
use crate::config::{AiProxyConfig, LatencyStrategy, TargetKey, TokensCountStrategy};
use std::collections::VecDeque;
use std::time::Instant;

pub struct PluginStats {
    keys: Vec<TargetKey>,
    strategy: TokensCountStrategy,
    latency_strategy: LatencyStrategy,
    merged: Vec<Tally>,
    /// Deltas already sent, by report sequence number, until the merger's totals include them.
    unacked: VecDeque<(u64, Vec<Tally>)>,
    pending: Vec<Tally>,
    pending_latency: Vec<(usize, LatencySample)>,
    latency: Vec<PeakEwma>,
    /// This core's own failures that the merged totals already include.
    own_merged_failures: Vec<u64>,
    /// Other cores' failures already handed to this core's circuit breaker.
    seen_external_failures: Vec<u64>,
    /// Latency histograms per target since the last shipment to the merger.
    hists: Vec<TargetHists>,
    /// Requests in flight on this core, per target (least-connections is per core, as Kong's is).
    pub in_flight: Vec<u32>,
    /// Usage per target in the strategy's unit: what `lowest-usage` compares.
    pub usage_view: Vec<f64>,
    /// Latency score per target in the strategy's unit: what `lowest-latency` compares.
    pub latency_view: Vec<Option<f64>>,
}

impl PluginStats {
    pub fn new(plugin: &AiProxyConfig, merged: Option<&Merged>, core: usize) -> PluginStats {
        let n = plugin.targets.len();
        let mut s = PluginStats {
            keys: plugin.targets.iter().map(|t| t.key.clone()).collect(),
            strategy: plugin.balancer.tokens_count_strategy,
            latency_strategy: plugin.balancer.latency_strategy,
            merged: vec![Tally::default(); n],
            unacked: VecDeque::new(),
            pending: vec![Tally::default(); n],
            pending_latency: Vec::new(),
            latency: vec![PeakEwma::new(LATENCY_DECAY); n],
            own_merged_failures: vec![0; n],
            hists: vec![TargetHists::default(); n],
            seen_external_failures: vec![0; n],
            in_flight: vec![0; n],
            usage_view: vec![0.0; n],
            latency_view: vec![None; n],
        };
        if let Some(m) = merged {
            // Failures from before this balancer existed are history, not news for its breaker.
            let _ = s.apply_merged(m, core, Instant::now());
        }
        s
    }

    pub fn keys(&self) -> &[TargetKey] {
        &self.keys
    }

    pub fn start(&mut self, t: usize) {
        if let Some(n) = self.in_flight.get_mut(t) {
            *n += 1;
        }
    }

    pub fn finish(&mut self, t: usize) {
        if let Some(n) = self.in_flight.get_mut(t) {
            *n = n.saturating_sub(1);
        }
    }

    /// Counts a finished attempt: its tally and, for a completed response, its latency.
    pub fn record(&mut self, t: usize, tally: Tally, latency: Option<LatencySample>, now: Instant) {
        let Some(p) = self.pending.get_mut(t) else {
            return;
        };
        p.add(&tally);
        if let Some(u) = self.usage_view.get_mut(t) {
            *u += tally.amount(self.strategy);
        }
        if let Some(sample) = latency {
            self.pending_latency.push((t, sample));
            let value = self.unit(sample);
            if let Some(e) = self.latency.get_mut(t) {
                e.observe(value, now);
                self.latency_view[t] = e.value(now);
            }
        }
    }

    fn unit(&self, s: LatencySample) -> f64 {
        match self.latency_strategy {
            LatencyStrategy::E2e => s.e2e_ms,
            LatencyStrategy::Tpot => s.tpot_ms,
        }
    }

    /// Records one relayed response's timings (µs) in `t`'s histograms.
    pub fn record_timings(&mut self, t: usize, provider_us: u64, ttft_us: u64) {
        if let Some(h) = self.hists.get_mut(t) {
            h.provider.saturating_record(provider_us.max(1));
            h.ttft.saturating_record(ttft_us.max(1));
        }
    }

    /// Hands over the histograms filled since the last call, leaving empty ones.
    pub fn drain_hists(&mut self, out: &mut Vec<(TargetKey, TargetHists)>) {
        for (t, h) in self.hists.iter_mut().enumerate() {
            if !h.is_empty() {
                out.push((self.keys[t].clone(), std::mem::take(h)));
            }
        }
    }

    /// Requests in flight on this core across its targets.
    pub fn in_flight_total(&self) -> usize {
        self.in_flight.iter().map(|n| *n as usize).sum()
    }

    /// Moves everything counted since the last report into `report` under `seq`.
    pub fn drain_into(
        &mut self,
        seq: u64,
        tallies: &mut Vec<(TargetKey, Tally)>,
        latencies: &mut Vec<(TargetKey, LatencySample)>,
    ) {
        if self.pending.iter().any(|t| !t.is_zero()) {
            let sent =
                std::mem::replace(&mut self.pending, vec![Tally::default(); self.keys.len()]);
            for (t, tally) in sent.iter().enumerate() {
                if !tally.is_zero() {
                    tallies.push((self.keys[t].clone(), *tally));
                }
            }
            self.unacked.push_back((seq, sent));
        }
        for (t, sample) in self.pending_latency.drain(..) {
            if let Some(k) = self.keys.get(t) {
                latencies.push((k.clone(), sample));
            }
        }
    }

    /// Takes the merger's totals; deltas they now include stop counting twice. Returns, per
    /// target, how many failures other cores reported since the previous merge, so this core's
    /// circuit breaker sees them too.
    pub fn apply_merged(&mut self, m: &Merged, core: usize, now: Instant) -> Vec<u64> {
        let acked = m.acked.get(core).copied().unwrap_or(0);
        while self.unacked.front().is_some_and(|(seq, _)| *seq <= acked) {
            if let Some((_, sent)) = self.unacked.pop_front() {
                for (t, tally) in sent.iter().enumerate() {
                    self.own_merged_failures[t] += tally.failures;
                }
            }
        }
        let mut external = vec![0; self.keys.len()];
        for (t, key) in self.keys.iter().enumerate() {
            let Some(target) = m.targets.get(key) else {
                continue;
            };
            self.merged[t] = target.tally;
            let others = target
                .tally
                .failures
                .saturating_sub(self.own_merged_failures[t]);
            external[t] = others.saturating_sub(self.seen_external_failures[t]);
            self.seen_external_failures[t] = others.max(self.seen_external_failures[t]);
            let score = match self.latency_strategy {
                LatencyStrategy::E2e => target.e2e.value(now),
                LatencyStrategy::Tpot => target.tpot.value(now),
            };
            if let Some(v) = score {
                let mut e = PeakEwma::new(LATENCY_DECAY);
                e.observe(v, now);
                self.latency[t] = e;
                self.latency_view[t] = Some(v);
            }
        }
        for t in 0..self.keys.len() {
            // This node's merged totals, the other fleet nodes' usage (empty outside a fleet),
            // then this core's own counts the merge does not include yet: each count once.
            let mut total = self.merged[t];
            total.add(&m.others_of(&self.keys[t]));
            for (_, sent) in &self.unacked {
                total.add(&sent[t]);
            }
            total.add(&self.pending[t]);
            self.usage_view[t] = total.amount(self.strategy);
        }
        external
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::merger::apply;
    use crate::stats::CoreReport;

    fn plugin() -> AiProxyConfig {
        let yaml = r#"_format_version: "3.0"
plugins:
  - name: ai-proxy-advanced
    config:
      balancer: {algorithm: lowest-usage, tokens_count_strategy: prompt-tokens}
      targets:
        - {route_type: llm/v1/chat, model: {provider: openai, name: a, options: {upstream_url: "http://127.0.0.1:1/a"}}}
        - {route_type: llm/v1/chat, model: {provider: openai, name: b, options: {upstream_url: "http://127.0.0.1:1/b"}}}
"#;
        let loaded = crate::config::load_str(yaml, "test", &|_| None).unwrap();
        let p = loaded.config.plugins()[0].as_ref().clone();
        p
    }

    fn prompt(n: u64) -> Tally {
        Tally {
            requests: 1,
            prompt_tokens: n,
            ..Tally::default()
        }
    }

    #[test]
    fn own_deltas_count_until_the_merger_includes_them() {
        let p = plugin();
        let now = Instant::now();
        let mut core0 = PluginStats::new(&p, None, 0);
        core0.record(0, prompt(100), None, now);
        assert_eq!(core0.usage_view, vec![100.0, 0.0]);

        // Sent but not yet merged: still counted once.
        let mut report = CoreReport {
            core: 0,
            seq: 1,
            ..CoreReport::default()
        };
        core0.drain_into(1, &mut report.tallies, &mut report.latencies);
        assert_eq!(core0.usage_view, vec![100.0, 0.0]);
        core0.apply_merged(
            &Merged {
                acked: vec![0, 0],
                ..Merged::default()
            },
            0,
            now,
        );
        assert_eq!(
            core0.usage_view,
            vec![100.0, 0.0],
            "unacked deltas still count"
        );

        // Another core's usage on target 1 arrives with the merge that includes ours.
        let mut merged = Merged {
            acked: vec![0, 0],
            ..Merged::default()
        };
        apply(&mut merged, report, now);
        apply(
            &mut merged,
            CoreReport {
                core: 1,
                seq: 1,
                tallies: vec![(core0.keys()[1].clone(), prompt(30))],
                ..CoreReport::default()
            },
            now,
        );
        core0.record(1, prompt(5), None, now);
        core0.apply_merged(&merged, 0, now);
        assert_eq!(
            core0.usage_view,
            vec![100.0, 35.0],
            "merged + own pending, nothing twice"
        );

        // Other fleet nodes' usage adds to the node's totals, for targets this node has not
        // served as well; their failures never reach this node's breakers.
        let mut others = crate::stats::merger::RemoteTotals::new();
        others.insert(core0.keys()[0].clone(), prompt(1000));
        others.insert(
            core0.keys()[1].clone(),
            Tally {
                failures: 7,
                ..prompt(1)
            },
        );
        merged.others = std::sync::Arc::new(others);
        let external = core0.apply_merged(&merged, 0, now);
        assert_eq!(core0.usage_view, vec![1100.0, 36.0]);
        assert_eq!(external, vec![0, 0]);
    }

    #[test]
    fn latency_view_uses_the_plugins_strategy() {
        let p = plugin(); // default latency_strategy: tpot
        let now = Instant::now();
        let mut s = PluginStats::new(&p, None, 0);
        assert_eq!(s.latency_view, vec![None, None]);
        s.record(
            1,
            Tally::default(),
            Some(LatencySample {
                e2e_ms: 500.0,
                tpot_ms: 5.0,
            }),
            now,
        );
        assert_eq!(s.latency_view, vec![None, Some(5.0)]);
        s.start(0);
        s.start(0);
        s.finish(0);
        assert_eq!(s.in_flight, vec![1, 0]);
    }
}
