//! `least-connections`: fewest requests in flight relative to weight, counted on this core
//! only. Per-core counts are exact and need no merge; with `SO_REUSEPORT` spreading clients
//! over cores, each core balancing its own share balances the whole.

use std::cmp::Ordering;

use super::algorithm::{pick_min, PickInput};

/// The eligible candidate with the fewest `in_flight / weight`; ties to the lower target index.
pub fn pick(input: &PickInput<'_>) -> Option<usize> {
    pick_min(input, |a, b| cmp_load(input, a, b))
}

/// Compares `in_flight / weight` by cross-multiplying in integers, so equal ratios (2/200 and
/// 1/100) tie exactly instead of depending on float rounding.
fn cmp_load(input: &PickInput<'_>, a: usize, b: usize) -> Ordering {
    let busy = |t: usize| u64::from(input.stats.in_flight.get(t).copied().unwrap_or(0));
    let w = |t: usize| u64::from(input.weight(t));
    (busy(a) * w(b)).cmp(&(busy(b) * w(a)))
}

#[cfg(test)]
mod tests {
    use super::super::algorithm::tests::Fixture;
    use super::super::algorithm::Balancer;
    use crate::config::Algorithm;

    #[test]
    fn fewest_in_flight_wins_and_ties_go_low() {
        let mut f = Fixture::new(&[100, 100, 100]);
        f.in_flight = vec![3, 1, 1];
        let mut b = Balancer::new(Algorithm::LeastConnections, &f.weights, 10_000);
        assert_eq!(b.pick(&f.input(None, &|_| true)), Some(1));
        assert_eq!(b.pick(&f.input(None, &|t| t != 1)), Some(2));
    }

    #[test]
    fn weights_scale_the_connection_count() {
        let mut f = Fixture::new(&[200, 100]);
        f.in_flight = vec![2, 1];
        let mut b = Balancer::new(Algorithm::LeastConnections, &f.weights, 10_000);
        assert_eq!(
            b.pick(&f.input(None, &|_| true)),
            Some(0),
            "2/200 == 1/100: tie"
        );
        f.in_flight = vec![3, 1];
        assert_eq!(b.pick(&f.input(None, &|_| true)), Some(1));
        // Requests that never finish fill the targets 2:1.
        f.in_flight = vec![0, 0];
        for _ in 0..30 {
            let t = b.pick(&f.input(None, &|_| true)).unwrap();
            f.in_flight[t] += 1;
        }
        assert_eq!(f.in_flight, vec![20, 10]);
    }
}
