//! The statistics log: one JSON line per request for targets with `logging.log_statistics`,
//! with Kong's `ai.proxy.usage` and `ai.proxy.meta` fields.
//!
//! A worker appends lines to its own buffer and hands full buffers to the writer thread with
//! `try_send`; if the writer falls behind, buffers are dropped (and counted) rather than
//! blocking an event loop. Only the writer thread touches the file or stdout.

use crate::body::push_quoted;
use crossbeam::channel::{bounded, Sender, TrySendError};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::path::PathBuf;

/// A worker flushes its buffer when it grows past this, and on every merge tick.
const FLUSH_AT: usize = 64 * 1024;

/// Starts the writer thread; `None` writes to stdout.
pub fn spawn(dest: Option<PathBuf>) -> std::io::Result<Sender<Vec<u8>>> {
    let mut out: Box<dyn Write + Send> = match &dest {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    std::io::Error::new(e.kind(), format!("opening {}: {e}", path.display()))
                })?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let (tx, rx) = bounded::<Vec<u8>>(256);
    std::thread::Builder::new()
        .name("llmux-access-log".into())
        .spawn(move || {
            while let Ok(buf) = rx.recv() {
                if out.write_all(&buf).and_then(|_| out.flush()).is_err() {
                    crate::error!("access log: write failed; further lines are dropped");
                    while rx.recv().is_ok() {}
                    return;
                }
            }
        })?;
    Ok(tx)
}

/// One worker's end of the statistics log.
pub struct CoreLog {
    tx: Sender<Vec<u8>>,
    buf: RefCell<Vec<u8>>,
    dropped: Cell<u64>,
}

impl CoreLog {
    pub fn new(tx: Sender<Vec<u8>>) -> CoreLog {
        CoreLog {
            tx,
            buf: RefCell::new(Vec::with_capacity(FLUSH_AT)),
            dropped: Cell::new(0),
        }
    }

    pub fn write(&self, entry: &Entry<'_>) {
        let full = {
            let mut buf = self.buf.borrow_mut();
            entry.write_json(&mut buf);
            buf.push(b'\n');
            buf.len() >= FLUSH_AT
        };
        if full {
            self.flush();
        }
    }

    /// Buffers dropped so far because the writer thread fell behind (reported in `/status`
    /// and `/metrics`).
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    pub fn flush(&self) {
        let buf = std::mem::take(&mut *self.buf.borrow_mut());
        if buf.is_empty() {
            return;
        }
        match self.tx.try_send(buf) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.set(self.dropped.get() + 1);
            }
        }
    }
}

/// One tried target, as Kong's `tried_targets` lists them.
pub struct Tried<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub scheme: &'a str,
    pub route_type: &'a str,
}

/// Everything one log line says. Never holds a credential.
pub struct Entry<'a> {
    pub time_ms: u128,
    pub method: &'a str,
    pub path: &'a str,
    pub request_size: usize,
    pub status: u16,
    pub plugin_id: &'a str,
    pub provider: &'a str,
    pub request_model: &'a str,
    pub response_model: &'a str,
    pub streaming: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub cost: f64,
    /// Request sent to last byte, ms.
    pub llm_latency_ms: f64,
    pub time_to_first_token_ms: f64,
    pub proxy_overhead_ms: f64,
    pub tried: Vec<Tried<'a>>,
    /// With `log_payloads`: the client's request body and the response (text for streams).
    pub payloads: Option<(&'a [u8], &'a [u8])>,
}

impl Entry<'_> {
    pub fn write_json(&self, o: &mut Vec<u8>) {
        let per_token = if self.completion_tokens > 0 {
            self.llm_latency_ms / self.completion_tokens as f64
        } else {
            0.0
        };
        o.extend_from_slice(
            format!(
                "{{\"started_at\":{},\"request\":{{\"method\":",
                self.time_ms
            )
            .as_bytes(),
        );
        push_quoted(self.method, o);
        o.extend_from_slice(b",\"uri\":");
        push_quoted(self.path, o);
        o.extend_from_slice(
            format!(
                ",\"size\":{}}},\"response\":{{\"status\":{}}},\"latencies\":{{\"kong\":{:.3},\"proxy\":{:.3}}},\"ai\":{{\"proxy\":{{\"usage\":{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{},\"cost\":{},\"time_per_token\":{:.3},\"time_to_first_token\":{:.3}}},\"meta\":{{\"plugin_id\":",
                self.request_size,
                self.status,
                self.proxy_overhead_ms,
                self.llm_latency_ms,
                self.prompt_tokens,
                self.completion_tokens,
                self.total_tokens,
                self.cost,
                per_token,
                self.time_to_first_token_ms,
            )
            .as_bytes(),
        );
        push_quoted(self.plugin_id, o);
        o.extend_from_slice(b",\"provider_name\":");
        push_quoted(self.provider, o);
        o.extend_from_slice(b",\"request_model\":");
        push_quoted(self.request_model, o);
        o.extend_from_slice(b",\"response_model\":");
        push_quoted(self.response_model, o);
        let mode = if self.streaming { "stream" } else { "oneshot" };
        o.extend_from_slice(
            format!(
                ",\"request_mode\":\"{mode}\",\"llm_latency\":{:.3},\"tried_targets\":[",
                self.llm_latency_ms
            )
            .as_bytes(),
        );
        for (i, t) in self.tried.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            o.extend_from_slice(b"{\"provider\":");
            push_quoted(t.provider, o);
            o.extend_from_slice(b",\"model\":");
            push_quoted(t.model, o);
            o.extend_from_slice(b",\"host\":");
            push_quoted(t.host, o);
            o.extend_from_slice(
                format!(
                    ",\"port\":{},\"upstream_scheme\":\"{}\",\"route_type\":",
                    t.port, t.scheme
                )
                .as_bytes(),
            );
            push_quoted(t.route_type, o);
            o.push(b'}');
        }
        o.extend_from_slice(b"]}");
        if let Some((req, resp)) = self.payloads {
            o.extend_from_slice(b",\"payload\":{\"request\":");
            push_quoted(&String::from_utf8_lossy(req), o);
            o.extend_from_slice(b",\"response\":");
            push_quoted(&String::from_utf8_lossy(resp), o);
            o.push(b'}');
        }
        o.extend_from_slice(b"}}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            time_ms: 1,
            method: "POST",
            path: "/v1/chat/completions",
            request_size: 10,
            status: 200,
            plugin_id: "p",
            provider: "openai",
            request_model: "fast",
            response_model: "gpt-4o-mini",
            streaming: false,
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
            cost: 0.0,
            llm_latency_ms: 1.0,
            time_to_first_token_ms: 1.0,
            proxy_overhead_ms: 0.1,
            tried: Vec::new(),
            payloads: None,
        }
    }

    #[test]
    fn a_writer_that_falls_behind_costs_counted_buffers_not_a_blocked_worker() {
        let (tx, rx) = bounded::<Vec<u8>>(1);
        let log = CoreLog::new(tx);
        log.write(&entry());
        log.flush();
        assert_eq!(log.dropped(), 0, "the channel had room");
        log.write(&entry());
        log.flush();
        assert_eq!(log.dropped(), 1, "the channel was full: dropped, counted");
        let line = rx.try_recv().unwrap();
        assert!(line.ends_with(b"\n") && line.starts_with(b"{\"started_at\":1,"));
        drop(rx);
        log.write(&entry());
        log.flush();
        assert_eq!(log.dropped(), 2, "no writer at all: dropped, counted");
    }
}
