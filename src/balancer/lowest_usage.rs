//! `lowest-usage`: send the next request where the least work has gone so far, relative to
//! weight. Usage arrives already in the configured unit (tokens or cost) and already merged
//! across cores, so this is a plain argmin; it adds no estimate for requests still in flight,
//! because usage is counted only from completed requests (docs/decisions.md, "Balancing").

use super::algorithm::{cmp_score, pick_min, PickInput};

/// The eligible candidate with the lowest `usage / weight`; ties to the lower target index.
pub fn pick(input: &PickInput<'_>) -> Option<usize> {
    pick_min(input, |a, b| cmp_score(score(input, a), score(input, b)))
}

/// A target missing from the usage slice counts as unused: a freshly added target should be
/// tried, not starved.
fn score(input: &PickInput<'_>, t: usize) -> f64 {
    let usage = input.stats.usage.get(t).copied().unwrap_or(0.0);
    usage / f64::from(input.weight(t))
}

#[cfg(test)]
mod tests {
    use super::super::algorithm::tests::Fixture;
    use super::super::algorithm::Balancer;
    use crate::config::Algorithm;

    /// Runs `n` picks, charging `cost` to the picked target after each one.
    fn run(f: &mut Fixture, n: usize, cost: f64) -> Vec<usize> {
        let mut b = Balancer::new(Algorithm::LowestUsage, &f.weights, 10_000);
        (0..n)
            .map(|_| {
                let t = b.pick(&f.input(None, &|_| true)).unwrap();
                f.usage[t] += cost;
                t
            })
            .collect()
    }

    #[test]
    fn heavy_request_diverts_light_ones_until_usage_evens_out() {
        let mut f = Fixture::new(&[100, 100]);
        f.usage[0] = 1000.0; // one heavy first request went to target 0
        let seq = run(&mut f, 104, 10.0);
        assert!(
            seq[..100].iter().all(|&t| t == 1),
            "light ones go to 1 until even"
        );
        // 1000 vs 1000: tie to the lower index, then strict alternation.
        assert_eq!(&seq[100..], &[0, 1, 0, 1]);
    }

    #[test]
    fn weight_scales_the_usage_a_target_may_take() {
        let mut f = Fixture::new(&[200, 100]);
        f.usage[0] = 1000.0;
        let seq = run(&mut f, 51, 10.0);
        // Target 1 (weight 100) takes only 500 before the scores meet at 5.0 each.
        assert!(seq[..50].iter().all(|&t| t == 1));
        assert_eq!(seq[50], 0);
        assert_eq!(f.usage, vec![1010.0, 500.0]);
        // From then on target 0 gets two requests per one on target 1.
        let seq = run(&mut f, 300, 10.0);
        let zeros = seq.iter().filter(|&&t| t == 0).count();
        assert!((199..=201).contains(&zeros), "{zeros}");
    }

    #[test]
    fn cost_units_are_plain_floats() {
        let mut f = Fixture::new(&[100, 100, 100]);
        // Dollars: (prompt * input_cost + completion * output_cost) / 1e6.
        f.usage = vec![0.012_5, 0.010_0, 0.010_000_1];
        let mut b = Balancer::new(Algorithm::LowestUsage, &f.weights, 10_000);
        assert_eq!(b.pick(&f.input(None, &|_| true)), Some(1));
        f.usage[1] += 0.000_000_2;
        assert_eq!(b.pick(&f.input(None, &|_| true)), Some(2));
        assert_eq!(b.pick(&f.input(None, &|t| t != 2)), Some(1));
    }

    #[test]
    fn ties_go_to_the_lower_index_even_when_listed_later() {
        let mut f = Fixture::new(&[100, 100, 100]);
        f.candidates = vec![2, 1];
        f.usage = vec![0.0, 5.0, 5.0];
        let mut b = Balancer::new(Algorithm::LowestUsage, &f.weights, 10_000);
        assert_eq!(
            b.pick(&f.input(None, &|_| true)),
            Some(1),
            "0 is not a candidate"
        );
    }
}
