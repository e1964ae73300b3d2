//! `--histogram-log FILE`: an HdrHistogram interval log of provider latency (all targets), one
//! interval per second, compressed as HdrHistogram's V2 format so Java's HistogramLogProcessor
//! and the online plotter read it. Written by its own thread; the merger feeds it with
//! `try_send` and never waits.

use crossbeam::channel::{bounded, Receiver, RecvTimeoutError, Sender};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

const INTERVAL: Duration = Duration::from_secs(1);

/// Opens (appends to) `path` on the calling thread, so a bad path fails at start-up, and starts
/// the writer. Values are recorded in µs; the log's max column is in ms.
pub fn spawn(path: &Path) -> std::io::Result<Sender<Histogram<u64>>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    let (tx, rx) = bounded(1024);
    std::thread::Builder::new()
        .name("llmux-histogram-log".into())
        .spawn(move || {
            if let Err(e) = run(file, rx) {
                crate::error!("histogram log: {e}; no more intervals are written");
            }
        })?;
    Ok(tx)
}

fn run(mut file: std::fs::File, rx: Receiver<Histogram<u64>>) -> std::io::Result<()> {
    let mut serializer = V2DeflateSerializer::new();
    let started = Instant::now();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("llmux provider latency, all targets, values in microseconds")
        .with_start_time(SystemTime::now())
        .with_max_value_divisor(1000.0)
        .begin_log_with(&mut file, &mut serializer)?;
    let tag = Tag::new("provider_latency");
    loop {
        let interval_start = started.elapsed();
        let deadline = Instant::now() + INTERVAL;
        let mut acc = crate::stats::new_histogram();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(h) => {
                    let _ = acc.add(&h);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
        if !acc.is_empty() {
            log.write_histogram(&acc, interval_start, INTERVAL, tag)
                .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        }
    }
}
