//! Rate-limit counters across cores: what a core reports and what the merger sends back.
//!
//! A counter is one window of one limiter for one identity (`consumer`, IP, header value...):
//! `(limiter id, identity, window length, window start)`. Each core counts its own hits in its
//! own memory and reports, on its merge tick, its absolute count for every counter that changed.
//! The merger keeps per counter every core's last reported count (plus counts that came from
//! no core: the tokenizer thread's, and later other nodes'), and sends every core the totals
//! with the per-core parts. A core then estimates a counter as
//! `total - (its part in the total) + (its own count now)`: other cores' hits up to the last
//! merge plus all of its own, never counted twice, never missed, with no lock on the request
//! path. Absolute counts make a report idempotent: a late or repeated one cannot inflate a total.

use std::collections::HashMap;
use std::sync::Arc;

/// A counter's window: its length in seconds and its start (unix seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Window {
    pub seconds: u64,
    pub start: u64,
}

impl Window {
    /// Past use: its successor has ended too, so no sliding estimate reads it any more.
    pub fn expired(&self, now_s: u64) -> bool {
        self.start + 2 * self.seconds <= now_s
    }
}

/// One core's count of one counter, reported on a merge tick.
#[derive(Debug, Clone)]
pub struct LimitReport {
    pub limiter: Arc<str>,
    pub identity: Box<[u8]>,
    pub window: Window,
    /// This core's count since the window started (absolute, not a delta).
    pub count: f64,
}

/// Counts that belong to no core (the tokenizer thread's counts), added to a counter.
#[derive(Debug, Clone)]
pub struct LimitExtra {
    pub limiter: Arc<str>,
    pub identity: Box<[u8]>,
    pub window: Window,
    pub amount: f64,
}

/// What the other nodes of a fleet counted in one window of one limiter, as of this node's last
/// fleet sync: every identity the fleet has counted there, this node's own share taken out.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteWindow {
    pub limiter: Arc<str>,
    pub window: Window,
    pub others: Vec<(Box<[u8]>, f64)>,
}

/// A counter's merged state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CounterTotal {
    /// Every core's last reported count, by core.
    pub per_core: Vec<f64>,
    /// Counts from no core of this node (the tokenizer thread's).
    pub extra: f64,
    /// The other nodes' counts (`policy: redis`, with `--redis`).
    pub remote: f64,
    pub total: f64,
}

impl CounterTotal {
    fn sum(&mut self) {
        self.total = self.per_core.iter().sum::<f64>() + self.extra + self.remote;
    }

    /// What this node counted (every core and the tokenizer), without the other nodes'.
    pub fn node(&self) -> f64 {
        self.total - self.remote
    }

    /// What core `core` contributed to `total`.
    pub fn own(&self, core: usize) -> f64 {
        self.per_core.get(core).copied().unwrap_or(0.0)
    }
}

/// Every counter of one limiter, by identity, then by window.
#[derive(Debug, Clone, Default)]
pub struct LimiterTotals {
    pub identities: HashMap<Box<[u8]>, Vec<(Window, CounterTotal)>>,
}

impl LimiterTotals {
    pub fn counter(&self, identity: &[u8], window: Window) -> Option<&CounterTotal> {
        self.identities
            .get(identity)?
            .iter()
            .find(|(w, _)| *w == window)
            .map(|(_, c)| c)
    }

    fn counter_mut(&mut self, identity: &[u8], window: Window) -> &mut CounterTotal {
        if !self.identities.contains_key(identity) {
            self.identities.insert(identity.into(), Vec::new());
        }
        let list = self
            .identities
            .get_mut(identity)
            .expect("inserted just above");
        let at = match list.iter().position(|(w, _)| *w == window) {
            Some(at) => at,
            None => {
                list.push((window, CounterTotal::default()));
                list.len() - 1
            }
        };
        &mut list[at].1
    }
}

/// Every limiter's totals, by limiter id; each behind its own `Arc`, so a broadcast copies
/// only the limiters that changed.
pub type MergedLimits = HashMap<Arc<str>, Arc<LimiterTotals>>;

/// The wall clock in unix seconds: windows are aligned to it, so every core and every node
/// agrees on where a window starts.
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Applies one core's reports.
pub fn apply_reports(limits: &mut MergedLimits, core: usize, reports: Vec<LimitReport>) {
    for r in reports {
        let totals = Arc::make_mut(limits.entry(r.limiter).or_default());
        let c = totals.counter_mut(&r.identity, r.window);
        if c.per_core.len() <= core {
            c.per_core.resize(core + 1, 0.0);
        }
        c.per_core[core] = r.count;
        c.sum();
    }
}

/// Adds counts that come from no core.
pub fn apply_extra(limits: &mut MergedLimits, extra: Vec<LimitExtra>) {
    for e in extra {
        let totals = Arc::make_mut(limits.entry(e.limiter).or_default());
        let c = totals.counter_mut(&e.identity, e.window);
        c.extra += e.amount;
        c.sum();
    }
}

/// Takes the other nodes' counts for the windows a fleet sync read: every counter of such a
/// window gets its `remote` part from the sync (zero for an identity no other node counted).
/// Returns whether anything changed; a limiter whose remote parts are as they were is not
/// copied (workers may share it).
pub fn apply_remote(limits: &mut MergedLimits, windows: Vec<RemoteWindow>) -> bool {
    let mut changed = false;
    for w in windows {
        let same = match limits.get(&w.limiter) {
            Some(totals) => same_remote(totals, &w),
            None => w.others.is_empty(),
        };
        if same {
            continue;
        }
        changed = true;
        let totals = Arc::make_mut(limits.entry(w.limiter).or_default());
        for list in totals.identities.values_mut() {
            for (window, c) in list.iter_mut() {
                if *window == w.window && c.remote != 0.0 {
                    c.remote = 0.0;
                    c.sum();
                }
            }
        }
        for (identity, others) in w.others {
            let c = totals.counter_mut(&identity, w.window);
            c.remote = others.max(0.0);
            c.sum();
        }
    }
    changed
}

/// Whether `totals` already holds exactly `w`'s remote parts.
fn same_remote(totals: &LimiterTotals, w: &RemoteWindow) -> bool {
    let held = (totals.identities.values().flatten())
        .filter(|(window, c)| *window == w.window && c.remote != 0.0)
        .count();
    held == w.others.len()
        && (w.others.iter()).all(|(identity, others)| {
            totals
                .counter(identity, w.window)
                .is_some_and(|c| c.remote == others.max(0.0))
        })
}

/// Drops counters whose windows no estimate reads any more, and limiters left empty.
pub fn expire(limits: &mut MergedLimits, now_s: u64) {
    limits.retain(|_, totals| {
        let stale = totals
            .identities
            .values()
            .any(|list| list.iter().any(|(w, _)| w.expired(now_s)));
        if stale {
            let t = Arc::make_mut(totals);
            t.identities.retain(|_, list| {
                list.retain(|(w, _)| !w.expired(now_s));
                !list.is_empty()
            });
        }
        !totals.identities.is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(core_count: f64, start: u64) -> LimitReport {
        LimitReport {
            limiter: Arc::from("rl"),
            identity: b"c:alice".as_slice().into(),
            window: Window { seconds: 60, start },
            count: core_count,
        }
    }

    #[test]
    fn absolute_reports_sum_per_core_and_never_twice() {
        let mut m = MergedLimits::new();
        apply_reports(&mut m, 0, vec![report(3.0, 60)]);
        apply_reports(&mut m, 1, vec![report(2.0, 60)]);
        // Core 0 reports again: its count replaces its part.
        apply_reports(&mut m, 0, vec![report(5.0, 60)]);
        apply_extra(
            &mut m,
            vec![LimitExtra {
                limiter: Arc::from("rl"),
                identity: b"c:alice".as_slice().into(),
                window: Window {
                    seconds: 60,
                    start: 60,
                },
                amount: 1.5,
            }],
        );
        let c = m[&Arc::from("rl")]
            .counter(
                b"c:alice",
                Window {
                    seconds: 60,
                    start: 60,
                },
            )
            .unwrap()
            .clone();
        assert_eq!(
            (c.total, c.own(0), c.own(1), c.own(7)),
            (8.5, 5.0, 2.0, 0.0)
        );
        let w = Window {
            seconds: 60,
            start: 60,
        };
        let first = RemoteWindow {
            limiter: Arc::from("rl"),
            window: w,
            others: vec![
                (b"c:alice".as_slice().into(), 10.0),
                (b"c:bob".as_slice().into(), 4.0),
            ],
        };
        assert!(apply_remote(&mut m, vec![first.clone()]));
        let shared = m[&Arc::from("rl")].clone();
        assert!(!apply_remote(&mut m, vec![first]), "the same counts again");
        assert!(
            Arc::ptr_eq(&shared, &m[&Arc::from("rl")]),
            "unchanged: not copied"
        );
        let none = RemoteWindow {
            limiter: Arc::from("other"),
            window: w,
            others: Vec::new(),
        };
        assert!(!apply_remote(&mut m, vec![none]));
        assert!(!m.contains_key(&Arc::from("other")));
        let alice = m[&Arc::from("rl")].counter(b"c:alice", w).unwrap().clone();
        assert_eq!((alice.total, alice.node(), alice.own(0)), (18.5, 8.5, 5.0));
        let bob = m[&Arc::from("rl")].counter(b"c:bob", w).unwrap().clone();
        assert_eq!((bob.total, bob.node()), (4.0, 0.0));
        // A later sync in which bob is gone from the fleet's counts.
        assert!(apply_remote(
            &mut m,
            vec![RemoteWindow {
                limiter: Arc::from("rl"),
                window: w,
                others: vec![(b"c:alice".as_slice().into(), 11.0)],
            }],
        ));
        assert_eq!(m[&Arc::from("rl")].counter(b"c:bob", w).unwrap().total, 0.0);
        assert_eq!(
            m[&Arc::from("rl")].counter(b"c:alice", w).unwrap().total,
            19.5
        );
        expire(&mut m, 179);
        assert_eq!(m.len(), 1);
        expire(&mut m, 180);
        assert!(m.is_empty());
    }
}
