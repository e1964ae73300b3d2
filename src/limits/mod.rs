//! Rate limits on the request path: `rate-limiting` (requests per calendar period) and
//! `ai-rate-limiting-advanced` (tokens or cost per provider, per fixed or sliding window).
//!
//! A request is checked against counts this core keeps and the merged counts of every other
//! core (`state`), so no request waits on another core, a lock or the network. Request limits
//! count a request when it is let through (Kong increments after the check); token limits are
//! spent when the answer's usage is known, so the request that crosses a budget is served and
//! the next one is refused, as in Kong.
//!
//! Response headers are Kong's: `X-RateLimit-Limit-<Period>`, `X-RateLimit-Remaining-<Period>`,
//! `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (and `Retry-After` on a 429)
//! for requests; `X-AI-RateLimit-Limit-<window>-<provider>`,
//! `X-AI-RateLimit-Remaining-<window>-<provider>` (and on a 429 the `-Reset-`, `-Retry-After-`
//! ones per exhausted window, `X-AI-RateLimit-Reset`, `X-AI-RateLimit-Retry-After`,
//! `Retry-After`) for tokens. They are written into a buffer the caller reuses.

pub mod clock;
mod state;

pub use clock::Now;
pub use state::LimitsState;

use crate::config::access::{
    Consumer, Credential, LimitBy, RequestLimit, TokenCount, TokenLimit, WindowType,
};
use crate::config::Provider;
use crate::http1::RequestHead;
use crate::stats::limits::Window;
use crate::stats::Tally;
use std::io::Write;
use std::net::IpAddr;

impl<C> Clone for Applied<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Applied<'_, C> {}

/// What identifies a request to a limiter.
pub struct Subject<'a> {
    pub consumer: Option<&'a Consumer>,
    pub credential: Option<&'a Credential>,
    pub ip: Option<IpAddr>,
    pub head: &'a RequestHead,
    /// The route's service (`id`, else `name`).
    pub service: Option<&'a str>,
}

/// Writes the counter identity for `by` into `out` (emptied first): a one-letter kind, `:`,
/// and the value. What a request lacks (no consumer, no such header) falls back to its IP
/// address, as in Kong.
pub fn identity(by: &LimitBy, s: &Subject<'_>, out: &mut Vec<u8>) {
    out.clear();
    let (kind, value): (&[u8], Option<&[u8]>) = match by {
        LimitBy::Consumer => match (s.consumer, s.credential) {
            (Some(c), _) => (b"c:", Some(c.id.as_bytes())),
            (None, Some(k)) => (b"k:", Some(k.id.as_bytes())),
            _ => (b"", None),
        },
        LimitBy::Credential => (b"k:", s.credential.map(|k| k.id.as_bytes())),
        LimitBy::Ip => (b"", None),
        LimitBy::Service => (b"s:", s.service.map(str::as_bytes)),
        LimitBy::Header(name) => (b"h:", s.head.header(name)),
        LimitBy::Path(path) => (b"p:", (s.head.path() == path).then_some(path.as_bytes())),
    };
    match value {
        Some(v) => {
            out.extend_from_slice(kind);
            out.extend_from_slice(v);
        }
        None => {
            out.extend_from_slice(b"i:");
            if let Some(ip) = s.ip {
                let _ = write!(out, "{ip}");
            }
        }
    }
}

/// A limit was reached: Kong's error status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub status: u16,
    pub message: String,
}

/// One limiter applied to one request: its configuration, where this core keeps its counts,
/// the request's identity for it and the time the request is decided at.
pub struct Applied<'a, C> {
    pub conf: &'a C,
    /// Index in the worker's `LimitsState`.
    pub at: usize,
    pub identity: &'a [u8],
    pub now: Now,
}

/// Checks `conf` for `identity` and, when the request may pass, counts it. Writes the
/// response headers (unless `hide_client_headers`) into `headers`.
pub fn check_requests(
    state: &mut LimitsState,
    limit: &Applied<'_, RequestLimit>,
    headers: &mut Vec<u8>,
) -> Result<(), Limited> {
    let Applied {
        conf,
        at,
        identity,
        now,
    } = *limit;
    // Each period's window and count, read once (at most six periods: no allocation).
    let mut counts = [(Window::default(), 0.0); 6];
    for (slot, (period, _)) in counts.iter_mut().zip(&conf.limits) {
        let w = clock::period_window(*period, now);
        *slot = (w, state.count(at, identity, w));
    }
    // Kong: remaining = limit - usage; the period whose remaining is <= 0 stops the request.
    let mut stop = None;
    for (i, ((_, limit), (_, used))) in conf.limits.iter().zip(&counts).enumerate() {
        if limit - used <= 0.0 {
            stop = Some(i);
        }
    }
    let mut best: Option<(f64, f64, u64, u64)> = None; // (remaining, limit, window, reset)
    for (i, ((period, limit), &(w, used))) in conf.limits.iter().zip(&counts).enumerate() {
        let mut remaining = limit - used;
        if stop.is_none() || stop == Some(i) {
            remaining -= 1.0;
        }
        let remaining = remaining.max(0.0);
        if !conf.hide_client_headers {
            number(headers, period.limit_header(), *limit);
            number(headers, period.remaining_header(), remaining);
        }
        let better = match best {
            None => true,
            Some((r, _, secs, _)) => remaining < r || (remaining == r && w.seconds > secs),
        };
        if better {
            best = Some((remaining, *limit, w.seconds, clock::period_reset(w, now)));
        }
    }
    let reset = best.map_or(1, |b| b.3);
    if let (false, Some((remaining, limit, _, reset))) = (conf.hide_client_headers, best) {
        number(headers, "RateLimit-Limit", limit);
        number(headers, "RateLimit-Remaining", remaining);
        number(headers, "RateLimit-Reset", reset as f64);
    }
    if stop.is_some() {
        if !conf.hide_client_headers {
            number(headers, "Retry-After", reset as f64);
        }
        return Err(Limited {
            status: conf.error_code,
            message: conf.error_message.clone(),
        });
    }
    for (_, &(w, _)) in conf.limits.iter().zip(&counts) {
        state.add(at, identity, w, 1.0);
    }
    Ok(())
}

/// Checks the token budgets of `conf` that a request may spend (the providers in `providers`,
/// one bit per `Provider`). `key` is a scratch buffer for the counter keys. The headers go
/// into `headers`.
pub fn check_tokens(
    state: &LimitsState,
    limit: &Applied<'_, TokenLimit>,
    providers: u32,
    key: &mut Vec<u8>,
    headers: &mut Vec<u8>,
) -> Result<(), Limited> {
    let Applied {
        conf,
        at,
        identity,
        now,
    } = *limit;
    let sliding = conf.window_type == WindowType::Sliding;
    let mut exceeded = false;
    let mut longest_wait = 0u64;
    let mut message: Option<String> = None;
    for p in conf
        .providers
        .iter()
        .filter(|p| spends(p.provider, providers))
    {
        provider_key(&p.name, identity, key);
        let mut over = false;
        for w in &p.windows {
            let cur = clock::fixed_window(w.seconds, now);
            let current = state.count(at, key, cur);
            let previous = if sliding {
                state.count(at, key, clock::previous(cur))
            } else {
                0.0
            };
            let used = current + previous * clock::previous_weight(cur, now);
            let remaining = (w.limit - used).max(0.0);
            if !conf.hide_client_headers {
                number(headers, &w.limit_header, w.limit);
                number(headers, &w.remaining_header, remaining.floor());
            }
            if w.limit - used <= 0.0 {
                over = true;
                let wait = clock::retry_after(cur, now, current, previous, sliding, w.limit);
                longest_wait = longest_wait.max(wait);
                if !conf.hide_client_headers {
                    number(headers, &w.reset_header, wait as f64);
                    number(headers, &w.retry_after_header, wait as f64);
                }
            }
        }
        if over {
            exceeded = true;
            if !conf.error_hide_providers {
                let m = message.get_or_insert_with(|| conf.error_message.clone());
                if m.len() > conf.error_message.len() {
                    m.push_str(", ");
                }
                m.push_str(&p.name);
            }
        }
    }
    if !exceeded {
        return Ok(());
    }
    if !conf.hide_client_headers {
        number(headers, "X-AI-RateLimit-Reset", longest_wait as f64);
        number(headers, "X-AI-RateLimit-Retry-After", longest_wait as f64);
    }
    number(headers, "Retry-After", longest_wait as f64);
    Err(Limited {
        status: conf.error_code,
        message: message.unwrap_or_else(|| conf.error_message.clone()),
    })
}

/// Spends a finished request's tokens (or cost) on the budgets of the provider that served it.
pub fn spend_tokens(
    state: &mut LimitsState,
    limit: &Applied<'_, TokenLimit>,
    provider: Provider,
    tally: &Tally,
    key: &mut Vec<u8>,
) {
    let Applied {
        conf,
        at,
        identity,
        now,
    } = *limit;
    let amount = tokens(conf.count, tally);
    if amount <= 0.0 {
        return;
    }
    for p in conf
        .providers
        .iter()
        .filter(|p| p.provider == Some(provider))
    {
        provider_key(&p.name, identity, key);
        for w in &p.windows {
            state.add(at, key, clock::fixed_window(w.seconds, now), amount);
        }
    }
}

/// The counter keys and windows a finished request's tokens go to, for counts that arrive
/// later (the tokenizer thread's): `(key, window)` pairs.
pub fn token_counters(
    conf: &TokenLimit,
    provider: Provider,
    identity: &[u8],
    now: Now,
) -> Vec<(Box<[u8]>, crate::stats::limits::Window)> {
    let mut out = Vec::new();
    let mut key = Vec::new();
    for p in conf
        .providers
        .iter()
        .filter(|p| p.provider == Some(provider))
    {
        provider_key(&p.name, identity, &mut key);
        for w in &p.windows {
            out.push((key.as_slice().into(), clock::fixed_window(w.seconds, now)));
        }
    }
    out
}

/// What a request's usage weighs in `count`'s unit.
pub fn tokens(count: TokenCount, t: &Tally) -> f64 {
    match count {
        TokenCount::TotalTokens => t.total_tokens as f64,
        TokenCount::PromptTokens => t.prompt_tokens as f64,
        TokenCount::CompletionTokens => t.completion_tokens as f64,
        TokenCount::Cost => t.cost,
    }
}

fn spends(p: Option<Provider>, providers: u32) -> bool {
    p.is_some_and(|p| providers & (1 << (p as u32)) != 0)
}

/// `<provider name> 0x1f <identity>`: one budget per provider.
fn provider_key(name: &str, identity: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(name.as_bytes());
    out.push(0x1f);
    out.extend_from_slice(identity);
}

/// `Name: value` with the number as Kong prints it (no `.0` on whole numbers).
fn number(out: &mut Vec<u8>, name: &str, value: f64) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    if value.fract() == 0.0 && (0.0..1e15).contains(&value) {
        push_u64(out, value as u64);
    } else {
        let _ = write!(out, "{value}");
    }
    out.extend_from_slice(b"\r\n");
}

fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(crate::http1::Decimal::of(n).as_bytes());
}

#[cfg(test)]
mod tests;
