//! `lowest-latency`: the target whose peak-EWMA score (see `peak_ewma`) divided by weight is
//! lowest. The score's unit (ms for `e2e`, ms per completion token for `tpot`) is the merge
//! layer's business; this only compares numbers, which is why both strategies share one path.

use std::cmp::Ordering;

use super::algorithm::{cmp_score, pick_min, PickInput};

/// Never-observed eligible candidates come first (lowest index), because an argmin over scores
/// would otherwise never send them the request that gives them a score. Then the lowest
/// `latency / weight`, ties to the lower target index.
pub fn pick(input: &PickInput<'_>) -> Option<usize> {
    pick_min(input, |a, b| match (score(input, a), score(input, b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => cmp_score(x, y),
    })
}

fn score(input: &PickInput<'_>, t: usize) -> Option<f64> {
    let latency = input.stats.latency.get(t).copied().flatten()?;
    Some(latency / f64::from(input.weight(t)))
}

#[cfg(test)]
mod tests {
    use super::super::algorithm::tests::Fixture;
    use super::super::algorithm::Balancer;
    use crate::config::Algorithm;

    fn pick(f: &Fixture, eligible: &dyn Fn(usize) -> bool) -> Option<usize> {
        Balancer::new(Algorithm::LowestLatency, &f.weights, 10_000).pick(&f.input(None, eligible))
    }

    #[test]
    fn never_seen_targets_go_first_in_index_order() {
        let mut f = Fixture::new(&[100, 100, 100]);
        f.latency = vec![Some(5.0), None, None];
        assert_eq!(pick(&f, &|_| true), Some(1));
        assert_eq!(pick(&f, &|t| t != 1), Some(2));
        f.latency[1] = Some(900.0);
        assert_eq!(pick(&f, &|_| true), Some(2));
        f.latency[2] = Some(7.0);
        assert_eq!(pick(&f, &|_| true), Some(0));
        // An ineligible never-seen target does not block the others.
        f.latency[2] = None;
        assert_eq!(pick(&f, &|t| t != 2), Some(0));
    }

    #[test]
    fn tpot_style_scores() {
        let mut f = Fixture::new(&[100, 100]);
        f.latency = vec![Some(31.7), Some(12.25)]; // ms per completion token
        assert_eq!(pick(&f, &|_| true), Some(1));
    }

    #[test]
    fn e2e_style_scores_scaled_by_weight() {
        let mut f = Fixture::new(&[100, 100]);
        f.latency = vec![Some(1_800.0), Some(950.0)]; // ms, request sent to last byte
        assert_eq!(pick(&f, &|_| true), Some(1));
        f.weights = vec![200, 100]; // 900 per unit of weight beats 950
        assert_eq!(pick(&f, &|_| true), Some(0));
        f.weights = vec![180, 100]; // 10.0 per unit of weight loses to 9.5
        assert_eq!(pick(&f, &|_| true), Some(1));
        f.latency = vec![Some(1_900.0), Some(950.0)];
        f.weights = vec![200, 100]; // exact tie: lower index
        assert_eq!(pick(&f, &|_| true), Some(0));
        assert_eq!(pick(&f, &|t| t == 1), Some(1));
    }
}
