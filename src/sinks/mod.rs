//! Writer threads for what llmux records to files: the statistics log (one JSON line per
//! request) and the HdrHistogram interval log.
//!
//! Workers and the merger only ever `try_send` to these threads; a full channel drops a buffer
//! (and counts it) rather than stall an event loop. Only these threads touch files.

pub mod access_log;
pub mod interval_log;
