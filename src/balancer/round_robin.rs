//! Smooth weighted round-robin, as nginx's upstream module does it: each pick adds every
//! candidate's weight to its running score, takes the highest, and subtracts the total from
//! the winner. Over any window the split matches the weights exactly, without bursts
//! (weights 5:1:1 give `a a b a c a a`, not `a a a a a b c`).

/// Running scores for one plugin's targets, indexed by target index.
#[derive(Debug, Clone, Default)]
pub struct SmoothRoundRobin {
    current: Vec<i64>,
}

impl SmoothRoundRobin {
    pub fn new(targets: usize) -> Self {
        SmoothRoundRobin {
            current: vec![0; targets],
        }
    }

    /// Picks among `candidates` (target indices) those `eligible` allows, weighting by `weight`.
    /// Ties go to the earlier candidate. `None` when nothing is eligible.
    pub fn pick(
        &mut self,
        candidates: &[usize],
        weight: impl Fn(usize) -> u32,
        eligible: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut total: i64 = 0;
        let mut best: Option<usize> = None;
        for &t in candidates {
            if !eligible(t) {
                continue;
            }
            if t >= self.current.len() {
                self.current.resize(t + 1, 0);
            }
            let w = i64::from(weight(t).max(1));
            self.current[t] += w;
            total += w;
            if best.is_none_or(|b| self.current[t] > self.current[b]) {
                best = Some(t);
            }
        }
        let b = best?;
        self.current[b] -= total;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(weights: &[u32], n: usize) -> Vec<usize> {
        let mut rr = SmoothRoundRobin::new(weights.len());
        let all: Vec<usize> = (0..weights.len()).collect();
        (0..n)
            .map(|_| rr.pick(&all, |t| weights[t], |_| true).unwrap())
            .collect()
    }

    #[test]
    fn nginx_sequence_for_5_1_1() {
        assert_eq!(sequence(&[5, 1, 1], 7), vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn equal_weights_alternate() {
        assert_eq!(sequence(&[100, 100], 6), vec![0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn exact_proportions_over_a_cycle() {
        let seq = sequence(&[3, 2, 5], 1000);
        let count = |t| seq.iter().filter(|&&x| x == t).count();
        assert_eq!((count(0), count(1), count(2)), (300, 200, 500));
    }

    #[test]
    fn skips_ineligible_and_reports_none() {
        let mut rr = SmoothRoundRobin::new(3);
        let picks: Vec<_> = (0..4)
            .map(|_| rr.pick(&[0, 1, 2], |_| 1, |t| t != 1).unwrap())
            .collect();
        assert_eq!(picks, vec![0, 2, 0, 2]);
        assert_eq!(rr.pick(&[0, 1], |_| 1, |_| false), None);
    }
}
