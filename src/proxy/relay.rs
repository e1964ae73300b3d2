//! Sending the provider's response to the client as it arrives.
//!
//! Every read from the provider is written to the client before the next read, so each SSE
//! event (one or a few chunks) reaches the client as soon as llmux has it; nothing is batched
//! to the end. Chunked bodies are decoded and re-chunked, which keeps the client's framing
//! right whatever the provider used (chunked, length or close-delimited).

use crate::http1::chunked::{encode_chunk, LAST_CHUNK};
use crate::http1::headers::{is_hop_by_hop, push};
use crate::http1::{ChunkedDecoder, Framing, ResponseHead};
use crate::upstream::UpstreamConn;
use crate::usage::SseFilter;
use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use std::time::Duration;

/// How the body is framed towards the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientFraming {
    Length(u64),
    Chunked,
    /// HTTP/1.0 client and unknown length: close when done.
    UntilClose,
    Empty,
}

/// `rewrites_body`: llmux may change the body's length (hiding an SSE event), so a
/// `Content-Length` from the provider cannot be passed on.
pub fn client_framing(
    upstream: Framing,
    client_http11: bool,
    rewrites_body: bool,
) -> ClientFraming {
    match upstream {
        Framing::Length(_) if rewrites_body && client_http11 => ClientFraming::Chunked,
        Framing::Length(_) if rewrites_body => ClientFraming::UntilClose,
        Framing::Empty => ClientFraming::Empty,
        Framing::Length(n) => ClientFraming::Length(n),
        Framing::Chunked | Framing::UntilClose if client_http11 => ClientFraming::Chunked,
        Framing::Chunked | Framing::UntilClose => ClientFraming::UntilClose,
    }
}

/// Extra response headers llmux adds (Kong's names, so dashboards keep working).
pub struct AddedHeaders<'a> {
    pub model: Option<&'a str>,
    pub upstream_latency_ms: u128,
    pub proxy_latency_ms: u128,
}

/// The client's response head: the provider's status and end-to-end headers minus
/// `Set-Cookie`, then llmux's own headers and framing.
pub fn client_head(
    up: &ResponseHead,
    framing: ClientFraming,
    keep_alive: bool,
    added: &AddedHeaders<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(up.raw.len() + 192);
    out.extend_from_slice(format!("HTTP/1.1 {} ", up.status).as_bytes());
    out.extend_from_slice(up.reason());
    out.extend_from_slice(b"\r\n");
    for h in &up.headers {
        let name = up.header_name(h);
        if is_hop_by_hop(name) || name.eq_ignore_ascii_case(b"set-cookie") {
            continue;
        }
        push(&mut out, name, up.header_value(h));
    }
    match framing {
        ClientFraming::Length(n) => push(&mut out, b"Content-Length", n.to_string().as_bytes()),
        ClientFraming::Chunked => push(&mut out, b"Transfer-Encoding", b"chunked"),
        ClientFraming::Empty if up.status != 204 && up.status != 304 => {
            push(&mut out, b"Content-Length", b"0")
        }
        _ => {}
    }
    if let Some(model) = added.model {
        push(&mut out, b"X-Kong-LLM-Model", model.as_bytes());
    }
    push(
        &mut out,
        b"X-Kong-Upstream-Latency",
        added.upstream_latency_ms.to_string().as_bytes(),
    );
    push(
        &mut out,
        b"X-Kong-Proxy-Latency",
        added.proxy_latency_ms.to_string().as_bytes(),
    );
    if !keep_alive {
        push(&mut out, b"Connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What llmux reads from a response body on its way to the client, for token accounting.
pub enum Observer {
    /// A JSON body, kept (up to `MAX_OBSERVED_JSON`) to read `usage` at the end.
    Json(Vec<u8>),
    /// An SSE stream: events pass through the filter, which reads usage and may hide the
    /// usage-only event llmux asked for on the client's behalf.
    Sse(Box<SseFilter>),
    /// Nothing to learn (errors, unknown content types).
    Off,
}

/// JSON bodies larger than this are relayed but not parsed for usage.
pub const MAX_OBSERVED_JSON: usize = 4 * 1024 * 1024;

impl Observer {
    /// Passes `data` on into `out` (as the client should see it), learning from it on the way.
    fn pass(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self {
            Observer::Json(body) => {
                if body.len() + data.len() <= MAX_OBSERVED_JSON {
                    body.extend_from_slice(data);
                } else {
                    *self = Observer::Off;
                }
                out.extend_from_slice(data);
            }
            Observer::Sse(filter) => filter.feed(data, out),
            Observer::Off => out.extend_from_slice(data),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if let Observer::Sse(filter) = self {
            filter.finish(out);
        }
    }
}

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEnd {
    /// Whole body delivered; the provider connection may be pooled if `reusable`.
    Complete { reusable: bool },
    /// The provider failed mid-body; the client saw a truncated response and must be closed.
    UpstreamFailed(String),
    /// The client went away; nothing more can be sent.
    ClientGone,
}

/// Writes `head` and relays the body. `read_timeout` bounds each wait on the provider.
pub async fn relay(
    up: &mut UpstreamConn,
    up_head: &ResponseHead,
    client: &mut TcpStream,
    head: Vec<u8>,
    framing: ClientFraming,
    read_timeout: Duration,
    observer: &mut Observer,
) -> RelayEnd {
    let mut out = head;
    let mut data: Vec<u8> = Vec::new();
    let mut decoder = ChunkedDecoder::new();
    let mut remaining = match up_head.framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    loop {
        // Move whatever the provider has sent so far into `out`, framed for the client.
        let mut finished = false;
        data.clear();
        match up_head.framing {
            Framing::Empty => finished = true,
            Framing::Length(_) => {
                let n = (remaining.min(up.buf.len() as u64)) as usize;
                observer.pass(&up.buf.data()[..n], &mut data);
                up.buf.consume(n);
                remaining -= n as u64;
                finished = remaining == 0;
            }
            Framing::Chunked => {
                let progress = match decoder.decode(up.buf.data(), |d| observer.pass(d, &mut data))
                {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = client.write_all(out).await;
                        return RelayEnd::UpstreamFailed(format!("bad chunked body: {e}"));
                    }
                };
                up.buf.consume(progress.consumed);
                finished = progress.done;
            }
            Framing::UntilClose => {
                let n = up.buf.len();
                observer.pass(&up.buf.data()[..n], &mut data);
                up.buf.consume(n);
            }
        }
        if finished {
            observer.finish(&mut data);
        }
        frame(&mut out, &data, framing);
        if finished && framing == ClientFraming::Chunked {
            out.extend_from_slice(LAST_CHUNK);
        }
        if !out.is_empty() {
            let (res, buf) = client.write_all(out).await;
            if res.is_err() {
                return RelayEnd::ClientGone;
            }
            out = buf;
            out.clear();
        }
        if finished {
            return RelayEnd::Complete {
                reusable: up_head.keep_alive && up.buf.is_empty(),
            };
        }
        match monoio::time::timeout(read_timeout, up.buf.fill(&mut up.io)).await {
            Ok(Ok(0)) if up_head.framing == Framing::UntilClose => {
                let mut tail = Vec::new();
                observer.finish(&mut tail);
                let mut last = Vec::new();
                frame(&mut last, &tail, framing);
                if framing == ClientFraming::Chunked {
                    last.extend_from_slice(LAST_CHUNK);
                }
                if !last.is_empty() {
                    let (res, _) = client.write_all(last).await;
                    if res.is_err() {
                        return RelayEnd::ClientGone;
                    }
                }
                return RelayEnd::Complete { reusable: false };
            }
            Ok(Ok(0)) => return RelayEnd::UpstreamFailed("upstream closed mid-body".into()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return RelayEnd::UpstreamFailed(format!("reading upstream body: {e}")),
            Err(_) => {
                return RelayEnd::UpstreamFailed(format!(
                    "upstream sent nothing for {} ms",
                    read_timeout.as_millis()
                ))
            }
        }
    }
}

fn frame(out: &mut Vec<u8>, data: &[u8], framing: ClientFraming) {
    match framing {
        ClientFraming::Chunked => encode_chunk(out, data),
        _ => out.extend_from_slice(data),
    }
}
