//! The merger thread: sums every core's reports and sends each core the totals (and, in a
//! fleet, the other nodes' usage the fleet thread hands it, kept apart from this node's own).
//!
//! It is the only place that sees all cores, and it runs on its own thread, so it may block on
//! its channel; workers never do (they `try_send` and `try_recv` on their merge tick).

use super::limits::{
    apply_extra, apply_remote, apply_reports, expire, LimitExtra, MergedLimits, RemoteWindow,
};
use super::peak_ewma::PeakEwma;
use super::registry::{Registry, SharedRegistry};
use super::{CoreReport, LatencySample, Tally};
use crate::config::TargetKey;
use crate::usage::Counted;
use crossbeam::channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Decay of the latency score: peak-EWMA with 10 s decay (docs/decisions.md, "Balancing").
pub const LATENCY_DECAY: Duration = Duration::from_secs(10);

/// Totals for one target across all cores.
#[derive(Debug, Clone, Copy)]
pub struct MergedTarget {
    pub tally: Tally,
    pub e2e: PeakEwma,
    pub tpot: PeakEwma,
}

impl Default for MergedTarget {
    fn default() -> Self {
        MergedTarget {
            tally: Tally::default(),
            e2e: PeakEwma::new(LATENCY_DECAY),
            tpot: PeakEwma::new(LATENCY_DECAY),
        }
    }
}

/// Usage the other nodes of a fleet counted, per target, as of this node's last fleet sync
/// (requests, tokens and cost; never failures: circuit breakers stay per node).
pub type RemoteTotals = HashMap<TargetKey, Tally>;

/// What the merger sends back: this node's totals, per core the last report they include, and
/// the other nodes' usage.
///
/// A core balances on `targets` + `others` + its own unacknowledged and pending deltas. Each
/// count is in exactly one of them: `targets` holds every report of this node up to `acked`;
/// `others` is the fleet total minus exactly what this node wrote in the same sync (see
/// `fleet::usage`), so nothing of this node's is in it.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    pub acked: Vec<u64>,
    pub targets: HashMap<TargetKey, MergedTarget>,
    /// Rate-limit counters, with each core's part (`stats::limits`).
    pub limits: MergedLimits,
    /// Empty unless `--redis` is given.
    pub others: Arc<RemoteTotals>,
}

impl Merged {
    /// The other nodes' usage of `key` (zero outside a fleet).
    pub fn others_of(&self, key: &TargetKey) -> Tally {
        self.others.get(key).copied().unwrap_or_default()
    }
}

/// The channels workers use; cloned into each worker at start.
pub struct MergerHandle {
    pub reports: Sender<CoreReport>,
    /// Histograms and gauges for the admin API, filled by the merger.
    pub registry: SharedRegistry,
    /// Usage counted off the request path (tokenizer fallback), not tied to any core's report.
    pub counted: Sender<Counted>,
    /// Rate-limit counts from no core (tokens the tokenizer thread counted).
    pub limit_extra: Sender<Vec<LimitExtra>>,
    pub merged: Vec<Receiver<Arc<Merged>>>,
    /// Where the fleet sync thread hands over the other nodes' usage after each sync.
    pub remote: Sender<Arc<RemoteTotals>>,
    /// Where it hands over the other nodes' rate-limit counts (`policy: redis`).
    pub limit_remote: Sender<Vec<RemoteWindow>>,
}

/// Starts the merger for `cores` workers, broadcasting at most once per `interval`.
/// `histogram_log`: where to copy every shipped provider-latency histogram (`--histogram-log`).
pub fn spawn(
    cores: usize,
    interval: Duration,
    histogram_log: Option<Sender<Histogram<u64>>>,
) -> std::io::Result<MergerHandle> {
    let (report_tx, report_rx) = bounded::<CoreReport>(cores * 64);
    let (extra_tx, extra_rx) = bounded::<Counted>(4096);
    let (limit_tx, limit_rx) = bounded::<Vec<LimitExtra>>(4096);
    // The fleet thread sends at most once per sync interval; only the newest matters.
    let (remote_tx, remote_rx) = bounded::<Arc<RemoteTotals>>(4);
    let (limit_remote_tx, limit_remote_rx) = bounded::<Vec<RemoteWindow>>(16);
    let mut senders = Vec::with_capacity(cores);
    let mut receivers = Vec::with_capacity(cores);
    for _ in 0..cores {
        // A core that fell behind only needs the newest totals; two slots are plenty.
        let (tx, rx) = bounded::<Arc<Merged>>(2);
        senders.push(tx);
        receivers.push(rx);
    }
    let registry: SharedRegistry = Arc::new(Mutex::new(Registry::new(cores)));
    let shared = registry.clone();
    std::thread::Builder::new()
        .name("llmux-merger".into())
        .spawn(move || {
            run(
                Inputs {
                    reports: report_rx,
                    extra: extra_rx,
                    limit_extra: limit_rx,
                    remote: remote_rx,
                    limit_remote: limit_remote_rx,
                },
                senders,
                interval,
                shared,
                histogram_log,
            )
        })?;
    Ok(MergerHandle {
        reports: report_tx,
        registry,
        counted: extra_tx,
        limit_extra: limit_tx,
        merged: receivers,
        remote: remote_tx,
        limit_remote: limit_remote_tx,
    })
}

/// What flows into the merger.
struct Inputs {
    reports: Receiver<CoreReport>,
    extra: Receiver<Counted>,
    /// Rate-limit counts from no core (`LimitExtra`).
    limit_extra: Receiver<Vec<LimitExtra>>,
    remote: Receiver<Arc<RemoteTotals>>,
    limit_remote: Receiver<Vec<RemoteWindow>>,
}

fn run(
    inputs: Inputs,
    cores: Vec<Sender<Arc<Merged>>>,
    interval: Duration,
    registry: SharedRegistry,
    histogram_log: Option<Sender<Histogram<u64>>>,
) {
    let Inputs {
        reports,
        extra,
        limit_extra,
        remote,
        limit_remote,
    } = inputs;
    let mut state = Merged {
        acked: vec![0; cores.len()],
        ..Merged::default()
    };
    let mut dirty = false;
    let mut last_sent = Instant::now();
    let mut last_expiry = Instant::now();
    loop {
        match reports.recv_timeout(interval) {
            Ok(r) => {
                observe(&registry, &r, histogram_log.as_ref());
                apply(&mut state, r, Instant::now());
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(r) = reports.try_recv() {
            observe(&registry, &r, histogram_log.as_ref());
            apply(&mut state, r, Instant::now());
            dirty = true;
        }
        while let Ok(c) = extra.try_recv() {
            let tally = Tally::from_usage(&c.usage, c.costs.0, c.costs.1);
            if let (Some(consumer), Ok(mut reg)) = (&c.consumer, registry.lock()) {
                reg.add_consumers(&[(c.key.clone(), consumer.clone(), tally)]);
            }
            state.targets.entry(c.key).or_default().tally.add(&tally);
            dirty = true;
        }
        while let Ok(l) = limit_extra.try_recv() {
            apply_extra(&mut state.limits, l);
            dirty = true;
        }
        if last_expiry.elapsed() >= Duration::from_secs(1) {
            expire(&mut state.limits, super::limits::unix_seconds());
            last_expiry = Instant::now();
        }
        while let Ok(others) = remote.try_recv() {
            state.others = others;
            dirty = true;
        }
        while let Ok(windows) = limit_remote.try_recv() {
            dirty |= apply_remote(&mut state.limits, windows);
        }
        if dirty && last_sent.elapsed() >= interval / 2 {
            let snapshot = Arc::new(state.clone());
            if let Ok(mut reg) = registry.lock() {
                reg.merged = Some(snapshot.clone());
            }
            for tx in &cores {
                match tx.try_send(snapshot.clone()) {
                    Ok(()) | Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => {}
                }
            }
            dirty = false;
            last_sent = Instant::now();
        }
    }
}

/// Hands a report's histograms and gauges to the admin registry.
fn observe(registry: &SharedRegistry, r: &CoreReport, log: Option<&Sender<Histogram<u64>>>) {
    if let Ok(mut reg) = registry.lock() {
        reg.set_gauges(r.core, r.gauges, &r.open);
        reg.add_consumers(&r.consumers);
        if let Some(h) = &r.hists {
            reg.add(h);
        }
    }
    if let (Some(log), Some(h)) = (log, &r.hists) {
        for (_, t) in &h.targets {
            let _ = log.try_send(t.provider.clone());
        }
    }
}

/// Adds one core's report to the totals.
pub fn apply(state: &mut Merged, mut report: CoreReport, now: Instant) {
    let limits = std::mem::take(&mut report.limits);
    apply_reports(&mut state.limits, report.core, limits);
    for (key, tally) in report.tallies {
        state.targets.entry(key).or_default().tally.add(&tally);
    }
    for (key, LatencySample { e2e_ms, tpot_ms }) in report.latencies {
        let t = state.targets.entry(key).or_default();
        t.e2e.observe(e2e_ms, now);
        t.tpot.observe(tpot_ms, now);
    }
    if let Some(a) = state.acked.get_mut(report.core) {
        *a = (*a).max(report.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_key as key;

    #[test]
    fn sums_reports_and_acknowledges_each_core() {
        let key = key("m");
        let mut state = Merged {
            acked: vec![0, 0],
            ..Merged::default()
        };
        let tally = Tally {
            requests: 1,
            prompt_tokens: 10,
            ..Tally::default()
        };
        let now = Instant::now();
        for core in 0..2 {
            apply(
                &mut state,
                CoreReport {
                    core,
                    seq: 3,
                    tallies: vec![(key.clone(), tally)],
                    latencies: vec![(
                        key.clone(),
                        LatencySample {
                            e2e_ms: 100.0,
                            tpot_ms: 10.0,
                        },
                    )],
                    ..CoreReport::default()
                },
                now,
            );
        }
        assert_eq!(state.acked, vec![3, 3]);
        let t = &state.targets[&key];
        assert_eq!(t.tally.prompt_tokens, 20);
        assert_eq!(t.tally.requests, 2);
        assert_eq!(t.e2e.value(now), Some(100.0));
        assert_eq!(t.tpot.value(now), Some(10.0));
    }

    #[test]
    fn thread_passes_the_other_nodes_usage_to_every_core_beside_its_own_totals() {
        let handle = spawn(1, Duration::from_millis(5), None).unwrap();
        let key = key("k");
        let own = Tally {
            total_tokens: 7,
            ..Tally::default()
        };
        handle
            .reports
            .send(CoreReport {
                core: 0,
                seq: 1,
                tallies: vec![(key.clone(), own)],
                ..CoreReport::default()
            })
            .unwrap();
        let mut others = RemoteTotals::new();
        others.insert(
            key.clone(),
            Tally {
                total_tokens: 100,
                ..Tally::default()
            },
        );
        handle.remote.send(Arc::new(others)).unwrap();
        // Broadcasts come while something changed; the one after both inputs carries both.
        loop {
            let m = handle.merged[0]
                .recv_timeout(Duration::from_secs(10))
                .unwrap();
            if m.others_of(&key).total_tokens == 100 && m.targets.contains_key(&key) {
                // Kept apart: the node's own totals are not mixed with the fleet's.
                assert_eq!(m.targets[&key].tally.total_tokens, 7);
                break;
            }
        }
        let reg = handle.registry.lock().unwrap();
        let m = reg.merged.as_ref().unwrap();
        assert_eq!(m.others_of(&key).total_tokens, 100);
    }

    #[test]
    fn thread_broadcasts_totals_to_every_core() {
        let handle = spawn(2, Duration::from_millis(5), None).unwrap();
        let key = key("k");
        let tally = Tally {
            total_tokens: 7,
            ..Tally::default()
        };
        handle
            .reports
            .send(CoreReport {
                core: 1,
                seq: 1,
                tallies: vec![(key.clone(), tally)],
                ..CoreReport::default()
            })
            .unwrap();
        for rx in &handle.merged {
            let m = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            assert_eq!(m.targets[&key].tally.total_tokens, 7);
            assert_eq!(m.acked[1], 1);
        }
    }
}
