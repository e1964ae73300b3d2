//! Spend per consumer: one core's requests, tokens and cost per (target, consumer) since its
//! last report. Reported on the merge tick and summed by the merger for `/metrics` and
//! `/status`; nothing balances on it.

use super::Tally;
use crate::config::TargetKey;
use std::collections::HashMap;
use std::sync::Arc;

/// Keyed by the target key's address (stable while its configuration generation lives) and
/// the consumer's index, so recording hashes two integers; the entry holds what the report
/// needs. An entry is allocated the first time a consumer uses a target, then reused.
#[derive(Default)]
pub struct ConsumerUsage {
    entries: HashMap<(usize, u32), Entry>,
}

struct Entry {
    key: TargetKey,
    consumer: Arc<str>,
    pending: Tally,
    /// Reports since this pair last had something to report.
    idle: u32,
}

/// Reports an idle pair is kept for (a minute at the default merge interval), so steady
/// traffic reuses its entry and a pair no longer used (a removed consumer, an old
/// configuration) lets its key go.
const KEEP_IDLE: u32 = 1200;

impl ConsumerUsage {
    /// Counts one request of `consumer` (index `c`, named `label`) on target `key`.
    pub fn record(&mut self, key: &TargetKey, c: u32, label: &str, tally: &Tally) {
        let id = (Arc::as_ptr(key) as usize, c);
        match self.entries.get_mut(&id) {
            // The address could be reused by a later generation's key: compare the key too.
            Some(e) if Arc::ptr_eq(&e.key, key) && &*e.consumer == label => e.pending.add(tally),
            _ => {
                self.entries.insert(
                    id,
                    Entry {
                        key: key.clone(),
                        consumer: Arc::from(label),
                        pending: *tally,
                        idle: 0,
                    },
                );
            }
        }
    }

    /// Moves what was counted since the last call into `out`; forgets pairs idle for long.
    pub fn drain(&mut self, out: &mut Vec<(TargetKey, Arc<str>, Tally)>) {
        self.entries.retain(|_, e| {
            if e.pending.is_zero() {
                e.idle += 1;
            } else {
                out.push((
                    e.key.clone(),
                    e.consumer.clone(),
                    std::mem::take(&mut e.pending),
                ));
                e.idle = 0;
            }
            e.idle < KEEP_IDLE
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_per_target_and_consumer() {
        let key = crate::config::test_key("m");
        let mut u = ConsumerUsage::default();
        let t = Tally {
            requests: 1,
            total_tokens: 5,
            ..Tally::default()
        };
        u.record(&key, 0, "alice", &t);
        u.record(&key, 0, "alice", &t);
        u.record(&key, 1, "bob", &t);
        let mut out = Vec::new();
        u.drain(&mut out);
        out.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(out.len(), 2);
        assert_eq!((&*out[0].1, out[0].2.total_tokens), ("alice", 10));
        out.clear();
        u.drain(&mut out);
        assert!(out.is_empty());
        for _ in 0..KEEP_IDLE {
            u.drain(&mut out);
        }
        assert!(u.entries.is_empty(), "idle pairs go");
    }
}
