//! Minimal leveled logging to stderr.
//!
//! llmux logs only at start-up, on reload and on shutdown, from the main thread or while a
//! worker is starting; the request path never logs (counters and the access log are the
//! per-request record). So a plain locked `eprintln!` is enough and keeps the dependency list short.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch with millisecond precision; no time-zone database needed.
pub fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", now.as_secs(), now.subsec_millis())
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { eprintln!("{} INFO llmux: {}", $crate::log::timestamp(), format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { eprintln!("{} WARN llmux: {}", $crate::log::timestamp(), format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { eprintln!("{} ERROR llmux: {}", $crate::log::timestamp(), format_args!($($arg)*)) };
}
