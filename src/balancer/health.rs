//! Passive health checks per target, as nginx's `max_fails`/`fail_timeout`: `max_fails`
//! failures within `fail_timeout` take a target out for `fail_timeout`; after that one probe
//! request is let through, and its outcome closes the breaker or opens it again.
//!
//! State is per core for now; each worker sees its own failures.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct TargetHealth {
    fails: u32,
    window_start: Option<Instant>,
    open_until: Option<Instant>,
    probe_in_flight: bool,
}

#[derive(Debug, Clone)]
pub struct Health {
    targets: Vec<TargetHealth>,
    max_fails: u32,
    fail_timeout: Duration,
}

impl Health {
    /// `max_fails == 0` turns the breaker off (Kong's default).
    pub fn new(targets: usize, max_fails: u32, fail_timeout: Duration) -> Health {
        let fresh = TargetHealth {
            fails: 0,
            window_start: None,
            open_until: None,
            probe_in_flight: false,
        };
        Health {
            targets: vec![fresh; targets],
            max_fails,
            fail_timeout,
        }
    }

    pub fn max_fails(&self) -> u32 {
        self.max_fails
    }

    /// Whether `t` may be picked now.
    pub fn eligible(&self, t: usize, now: Instant) -> bool {
        if self.max_fails == 0 {
            return true;
        }
        match self.targets.get(t) {
            Some(h) => match h.open_until {
                None => true,
                Some(until) => now >= until && !h.probe_in_flight,
            },
            None => true,
        }
    }

    /// Notes that `t` was picked; for a target whose break has elapsed this is the probe.
    pub fn on_pick(&mut self, t: usize) {
        if let Some(h) = self.targets.get_mut(t) {
            if h.open_until.is_some() {
                h.probe_in_flight = true;
            }
        }
    }

    pub fn record_failure(&mut self, t: usize, now: Instant) {
        if self.max_fails == 0 {
            return;
        }
        let (max_fails, fail_timeout) = (self.max_fails, self.fail_timeout);
        let Some(h) = self.targets.get_mut(t) else {
            return;
        };
        if h.open_until.is_some() {
            // The probe failed: another full break.
            h.open_until = Some(now + fail_timeout);
            h.probe_in_flight = false;
            return;
        }
        if h.window_start
            .is_none_or(|s| now.duration_since(s) > fail_timeout)
        {
            h.window_start = Some(now);
            h.fails = 0;
        }
        h.fails += 1;
        if h.fails >= max_fails {
            h.open_until = Some(now + fail_timeout);
            h.fails = 0;
            h.window_start = None;
        }
    }

    pub fn record_success(&mut self, t: usize) {
        if let Some(h) = self.targets.get_mut(t) {
            if h.open_until.is_some() {
                h.open_until = None;
                h.probe_in_flight = false;
                h.fails = 0;
                h.window_start = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_max_fails_then_probes_once() {
        let t0 = Instant::now();
        let mut h = Health::new(2, 2, Duration::from_secs(10));
        h.record_failure(0, t0);
        assert!(h.eligible(0, t0), "one failure is below max_fails");
        h.record_failure(0, t0 + Duration::from_secs(1));
        assert!(!h.eligible(0, t0 + Duration::from_secs(2)));
        assert!(
            h.eligible(1, t0 + Duration::from_secs(2)),
            "other targets unaffected"
        );
        let later = t0 + Duration::from_secs(12);
        assert!(h.eligible(0, later));
        h.on_pick(0);
        assert!(!h.eligible(0, later), "only one probe at a time");
        h.record_failure(0, later);
        assert!(!h.eligible(0, later + Duration::from_secs(5)));
        let again = later + Duration::from_secs(11);
        assert!(h.eligible(0, again));
        h.on_pick(0);
        h.record_success(0);
        assert!(h.eligible(0, again));
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let t0 = Instant::now();
        let mut h = Health::new(1, 2, Duration::from_secs(10));
        h.record_failure(0, t0);
        h.record_failure(0, t0 + Duration::from_secs(11));
        assert!(h.eligible(0, t0 + Duration::from_secs(12)));
    }

    #[test]
    fn zero_max_fails_never_opens() {
        let t0 = Instant::now();
        let mut h = Health::new(1, 0, Duration::from_secs(10));
        for _ in 0..100 {
            h.record_failure(0, t0);
        }
        assert!(h.eligible(0, t0));
    }
}
