//! HdrHistogram's percentile distribution text (Java's `outputPercentileDistribution`), the
//! `.hgrm` format HdrHistogram's plotter reads. The Rust crate has no writer for it.

use hdrhistogram::Histogram;
use std::fmt::Write;

/// Renders `h` (recorded in µs) with values in milliseconds.
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    const SCALE: f64 = 1000.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = v.value_iterated_to() as f64 / SCALE;
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / SCALE,
        h.stdev() / SCALE
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / SCALE,
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        h.distinct_values()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_layout_with_footer() {
        let mut h = crate::stats::new_histogram();
        for v in 1..=1000u64 {
            h.saturating_record(v * 1000); // 1..1000 ms
        }
        let text = percentile_distribution(&h);
        let mut lines = text.lines();
        assert!(lines
            .next()
            .unwrap()
            .contains("Value     Percentile TotalCount 1/(1-Percentile)"));
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains("Value"))
            .collect();
        assert!(rows.len() > 20);
        let first: Vec<&str> = rows[0].split_whitespace().collect();
        assert_eq!(first[0], "1.000");
        let last: Vec<&str> = rows.last().unwrap().split_whitespace().collect();
        assert_eq!(last.len(), 3, "the 100% row has no 1/(1-p) column");
        assert_eq!(last[2], "1000");
        let median = rows
            .iter()
            .find(|r| r.contains(" 0.500000000000 "))
            .unwrap();
        let v: f64 = median.split_whitespace().next().unwrap().parse().unwrap();
        assert!((v - 500.0).abs() <= 1.0, "{median}");
        assert!(
            text.contains("#[Max     =     1000.447, Total count    =         1000]")
                || text.contains("Total count    =         1000]")
        );
    }
}
