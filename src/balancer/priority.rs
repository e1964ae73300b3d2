//! `priority`: weight is read as a rank, not a share. Targets with equal weight form a group;
//! the heaviest group with an eligible candidate takes all traffic, and a lighter group is a
//! fallback that serves only while every candidate of every heavier group is out (already
//! tried by this request or behind an open circuit breaker).

use super::algorithm::PickInput;
use super::round_robin::SmoothRoundRobin;

#[derive(Debug, Clone)]
pub struct Priority {
    /// One rotation for all groups: a group's scores only move while it serves, so when traffic
    /// returns to it after a fallback the alternation resumes where it stopped.
    rr: SmoothRoundRobin,
}

impl Priority {
    pub fn new(targets: usize) -> Self {
        Priority {
            rr: SmoothRoundRobin::new(targets),
        }
    }

    /// Smooth round-robin inside the serving group; its members share one weight, so this is
    /// plain alternation in candidate order.
    pub fn pick(&mut self, input: &PickInput<'_>) -> Option<usize> {
        let top = input
            .candidates
            .iter()
            .filter(|&&t| input.is_eligible(t))
            .map(|&t| input.weight(t))
            .max()?;
        input.round_robin(&mut self.rr, |t| input.weight(t) == top)
    }
}

#[cfg(test)]
mod tests {
    use super::super::algorithm::tests::Fixture;
    use super::super::algorithm::Balancer;
    use crate::config::Algorithm;

    #[test]
    fn highest_group_round_robins_then_falls_back_and_returns() {
        // Targets 0 and 2 are the high group (200), 1 and 3 the fallback (100).
        let f = Fixture::new(&[200, 100, 200, 100]);
        let mut b = Balancer::new(Algorithm::Priority, &f.weights, 10_000);
        let mut run = |eligible: &dyn Fn(usize) -> bool, n: usize| -> Vec<usize> {
            (0..n)
                .filter_map(|_| b.pick(&f.input(None, eligible)))
                .collect()
        };
        assert_eq!(run(&|_| true, 4), vec![0, 2, 0, 2]);
        assert_eq!(
            run(&|t| t != 0, 3),
            vec![2, 2, 2],
            "one high target left: no fallback"
        );
        assert_eq!(run(&|t| t != 0 && t != 2, 4), vec![1, 3, 1, 3]);
        assert_eq!(run(&|t| t == 3, 2), vec![3, 3]);
        assert_eq!(
            run(&|_| true, 4),
            vec![0, 2, 0, 2],
            "back to the high group"
        );
        assert_eq!(run(&|_| false, 1), Vec::<usize>::new());
    }

    #[test]
    fn groups_are_per_request_candidates_and_ordered_by_weight() {
        let mut f = Fixture::new(&[10, 300, 50, 300]);
        f.candidates = vec![0, 2]; // an alias whose targets are only 0 and 2
        let mut b = Balancer::new(Algorithm::Priority, &f.weights, 10_000);
        let seq: Vec<_> = (0..3)
            .filter_map(|_| b.pick(&f.input(None, &|_| true)))
            .collect();
        assert_eq!(seq, vec![2, 2, 2]);
        assert_eq!(b.pick(&f.input(None, &|t| t != 2)), Some(0));
    }
}
