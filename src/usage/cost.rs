//! Token and cost arithmetic of one request's usage. Which of these `lowest-usage` balances on
//! is `stats::Tally::amount`'s business.

use super::Usage;

impl Usage {
    /// Tokens billed for the request: providers that count extra tokens (reasoning, tools)
    /// into `total` report more than prompt + completion, and llmux must not undercount
    /// them; a provider that omits `total` (0) must not zero the request either.
    pub fn total_tokens(&self) -> u64 {
        self.prompt.saturating_add(self.completion).max(self.total)
    }

    /// The request's cost; prices are per million tokens, as Kong's `input_cost`/`output_cost`.
    ///
    /// A non-finite result (a NaN or infinite price slipping past config validation) counts
    /// as 0: one NaN in an accumulator would make every later comparison false and freeze
    /// the balancer on one target.
    pub fn cost(&self, input_cost: f64, output_cost: f64) -> f64 {
        let v = (self.prompt as f64 * input_cost + self.completion as f64 * output_cost) / 1e6;
        if v.is_finite() {
            v
        } else {
            0.0
        }
    }

    /// Adds another request's counts without wrapping: a provider reporting absurd numbers
    /// saturates one target's counters instead of resetting them to near zero.
    pub fn saturating_add(self, other: Usage) -> Usage {
        Usage {
            prompt: self.prompt.saturating_add(other.prompt),
            completion: self.completion.saturating_add(other.completion),
            total: self.total.saturating_add(other.total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(prompt: u64, completion: u64, total: u64) -> Usage {
        Usage {
            prompt,
            completion,
            total,
        }
    }

    #[test]
    fn total_tokens_takes_the_larger() {
        // Provider bills reasoning tokens into total.
        assert_eq!(u(10, 32, 100).total_tokens(), 100);
        // Provider omits total (or reports a smaller one).
        assert_eq!(u(10, 32, 0).total_tokens(), 42);
        assert_eq!(u(10, 32, 5).total_tokens(), 42);
        // Embeddings: prompt and total only.
        assert_eq!(u(8, 0, 8).total_tokens(), 8);
        assert_eq!(u(u64::MAX, 5, 0).total_tokens(), u64::MAX);
    }

    #[test]
    fn cost_is_per_million_tokens() {
        // gpt-4o-like prices: $2.50 in, $10 out per 1M tokens.
        let x = u(1_000_000, 500_000, 0);
        assert_eq!(x.cost(2.5, 10.0), 2.5 + 5.0);
        let x = u(1200, 300, 1500);
        let got = x.cost(0.15, 0.6);
        assert!((got - (1200.0 * 0.15 + 300.0 * 0.6) / 1e6).abs() < 1e-15);
        // Different prices change the order of two targets that the token counts would not.
        let cheap_in = u(1000, 100, 0).cost(0.1, 10.0);
        let cheap_out = u(1000, 100, 0).cost(10.0, 0.1);
        assert!(cheap_in < cheap_out);
        assert_eq!(u(5, 5, 10).cost(0.0, 0.0), 0.0);
    }

    #[test]
    fn non_finite_amounts_count_as_zero() {
        let x = u(10, 10, 20);
        assert_eq!(x.cost(f64::NAN, 1.0), 0.0);
        assert_eq!(x.cost(f64::INFINITY, 1.0), 0.0);
        assert_eq!(u(u64::MAX, u64::MAX, 0).cost(1e300, 1e300), 0.0);
    }

    #[test]
    fn saturating_add() {
        let a = u(u64::MAX - 1, 1, 2).saturating_add(u(5, 1, 3));
        assert_eq!(a, u(u64::MAX, 2, 5));
    }
}
