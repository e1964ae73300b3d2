//! Leveled logging to stderr: one line per event, RFC 3339 UTC timestamps, text for people or
//! JSON (`--log-format json`) for log shippers.
//!
//! llmux logs only at start-up, on reload and on shutdown, from the main thread or while a
//! worker is starting; the request path never logs (counters and the statistics log are the
//! per-request record). So one locked write per line is enough and keeps the dependency list
//! short. A message that contains a line break is written with `\n` escapes, so a line is
//! always one event (`grep`, `journalctl` and log shippers split on newlines).

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-07-01T12:34:56.789Z INFO llmux: message`
    #[default]
    Text,
    /// `{"time":"2026-07-01T12:34:56.789Z","level":"info","target":"llmux","message":"..."}`
    Json,
}

static JSON: AtomicBool = AtomicBool::new(false);

/// Chooses the format for every later line (set once, at start-up, before the first line).
pub fn set_format(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

/// The current time in RFC 3339, UTC, with milliseconds: `2026-07-01T12:34:56.789Z`.
pub fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs(), now.subsec_millis())
}

/// `secs` since the Unix epoch (and `millis`) as an RFC 3339 UTC timestamp. No time-zone
/// database is involved: UTC needs only the proleptic Gregorian calendar.
pub fn rfc3339(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Year, month, day of the day `z` days after 1970-01-01 (Howard Hinnant's `civil_from_days`:
/// eras of 400 years, March-based years so the leap day is last).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Writes one event. `level` is `INFO`, `WARN` or `ERROR`.
pub fn emit(level: &str, args: fmt::Arguments<'_>) {
    let line = render(level, &args.to_string(), JSON.load(Ordering::Relaxed));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn render(level: &str, message: &str, json: bool) -> String {
    let time = timestamp();
    if json {
        let mut out = format!(
            "{{\"time\":\"{time}\",\"level\":\"{}\",\"target\":\"llmux\",\"message\":",
            level.to_ascii_lowercase()
        );
        push_json_string(&mut out, message);
        out.push_str("}\n");
        out
    } else {
        let mut out = format!("{time} {level} llmux: ");
        for c in message.chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push('\n');
        out
    }
}

/// `s` as a JSON string token (RFC 8259 escaping; this module sits below `body`).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::emit("INFO", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::emit("WARN", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::emit("ERROR", format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_utc_across_epochs_leap_days_and_centuries() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_709_251_199, 999), "2024-02-29T23:59:59.999Z");
        assert_eq!(rfc3339(1_782_906_896, 789), "2026-07-01T11:54:56.789Z");
        assert_eq!(rfc3339(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
        assert_eq!(rfc3339(253_402_300_799, 0), "9999-12-31T23:59:59.000Z");
    }

    #[test]
    fn every_day_for_1000_years_follows_the_previous_one() {
        let mut prev = civil_from_days(-1);
        for day in 0..366_000 {
            let (y, m, d) = civil_from_days(day);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            assert!(d >= 1 && d <= month_len[m as usize - 1], "{y}-{m}-{d}");
            let next_day = (y, m, d) == (prev.0, prev.1, prev.2 + 1);
            let next_month = (y, m, d) == (prev.0, prev.1 + 1, 1);
            let next_year = (y, m, d) == (prev.0 + 1, 1, 1) && prev.1 == 12 && prev.2 == 31;
            assert!(
                next_day || next_month || next_year,
                "{prev:?} -> {:?}",
                (y, m, d)
            );
            prev = (y, m, d);
        }
    }

    #[test]
    fn one_line_per_event_in_both_formats() {
        let text = render("WARN", "two\nlines", false);
        assert!(text.ends_with(" WARN llmux: two\\nlines\n"), "{text}");
        assert_eq!(text.matches('\n').count(), 1);
        let json = render("ERROR", "bad \"x\"\nnext", true);
        assert_eq!(json.matches('\n').count(), 1);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["message"], "bad \"x\"\nnext");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
}
