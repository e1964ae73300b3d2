//! Peak-EWMA latency score, as Finagle's and linkerd's balancers keep it.
//!
//! A plain EWMA reacts slowly when a target gets slow, so it keeps receiving traffic while its
//! average catches up. Peak-EWMA jumps to any sample above the current value at once, and only
//! decays back down with time: a slow target is avoided right away, and trusted again gradually.
//!
//! The weight of the old value is `w = exp(-dt / decay)`, with `dt` the time since the last
//! observation, so the decay is per unit of time, not per sample: a burst of fast responses in
//! one millisecond cannot wash out a slow one. The half-life is `decay * ln 2` (6.93 s for
//! llmux's 10 s).
//!
//! Time is passed in, never read, so the type is deterministic and testable without sleeping.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct PeakEwma {
    decay_secs: f64,
    /// Current score and the latest instant it accounts for; `None` until the first sample,
    /// so "never observed" stays distinguishable from "observed as 0".
    state: Option<(f64, Instant)>,
}

impl PeakEwma {
    /// A zero `decay` means no memory: every sample below the peak replaces the value, except
    /// at `dt == 0` (see `observe`).
    pub fn new(decay: Duration) -> Self {
        PeakEwma {
            decay_secs: decay.as_secs_f64(),
            state: None,
        }
    }

    /// Samples that are NaN, infinite or negative are dropped: a latency cannot be any of those,
    /// and one of them would poison the score for good.
    ///
    /// Two samples at the same instant (`dt == 0`): a lower one has zero weight and changes
    /// nothing, a higher one still wins as a peak. Finagle behaves the same; the merge layer
    /// may hand several samples with one timestamp, and the worst of them is what should count.
    ///
    /// A `now` earlier than the last observation (samples from different cores arriving out of
    /// order) counts as `dt == 0` and does not move the stored instant back, so the next sample
    /// is not decayed twice over the same interval.
    pub fn observe(&mut self, sample: f64, now: Instant) {
        if !sample.is_finite() || sample < 0.0 {
            return;
        }
        let Some((value, stamp)) = &mut self.state else {
            self.state = Some((sample, now));
            return;
        };
        if sample > *value {
            *value = sample;
        } else {
            let dt = now.saturating_duration_since(*stamp).as_secs_f64();
            let w = old_weight(dt, self.decay_secs);
            *value = *value * w + sample * (1.0 - w);
        }
        if now > *stamp {
            *stamp = now;
        }
    }

    /// The score as of the last observation. Reads do not decay it: the score moves only on
    /// evidence, and every core reading the same merged value at slightly different instants
    /// gets the same number, so cores do not disagree about the ranking between merges.
    /// (Finagle instead decays toward 0 on read, which lures traffic back to an idle slow
    /// target as a probe; here such a target is retried once faster ones slow down or become
    /// ineligible.) `now` is taken so read-time decay can be added without touching callers.
    pub fn value(&self, _now: Instant) -> Option<f64> {
        self.state.map(|(value, _)| value)
    }
}

fn old_weight(dt: f64, decay_secs: f64) -> f64 {
    if dt <= 0.0 {
        1.0
    } else if decay_secs <= 0.0 {
        0.0
    } else {
        (-dt / decay_secs).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECAY: Duration = Duration::from_secs(10);

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9 * b.abs().max(1.0))
    }

    #[test]
    fn unobserved_is_none_and_first_sample_is_taken_as_is() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(DECAY);
        assert_eq!(e.value(t0), None);
        e.observe(42.0, t0);
        assert_eq!(e.value(t0 + secs(100.0)), Some(42.0), "reads do not decay");
    }

    #[test]
    fn a_higher_sample_replaces_the_value_at_once() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(DECAY);
        e.observe(10.0, t0);
        e.observe(500.0, t0 + secs(0.001));
        assert_eq!(e.value(t0), Some(500.0));
        e.observe(900.0, t0 + secs(0.001)); // dt == 0 does not block a peak
        assert_eq!(e.value(t0), Some(900.0));
    }

    #[test]
    fn lower_samples_pull_the_value_down_with_the_configured_half_life() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(DECAY);
        e.observe(100.0, t0);
        let half_life = 10.0 * std::f64::consts::LN_2;
        e.observe(0.0, t0 + secs(half_life));
        assert!(close(e.value(t0), 50.0), "{:?}", e.value(t0));

        // Steady samples of 20 every second: the gap to 20 shrinks by e^-0.1 per second.
        let mut e = PeakEwma::new(DECAY);
        e.observe(100.0, t0);
        for k in 1..=10 {
            e.observe(20.0, t0 + secs(f64::from(k)));
        }
        assert!(close(e.value(t0), 20.0 + 80.0 * (-1.0f64).exp()));
    }

    #[test]
    fn decay_depends_on_time_not_on_sample_count() {
        let t0 = Instant::now();
        let (mut one, mut many) = (PeakEwma::new(DECAY), PeakEwma::new(DECAY));
        one.observe(100.0, t0);
        many.observe(100.0, t0);
        one.observe(0.0, t0 + secs(4.0));
        for k in 1..=4 {
            many.observe(0.0, t0 + secs(f64::from(k)));
        }
        assert!(close(many.value(t0), one.value(t0).unwrap_or(f64::NAN)));
    }

    #[test]
    fn same_instant_lower_sample_changes_nothing() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(DECAY);
        e.observe(100.0, t0);
        e.observe(1.0, t0);
        assert_eq!(e.value(t0), Some(100.0));
    }

    #[test]
    fn clock_going_backwards_neither_panics_nor_decays() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(DECAY);
        e.observe(100.0, t0 + secs(20.0));
        e.observe(1.0, t0); // earlier than the last observation
        assert_eq!(e.value(t0), Some(100.0));
        // The stored instant stayed at t0+20, so 10 s later means one decay constant.
        e.observe(0.0, t0 + secs(30.0));
        assert!(close(e.value(t0), 100.0 * (-1.0f64).exp()));
    }

    #[test]
    fn garbage_samples_are_ignored_and_zero_decay_forgets() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(DECAY);
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            e.observe(bad, t0);
        }
        assert_eq!(e.value(t0), None);
        let mut e = PeakEwma::new(Duration::ZERO);
        e.observe(100.0, t0);
        e.observe(3.0, t0 + secs(0.5));
        assert_eq!(e.value(t0), Some(3.0));
    }
}
