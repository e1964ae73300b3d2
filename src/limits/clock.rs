//! Where windows start and end. Every window is aligned to the UTC wall clock, so all cores
//! (and all nodes of a fleet) put a hit in the same window.
//!
//! `rate-limiting` counts in calendar periods, as Kong's `kong.tools.timestamp.get_timestamps`
//! does: the current second, minute, hour, UTC day, month and year. `ai-rate-limiting-advanced`
//! counts in windows of `window_size` seconds aligned to the epoch, fixed or sliding.

use crate::config::access::Period;
use crate::stats::limits::Window;

/// The time a request is decided at, read once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub ms: u64,
}

impl Now {
    pub fn read() -> Now {
        Now {
            ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }

    pub fn secs(self) -> u64 {
        self.ms / 1000
    }
}

/// The calendar period `p` that contains `now`, as a counter window (its length is Kong's
/// nominal one: a month counts as 30 days, as Kong's `EXPIRATION` table has it).
pub fn period_window(p: Period, now: Now) -> Window {
    let s = now.secs();
    let start = match p {
        Period::Month | Period::Year => {
            let days = (s / 86_400) as i64;
            let (y, m, _) = crate::log::civil_from_days(days);
            let m = if p == Period::Year { 1 } else { m };
            days_from_civil(y, m, 1).max(0) as u64 * 86_400
        }
        _ => s - s % p.seconds(),
    };
    Window {
        seconds: p.seconds(),
        start,
    }
}

/// Kong's `RateLimit-Reset` for a period: `max(1, period length - whole seconds since it
/// started)`.
pub fn period_reset(w: Window, now: Now) -> u64 {
    let elapsed = now.ms.saturating_sub(w.start * 1000) / 1000;
    w.seconds.saturating_sub(elapsed).max(1)
}

/// The epoch-aligned window of `seconds` containing `now`.
pub fn fixed_window(seconds: u64, now: Now) -> Window {
    let s = now.secs();
    Window {
        seconds,
        start: s - s % seconds.max(1),
    }
}

/// The window before `w`.
pub fn previous(w: Window) -> Window {
    Window {
        seconds: w.seconds,
        start: w.start.saturating_sub(w.seconds),
    }
}

/// How much of the previous window still lies within the last `seconds` (1 at the start of the
/// current window, 0 at its end): its weight in a sliding estimate.
pub fn previous_weight(w: Window, now: Now) -> f64 {
    let len = (w.seconds * 1000) as f64;
    let elapsed = now.ms.saturating_sub(w.start * 1000) as f64;
    ((len - elapsed) / len).clamp(0.0, 1.0)
}

/// Seconds until a window with `current` and `previous` counts estimates below `limit`, with no
/// more traffic: the end of a fixed window; for a sliding one, the moment the weighted
/// previous count (and, once the window rolls over, the current one) has decayed enough.
pub fn retry_after(
    w: Window,
    now: Now,
    current: f64,
    previous: f64,
    sliding: bool,
    limit: f64,
) -> u64 {
    let len_ms = w.seconds * 1000;
    let left_ms = (w.start * 1000 + len_ms).saturating_sub(now.ms);
    let ms = if !sliding {
        left_ms
    } else if current >= limit {
        // Over on its own: wait for the rollover, then until its weight drops below the limit.
        let keep = (limit / current).clamp(0.0, 1.0);
        left_ms + ((1.0 - keep) * len_ms as f64) as u64
    } else if previous > 0.0 {
        // current + previous * (len - e) / len < limit  <=>  e > len * (1 - (limit - current) / previous)
        let e = len_ms as f64 * (1.0 - (limit - current) / previous);
        let elapsed = now.ms.saturating_sub(w.start * 1000) as f64;
        (e - elapsed).max(0.0) as u64
    } else {
        0
    };
    ms.div_ceil(1000).max(1)
}

/// Days from 1970-01-01 to `y-m-d` (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Now {
        Now { ms: s * 1000 + 250 }
    }

    #[test]
    fn calendar_periods() {
        // 2024-02-29T13:45:30Z
        let t = at(1_709_214_330);
        assert_eq!(period_window(Period::Second, t).start, 1_709_214_330);
        assert_eq!(period_window(Period::Minute, t).start, 1_709_214_300);
        assert_eq!(period_window(Period::Hour, t).start, 1_709_211_600);
        assert_eq!(period_window(Period::Day, t).start, 1_709_164_800);
        assert_eq!(period_window(Period::Month, t).start, 1_706_745_600); // 2024-02-01
        assert_eq!(period_window(Period::Year, t).start, 1_704_067_200); // 2024-01-01
        assert_eq!(period_reset(period_window(Period::Minute, t), t), 30);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            crate::log::civil_from_days(days_from_civil(2100, 3, 1)),
            (2100, 3, 1)
        );
    }

    #[test]
    fn sliding_weights_and_retry() {
        let w = fixed_window(60, at(90));
        assert_eq!(w.start, 60);
        assert!((previous_weight(w, Now { ms: 90_000 }) - 0.5).abs() < 1e-9);
        assert_eq!(previous(w).start, 0);
        // Fixed: until the end of the window.
        assert_eq!(
            retry_after(w, Now { ms: 90_000 }, 10.0, 0.0, false, 10.0),
            30
        );
        // Sliding, over on its own: rollover (30 s) plus half a window for 20 -> 10.
        assert_eq!(
            retry_after(w, Now { ms: 90_000 }, 20.0, 0.0, true, 10.0),
            60
        );
        // Sliding, pushed over by the previous window: 5 + 10 * (60 - e) / 60 < 10 => e > 30.
        assert_eq!(
            retry_after(w, Now { ms: 80_000 }, 5.0, 10.0, true, 10.0),
            10
        );
    }
}
