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

    /// Appends a complete line (from [`PendingLine::complete`]).
    pub fn write(&self, line: &[u8]) {
        let full = {
            let mut buf = self.buf.borrow_mut();
            buf.extend_from_slice(line);
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

/// Everything one log line says except its token counts, which may only be known later (the
/// tokenizer thread counts them when the provider reported none). Never holds a credential.
pub struct Entry<'a> {
    pub time_ms: u128,
    pub client_ip: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub request_size: usize,
    pub status: u16,
    /// Bytes llmux wrote to the client for this response (head and body).
    pub response_size: u64,
    pub plugin_id: &'a str,
    pub provider: &'a str,
    /// The model sent to the provider (Kong's `request_model`).
    pub request_model: &'a str,
    /// The model the provider's response names, else `request_model` (Kong's rule).
    pub response_model: &'a str,
    pub streaming: bool,
    /// Request sent to last byte.
    pub llm_latency: std::time::Duration,
    pub time_to_first_token_ms: f64,
    pub proxy_overhead_ms: f64,
    pub tried: Vec<Tried<'a>>,
    /// With `log_payloads`: the client's request body and the response (text for streams).
    pub payloads: Option<(&'a [u8], &'a [u8])>,
    /// Who called (Kong's `consumer` and `authenticated_entity`), when `key-auth` ran.
    pub consumer: Option<LoggedConsumer<'a>>,
}

/// The consumer fields of a log line: identifiers only, never a key.
#[derive(Debug, Clone, Copy)]
pub struct LoggedConsumer<'a> {
    pub id: &'a str,
    pub username: Option<&'a str>,
    pub custom_id: Option<&'a str>,
    /// The credential's id (Kong's `authenticated_entity.id`); `None` for the anonymous
    /// consumer.
    pub credential: Option<&'a str>,
}

/// The counts of one log line (the provider's, or the tokenizer's).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub cost: f64,
}

/// A rendered line waiting for its counts: everything up to `"usage":`. Owns its bytes, so
/// it can be completed on another thread.
pub struct PendingLine {
    prefix: Vec<u8>,
    /// Kong's `llm_latency`: whole milliseconds.
    llm_latency_ms: u64,
    time_to_first_token_ms: f64,
}

impl PendingLine {
    /// The whole line, newline included.
    pub fn complete(mut self, c: &Counts) -> Vec<u8> {
        // Kong's time_per_token: llm_latency (ms) / completion tokens.
        let per_token = if c.completion_tokens > 0 {
            self.llm_latency_ms as f64 / c.completion_tokens as f64
        } else {
            0.0
        };
        self.prefix.extend_from_slice(
            format!(
                "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{},\"cost\":{},\"time_per_token\":{},\"time_to_first_token\":{:.3}}}}}}}}}\n",
                c.prompt_tokens,
                c.completion_tokens,
                c.total_tokens,
                c.cost,
                per_token,
                self.time_to_first_token_ms,
            )
            .as_bytes(),
        );
        self.prefix
    }
}

impl CoreLog {
    /// A sender for lines completed off this worker (see [`PendingLine`]).
    pub fn sender(&self) -> Sender<Vec<u8>> {
        self.tx.clone()
    }
}

impl LoggedConsumer<'_> {
    /// `"consumer":{...},"authenticated_entity":{...},` as Kong's serializer names them.
    fn render(&self, o: &mut Vec<u8>) {
        o.extend_from_slice(b"\"consumer\":{\"id\":");
        push_quoted(self.id, o);
        for (name, value) in [("username", self.username), ("custom_id", self.custom_id)] {
            if let Some(v) = value {
                o.extend_from_slice(format!(",\"{name}\":").as_bytes());
                push_quoted(v, o);
            }
        }
        o.extend_from_slice(b"},");
        if let Some(credential) = self.credential {
            o.extend_from_slice(b"\"authenticated_entity\":{\"id\":");
            push_quoted(credential, o);
            o.extend_from_slice(b",\"consumer_id\":");
            push_quoted(self.id, o);
            o.extend_from_slice(b"},");
        }
    }
}

impl Entry<'_> {
    /// The line up to its usage object. Field names and units are Kong's file-log
    /// serializer's (`started_at` and latencies in ms, `client_ip`, `request.size`,
    /// `response.size`, `ai.proxy.meta`, `ai.proxy.usage`, `ai.proxy.payload`).
    pub fn render(&self) -> PendingLine {
        let mut o = Vec::with_capacity(512);
        let llm_latency_ms = u64::try_from(self.llm_latency.as_millis()).unwrap_or(u64::MAX);
        o.extend_from_slice(format!("{{\"started_at\":{},\"client_ip\":", self.time_ms).as_bytes());
        push_quoted(self.client_ip, &mut o);
        o.extend_from_slice(b",\"request\":{\"method\":");
        push_quoted(self.method, &mut o);
        o.extend_from_slice(b",\"uri\":");
        push_quoted(self.path, &mut o);
        o.extend_from_slice(
            format!(
                ",\"size\":{}}},\"response\":{{\"status\":{},\"size\":{}}},\"latencies\":{{\"kong\":{:.3},\"proxy\":{}}},",
                self.request_size,
                self.status,
                self.response_size,
                self.proxy_overhead_ms,
                llm_latency_ms,
            )
            .as_bytes(),
        );
        if let Some(c) = &self.consumer {
            c.render(&mut o);
        }
        o.extend_from_slice(b"\"ai\":{\"proxy\":{\"meta\":{\"plugin_id\":");
        push_quoted(self.plugin_id, &mut o);
        o.extend_from_slice(b",\"provider_name\":");
        push_quoted(self.provider, &mut o);
        o.extend_from_slice(b",\"request_model\":");
        push_quoted(self.request_model, &mut o);
        o.extend_from_slice(b",\"response_model\":");
        push_quoted(self.response_model, &mut o);
        let mode = if self.streaming { "stream" } else { "oneshot" };
        o.extend_from_slice(
            format!(
                ",\"llm_latency\":{llm_latency_ms},\"request_mode\":\"{mode}\",\"tried_targets\":["
            )
            .as_bytes(),
        );
        for (i, t) in self.tried.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            o.extend_from_slice(b"{\"provider\":");
            push_quoted(t.provider, &mut o);
            o.extend_from_slice(b",\"model\":");
            push_quoted(t.model, &mut o);
            o.extend_from_slice(b",\"host\":");
            push_quoted(t.host, &mut o);
            o.extend_from_slice(
                format!(
                    ",\"port\":{},\"upstream_scheme\":\"{}\",\"route_type\":",
                    t.port, t.scheme
                )
                .as_bytes(),
            );
            push_quoted(t.route_type, &mut o);
            o.push(b'}');
        }
        o.extend_from_slice(b"]}");
        if let Some((req, resp)) = self.payloads {
            o.extend_from_slice(b",\"payload\":{\"request\":");
            push_quoted(&String::from_utf8_lossy(req), &mut o);
            o.extend_from_slice(b",\"response\":");
            push_quoted(&String::from_utf8_lossy(resp), &mut o);
            o.push(b'}');
        }
        o.extend_from_slice(b",\"usage\":");
        PendingLine {
            prefix: o,
            llm_latency_ms,
            time_to_first_token_ms: self.time_to_first_token_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            time_ms: 1,
            client_ip: "127.0.0.1",
            method: "POST",
            path: "/v1/chat/completions",
            request_size: 10,
            status: 200,
            response_size: 99,
            plugin_id: "p",
            provider: "openai",
            request_model: "gpt-4o-mini",
            response_model: "gpt-4o-mini-2024",
            streaming: false,
            llm_latency: std::time::Duration::from_micros(12_900),
            time_to_first_token_ms: 1.0,
            proxy_overhead_ms: 0.1,
            tried: Vec::new(),
            payloads: None,
            consumer: None,
        }
    }

    fn line() -> Vec<u8> {
        entry().render().complete(&Counts {
            prompt_tokens: 1,
            completion_tokens: 4,
            total_tokens: 5,
            cost: 0.5,
        })
    }

    #[test]
    fn a_line_is_one_json_object_with_kongs_fields_and_units() {
        let line = line();
        assert!(line.ends_with(b"}\n") && !line[..line.len() - 1].contains(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["client_ip"], "127.0.0.1");
        assert_eq!(v["response"]["size"], 99);
        let meta = &v["ai"]["proxy"]["meta"];
        assert_eq!(meta["llm_latency"], 12, "whole milliseconds, as Kong");
        assert_eq!(meta["request_model"], "gpt-4o-mini");
        assert_eq!(meta["response_model"], "gpt-4o-mini-2024");
        let usage = &v["ai"]["proxy"]["usage"];
        assert_eq!(
            usage["time_per_token"], 3.0,
            "llm_latency / completion_tokens"
        );
        assert_eq!(usage["total_tokens"], 5);
        assert_eq!(usage["cost"], 0.5);
        assert!(v.get("consumer").is_none());
    }

    #[test]
    fn a_line_names_the_consumer_as_kong_does() {
        let e = Entry {
            consumer: Some(LoggedConsumer {
                id: "c-1",
                username: Some("alice"),
                custom_id: None,
                credential: Some("k-1"),
            }),
            ..entry()
        };
        let line = e.render().complete(&Counts::default());
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            v["consumer"],
            serde_json::json!({"id": "c-1", "username": "alice"})
        );
        assert_eq!(
            v["authenticated_entity"],
            serde_json::json!({"id": "k-1", "consumer_id": "c-1"})
        );
        assert_eq!(v["ai"]["proxy"]["meta"]["plugin_id"], "p");
    }

    #[test]
    fn a_writer_that_falls_behind_costs_counted_buffers_not_a_blocked_worker() {
        let (tx, rx) = bounded::<Vec<u8>>(1);
        let log = CoreLog::new(tx);
        log.write(&line());
        log.flush();
        assert_eq!(log.dropped(), 0, "the channel had room");
        log.write(&line());
        log.flush();
        assert_eq!(log.dropped(), 1, "the channel was full: dropped, counted");
        let got = rx.try_recv().unwrap();
        assert!(got.ends_with(b"\n") && got.starts_with(b"{\"started_at\":1,"));
        drop(rx);
        log.write(&line());
        log.flush();
        assert_eq!(log.dropped(), 2, "no writer at all: dropped, counted");
    }
}
