//! One core's rate-limit counters, and its view of every core's (`stats::limits` explains the
//! scheme). Owned by the worker, kept across config reloads by limiter id, so a reload that keeps
//! a limiter keeps its counts.

use crate::stats::limits::{LimitReport, LimiterTotals, Window};
use crate::stats::Merged;
use std::collections::HashMap;
use std::sync::Arc;

/// Every limiter this core has counted for.
pub struct LimitsState {
    core: usize,
    limiters: Vec<LimiterState>,
    by_id: HashMap<Arc<str>, usize>,
}

struct LimiterState {
    id: Arc<str>,
    /// By identity (`c:<consumer id>`, `i:<ip>`...), one entry per live window. Looked up
    /// several times per request: foldhash rather than SipHash (see Cargo.toml).
    counters: HashMap<Box<[u8]>, Vec<Local>, foldhash::fast::RandomState>,
    /// The merger's latest totals for this limiter.
    merged: Option<Arc<LimiterTotals>>,
}

/// This core's count in one window.
struct Local {
    window: Window,
    count: f64,
    /// What the last report said.
    reported: f64,
}

impl LimitsState {
    pub fn new(core: usize) -> LimitsState {
        LimitsState {
            core,
            limiters: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    /// The index of limiter `id`, created on first use (at a config load, on the worker).
    pub fn bind(&mut self, id: &str, merged: Option<&Merged>) -> usize {
        if let Some(&at) = self.by_id.get(id) {
            return at;
        }
        let id: Arc<str> = Arc::from(id);
        let at = self.limiters.len();
        self.limiters.push(LimiterState {
            merged: merged.and_then(|m| m.limits.get(&id).cloned()),
            id: id.clone(),
            counters: HashMap::default(),
        });
        self.by_id.insert(id, at);
        at
    }

    /// Every core's count of `identity` in `window` of limiter `at`: the merged totals with
    /// this core's part replaced by its count now.
    pub fn count(&self, at: usize, identity: &[u8], window: Window) -> f64 {
        let Some(l) = self.limiters.get(at) else {
            return 0.0;
        };
        let merged = l
            .merged
            .as_deref()
            .and_then(|m| m.counter(identity, window));
        let local = l
            .counters
            .get(identity)
            .and_then(|list| list.iter().find(|c| c.window == window));
        match (merged, local) {
            (Some(m), Some(c)) => (m.total - m.own(self.core)).max(0.0) + c.count,
            (Some(m), None) => m.total,
            (None, Some(c)) => c.count,
            (None, None) => 0.0,
        }
    }

    /// Adds `amount` to this core's count of `identity` in `window`. Allocates only for an
    /// identity this core has not counted in a live window before.
    pub fn add(&mut self, at: usize, identity: &[u8], window: Window, amount: f64) {
        let core = self.core;
        let Some(l) = self.limiters.get_mut(at) else {
            return;
        };
        let list = match l.counters.get_mut(identity) {
            Some(list) => list,
            None => l.counters.entry(identity.into()).or_default(),
        };
        match list.iter_mut().find(|c| c.window == window) {
            Some(c) => c.count += amount,
            None => {
                // Counts are absolute: continue from what the merger already has of ours.
                let known = l
                    .merged
                    .as_deref()
                    .and_then(|m| m.counter(identity, window))
                    .map_or(0.0, |m| m.own(core));
                list.push(Local {
                    window,
                    count: known + amount,
                    reported: known,
                });
            }
        }
    }

    /// Every count that changed since the last call, for this core's report.
    pub fn drain(&mut self, out: &mut Vec<LimitReport>) {
        for l in &mut self.limiters {
            for (identity, list) in &mut l.counters {
                for c in list.iter_mut().filter(|c| c.count != c.reported) {
                    c.reported = c.count;
                    out.push(LimitReport {
                        limiter: l.id.clone(),
                        identity: identity.clone(),
                        window: c.window,
                        count: c.count,
                    });
                }
            }
        }
    }

    /// Forgets windows no estimate reads any more (after they were reported).
    pub fn sweep(&mut self, now_s: u64) {
        for l in &mut self.limiters {
            l.counters.retain(|_, list| {
                list.retain(|c| !c.window.expired(now_s) || c.count != c.reported);
                !list.is_empty()
            });
        }
    }

    /// Takes the merger's newest totals.
    pub fn adopt(&mut self, merged: &Merged) {
        for l in &mut self.limiters {
            l.merged = merged.limits.get(&l.id).cloned();
        }
    }

    /// Identities with live counters on this core.
    #[cfg(test)]
    pub fn identities(&self) -> usize {
        self.limiters.iter().map(|l| l.counters.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::limits::apply_reports;

    #[test]
    fn own_counts_replace_the_merged_part_and_reports_are_absolute() {
        let w = Window {
            seconds: 60,
            start: 600,
        };
        let mut a = LimitsState::new(0);
        let mut b = LimitsState::new(1);
        let (la, lb) = (a.bind("rl", None), b.bind("rl", None));
        a.add(la, b"c:x", w, 2.0);
        b.add(lb, b"c:x", w, 3.0);
        assert_eq!((a.count(la, b"c:x", w), b.count(lb, b"c:x", w)), (2.0, 3.0));
        let mut merged = Merged::default();
        for (core, s) in [(0, &mut a), (1, &mut b)] {
            let mut out = Vec::new();
            s.drain(&mut out);
            assert_eq!(out.len(), 1);
            apply_reports(&mut merged.limits, core, out);
        }
        a.adopt(&merged);
        b.adopt(&merged);
        assert_eq!(a.count(la, b"c:x", w), 5.0);
        a.add(la, b"c:x", w, 1.0);
        // Others' 3 (merged) + own 3 (2 merged, 1 not yet).
        assert_eq!(a.count(la, b"c:x", w), 6.0);
        assert_eq!(b.count(lb, b"c:x", w), 5.0);
        let mut out = Vec::new();
        a.drain(&mut out);
        assert_eq!(out[0].count, 3.0, "absolute, not the delta");
        a.drain(&mut out);
        assert_eq!(out.len(), 1, "unchanged counters are not reported again");
        // A reload binds the same id to the same counters.
        assert_eq!(a.bind("rl", Some(&merged)), la);
        a.sweep(720);
        assert_eq!(a.identities(), 0);
    }
}
