//! Latency histograms.
//!
//! Each worker records into its own HdrHistograms on the request path (a bucket increment, no
//! lock, nothing shared). About once a second it swaps them for empty ones and sends the full
//! ones with its merge report; the merger thread adds them into the [`Registry`], which the
//! admin thread renders. Only those two non-worker threads ever take the registry's lock.
//!
//! [`Registry`]: super::Registry

use hdrhistogram::Histogram;
use std::time::Duration;

/// Histogram range: 1 µs to 10 minutes (a long generation), 3 significant digits; values
/// outside are clamped (`saturating_record`).
pub const HIST_MAX_US: u64 = 600_000_000;

pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds that satisfy hdrhistogram's rules (low >= 1, high >= 2 * low, sigfig
    // <= 5); nothing a client, provider or config controls can make this fail.
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("constant histogram bounds are valid")
}

/// Microseconds, for recording.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One target's latency distributions.
#[derive(Clone)]
pub struct TargetHists {
    /// Request sent to the provider until the last response byte was relayed.
    pub provider: Histogram<u64>,
    /// Request received by llmux until the response head went to the client.
    pub ttft: Histogram<u64>,
}

impl Default for TargetHists {
    fn default() -> Self {
        TargetHists {
            provider: new_histogram(),
            ttft: new_histogram(),
        }
    }
}

impl TargetHists {
    pub fn is_empty(&self) -> bool {
        self.provider.is_empty() && self.ttft.is_empty()
    }

    pub fn add(&mut self, other: &TargetHists) {
        // Same bounds on both sides, so addition cannot fail; a failure would only lose data.
        let _ = self.provider.add(&other.provider);
        let _ = self.ttft.add(&other.ttft);
    }
}

/// What a worker records beside its per-target histograms.
pub struct CoreHists {
    /// llmux's own time per request: head parsed until the request was sent upstream.
    pub overhead: Histogram<u64>,
    /// Request received until the response head went out, all targets.
    pub ttft: Histogram<u64>,
}

impl Default for CoreHists {
    fn default() -> Self {
        CoreHists {
            overhead: new_histogram(),
            ttft: new_histogram(),
        }
    }
}
