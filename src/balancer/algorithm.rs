//! The single entry point the proxy calls to choose a target, whatever algorithm the plugin
//! configured.
//!
//! Algorithms only read a snapshot the caller assembles (`PickInput`), so they stay pure: no
//! clocks, no I/O, nothing shared between cores. The only state kept here is what an algorithm
//! cannot recompute per request: round-robin scores and the consistent-hashing ring.

use std::cmp::Ordering;

use crate::config::Algorithm;

use super::consistent_hash::ConsistentHash;
use super::priority::Priority;
use super::round_robin::SmoothRoundRobin;
use super::{least_connections, lowest_latency, lowest_usage};

/// What an algorithm may look at: this core's view = merged totals from all cores plus this core's unsent deltas.
pub struct StatsView<'a> {
    /// accumulated usage per target index, already in the strategy's unit (tokens or cost)
    pub usage: &'a [f64],
    /// peak-EWMA latency score per target (ms or ms/token), None = never observed
    pub latency: &'a [Option<f64>],
    /// requests in flight on THIS core per target
    pub in_flight: &'a [u32],
}

/// One request's question to the balancer. Everything is borrowed, so the caller builds one
/// per pick (and per retry) without allocating.
pub struct PickInput<'a> {
    /// target indices allowed for this request (same model alias), in config order
    pub candidates: &'a [usize],
    /// per target index, >= 1
    pub weights: &'a [u32],
    pub stats: StatsView<'a>,
    /// value of the hash_on_header header, if the request has it
    pub hash_key: Option<&'a [u8]>,
    /// false for targets already tried by this request or with an open circuit breaker
    pub eligible: &'a dyn Fn(usize) -> bool,
}

impl PickInput<'_> {
    /// Clamped to 1 and defaulted for out-of-range indices, so that a stale or short slice can
    /// skew a pick but never divide by zero or panic on the request path.
    pub(crate) fn weight(&self, t: usize) -> u32 {
        self.weights.get(t).copied().unwrap_or(1).max(1)
    }

    pub(crate) fn is_eligible(&self, t: usize) -> bool {
        (self.eligible)(t)
    }

    /// Smooth weighted round-robin over the eligible candidates that also pass `extra`; the
    /// shared fallback of every algorithm that has nothing better to go on.
    pub(crate) fn round_robin(
        &self,
        rr: &mut SmoothRoundRobin,
        extra: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        rr.pick(
            self.candidates,
            |t| self.weight(t),
            |t| self.is_eligible(t) && extra(t),
        )
    }
}

/// One core's balancing state for one plugin. Cheap to clone, so a config reload can build it
/// once (the ring is the only costly part) and hand each core a copy.
#[derive(Debug, Clone)]
pub struct Balancer {
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    RoundRobin(SmoothRoundRobin),
    LowestUsage,
    LowestLatency,
    LeastConnections,
    ConsistentHashing(ConsistentHash),
    Priority(Priority),
}

impl Balancer {
    /// `weights` covers every target of the plugin (not just one alias's candidates), so the
    /// ring and the round-robin scores are indexed like the config. `slots` only matters for
    /// consistent hashing.
    pub fn new(kind: Algorithm, weights: &[u32], slots: u32) -> Balancer {
        let state = match kind {
            Algorithm::RoundRobin => State::RoundRobin(SmoothRoundRobin::new(weights.len())),
            Algorithm::LowestUsage => State::LowestUsage,
            Algorithm::LowestLatency => State::LowestLatency,
            Algorithm::LeastConnections => State::LeastConnections,
            Algorithm::ConsistentHashing => {
                State::ConsistentHashing(ConsistentHash::new(weights, slots))
            }
            Algorithm::Priority => State::Priority(Priority::new(weights.len())),
        };
        Balancer { state }
    }

    pub fn kind(&self) -> Algorithm {
        match self.state {
            State::RoundRobin(_) => Algorithm::RoundRobin,
            State::LowestUsage => Algorithm::LowestUsage,
            State::LowestLatency => Algorithm::LowestLatency,
            State::LeastConnections => Algorithm::LeastConnections,
            State::ConsistentHashing(_) => Algorithm::ConsistentHashing,
            State::Priority(_) => Algorithm::Priority,
        }
    }

    /// `None` only when no candidate is eligible; never returns a non-candidate.
    pub fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        match &mut self.state {
            State::RoundRobin(rr) => input.round_robin(rr, |_| true),
            State::LowestUsage => lowest_usage::pick(input),
            State::LowestLatency => lowest_latency::pick(input),
            State::LeastConnections => least_connections::pick(input),
            State::ConsistentHashing(ring) => ring.pick(input),
            State::Priority(p) => p.pick(input),
        }
    }
}

/// The eligible candidate that `cmp` orders first. Equal keys go to the lower target index
/// (not the earlier candidate), as docs/decisions.md states, so the answer does not depend on how the
/// caller happened to order the candidate list.
pub(crate) fn pick_min(
    input: &PickInput<'_>,
    cmp: impl Fn(usize, usize) -> Ordering,
) -> Option<usize> {
    let mut best: Option<usize> = None;
    for &t in input.candidates {
        if !input.is_eligible(t) {
            continue;
        }
        best = Some(match best {
            None => t,
            Some(b) => match cmp(t, b) {
                Ordering::Less => t,
                Ordering::Equal if t < b => t,
                _ => b,
            },
        });
    }
    best
}

/// Float order for scores in which NaN sorts after everything, so one corrupt statistic makes
/// its target unattractive instead of making the comparison (and the pick) arbitrary.
pub(crate) fn cmp_score(a: f64, b: f64) -> Ordering {
    let fix = |x: f64| if x.is_nan() { f64::INFINITY } else { x };
    fix(a).partial_cmp(&fix(b)).unwrap_or(Ordering::Equal)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Owned backing storage for a `PickInput`, so tests can mutate stats between picks.
    pub(crate) struct Fixture {
        pub candidates: Vec<usize>,
        pub weights: Vec<u32>,
        pub usage: Vec<f64>,
        pub latency: Vec<Option<f64>>,
        pub in_flight: Vec<u32>,
    }

    impl Fixture {
        pub fn new(weights: &[u32]) -> Fixture {
            let n = weights.len();
            Fixture {
                candidates: (0..n).collect(),
                weights: weights.to_vec(),
                usage: vec![0.0; n],
                latency: vec![None; n],
                in_flight: vec![0; n],
            }
        }

        pub fn input<'a>(
            &'a self,
            hash_key: Option<&'a [u8]>,
            eligible: &'a dyn Fn(usize) -> bool,
        ) -> PickInput<'a> {
            PickInput {
                candidates: &self.candidates,
                weights: &self.weights,
                stats: StatsView {
                    usage: &self.usage,
                    latency: &self.latency,
                    in_flight: &self.in_flight,
                },
                hash_key,
                eligible,
            }
        }
    }

    pub(crate) const ALL: [Algorithm; 6] = [
        Algorithm::RoundRobin,
        Algorithm::LowestUsage,
        Algorithm::LowestLatency,
        Algorithm::LeastConnections,
        Algorithm::ConsistentHashing,
        Algorithm::Priority,
    ];

    #[test]
    fn weighted_round_robin_sequence_through_balancer() {
        let f = Fixture::new(&[5, 1, 1]);
        let mut b = Balancer::new(Algorithm::RoundRobin, &f.weights, 10_000);
        let seq: Vec<_> = (0..7).map(|_| b.pick(&f.input(None, &|_| true))).collect();
        let [a, bb, c] = [Some(0), Some(1), Some(2)];
        assert_eq!(seq, vec![a, a, bb, a, c, a, a]);
    }

    #[test]
    fn every_algorithm_returns_none_when_nothing_is_eligible() {
        let mut f = Fixture::new(&[100, 100, 50]);
        f.latency = vec![Some(1.0), None, Some(3.0)];
        for kind in ALL {
            let mut b = Balancer::new(kind, &f.weights, 100);
            assert_eq!(b.kind(), kind);
            for key in [None, Some(&b"k"[..])] {
                assert_eq!(b.pick(&f.input(key, &|_| false)), None, "{kind:?}");
            }
        }
        let mut empty = Fixture::new(&[100, 100]);
        empty.candidates.clear();
        for kind in ALL {
            let mut b = Balancer::new(kind, &empty.weights, 100);
            assert_eq!(
                b.pick(&empty.input(Some(b"k"), &|_| true)),
                None,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn nan_scores_sort_last() {
        assert_eq!(cmp_score(f64::NAN, 1e300), Ordering::Greater);
        assert_eq!(cmp_score(0.0, -0.0), Ordering::Equal);
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random targets, weights, stats, candidate subsets and eligibility for every algorithm:
    /// the pick is always an eligible candidate, and `None` exactly when there is none.
    #[test]
    fn randomized_picks_are_always_eligible_candidates() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for round in 0..300 {
            let n = 1 + rng.below(8) as usize;
            let weights: Vec<u32> = (0..n).map(|_| 1 + rng.below(300) as u32).collect();
            let mut f = Fixture::new(&weights);
            let kind = ALL[round % ALL.len()];
            let mut b = Balancer::new(kind, &weights, 10 + rng.below(500) as u32);
            for _ in 0..40 {
                f.candidates = (0..n).filter(|_| rng.below(3) != 0).collect();
                f.usage = (0..n).map(|_| rng.below(5000) as f64 / 7.0).collect();
                f.latency = (0..n)
                    .map(|_| (rng.below(4) != 0).then(|| rng.below(900) as f64))
                    .collect();
                f.in_flight = (0..n).map(|_| rng.below(5) as u32).collect();
                let mask = rng.next();
                let eligible = move |t: usize| mask >> (t % 64) & 1 == 1;
                let key = rng.next().to_le_bytes();
                let key = (rng.below(2) == 0).then_some(&key[..]);
                let got = b.pick(&f.input(key, &eligible));
                let any = f.candidates.iter().any(|&t| eligible(t));
                match got {
                    Some(t) => assert!(f.candidates.contains(&t) && eligible(t), "{kind:?}"),
                    None => assert!(!any, "{kind:?} gave None with an eligible candidate"),
                }
            }
        }
    }
}
