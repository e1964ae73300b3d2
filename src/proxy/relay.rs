//! Sending the chosen provider response to the client as it arrives: the client's head (the
//! provider's status and headers plus llmux's), then the body.
//!
//! Every read from the provider is written to the client before the next read, so each SSE
//! event (one or a few chunks) reaches the client as soon as llmux has it; nothing is batched
//! to the end. Chunked bodies are decoded and re-chunked, which keeps the client's framing
//! right whatever the provider used (chunked, length or close-delimited). The buffers are the
//! worker's per-request scratch, reused from request to request.

use super::attempt::Answer;
use super::request::ProxyRequest;
use super::Next;
use crate::ctx::IoScratch;
use crate::http1::chunked::{encode_chunk, LAST_CHUNK};
use crate::http1::headers::{is_hop_by_hop, push};
use crate::http1::{spare, ChunkedDecoder, ClientConn, Decimal, Framing, ResponseHead};
use crate::provider::ResponseFilter;
use crate::upstream::UpstreamConn;
use std::time::Duration;

/// How relaying the chosen response ended, for the connection loop and the bookkeeping. The
/// scratch's filter holds what was learnt on the way.
pub(super) enum Relayed {
    /// The whole response reached the client.
    Done { next: Next, status: u16 },
    /// The client went away; nothing more can be sent.
    ClientGone,
    /// The provider failed mid-body; the client saw a truncated response.
    UpstreamFailed,
}

/// Relays `answer` (from target `t`) to the client and pools its connection when reusable.
pub(super) async fn respond(
    req: &ProxyRequest<'_>,
    t: usize,
    answer: Answer,
    io: &mut IoScratch,
    client: &mut ClientConn,
) -> Relayed {
    let Answer {
        mut conn,
        driver,
        plan,
        ..
    } = answer;
    let IoScratch {
        response_head: up_head,
        filter,
        out,
        data,
        ..
    } = io;
    driver.response_filter(up_head, &plan, filter);
    let framing = client_framing(
        up_head.framing,
        req.head.version == 1,
        filter.changes_length(),
    );
    let keep_alive = req.head.keep_alive && framing != ClientFraming::UntilClose;
    let target = req.target(t);
    let model = (up_head.status == 200 && req.config().model_name_header).then(|| {
        let name = target.model_name.as_deref().or(req.client_model());
        (target.provider.as_str(), name.unwrap_or(""))
    });
    let added = AddedHeaders {
        content_type: filter.content_type(),
        model,
        upstream_latency_ms: req.timings.upstream().as_millis(),
        proxy_latency_ms: req.timings.overhead().as_millis(),
        limits: &req.access.response_headers,
    };
    ensure_spare(out);
    client_head(out, up_head, framing, keep_alive, req.head.version, &added);
    let read_timeout = req.plugin.options.read_timeout;
    let pump = Pump {
        up: &mut conn,
        up_head,
        framing,
        filter,
        read_timeout,
    };
    match pump.run(client, out, data, req.ctx.lean()).await {
        RelayEnd::Complete { reusable } => {
            if reusable {
                req.ctx.pool.borrow_mut().put(conn);
            }
            Relayed::Done {
                next: if keep_alive {
                    Next::KeepAlive
                } else {
                    Next::Close
                },
                status: up_head.status,
            }
        }
        RelayEnd::UpstreamFailed => Relayed::UpstreamFailed,
        RelayEnd::ClientGone => Relayed::ClientGone,
    }
}

/// How the body is framed towards the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientFraming {
    Length(u64),
    Chunked,
    /// HTTP/1.0 client and unknown length: close when done.
    UntilClose,
    Empty,
}

/// `rewrites_body`: llmux may change the body's length (hiding an SSE event), so a
/// `Content-Length` from the provider cannot be passed on.
fn client_framing(upstream: Framing, client_http11: bool, rewrites_body: bool) -> ClientFraming {
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
struct AddedHeaders<'a> {
    /// Replaces the provider's `Content-Type` (a translated answer; see `ResponseFilter`).
    content_type: Option<&'static str>,
    /// `(provider, model)` for `X-Kong-LLM-Model: provider/model`.
    model: Option<(&'a str, &'a str)>,
    upstream_latency_ms: u128,
    proxy_latency_ms: u128,
    /// The rate limiters' header lines (`X-RateLimit-*`, `X-AI-RateLimit-*`), CRLF-ended.
    limits: &'a [u8],
}

/// Writes the client's response head into `out` (emptied first): the provider's status and
/// end-to-end headers minus `Set-Cookie`, then llmux's own headers and framing. Numbers are
/// written without allocating.
fn client_head(
    out: &mut Vec<u8>,
    up: &ResponseHead,
    framing: ClientFraming,
    keep_alive: bool,
    client_minor: u8,
    added: &AddedHeaders<'_>,
) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(Decimal::of(u64::from(up.status)).as_bytes());
    out.push(b' ');
    out.extend_from_slice(up.reason());
    out.extend_from_slice(b"\r\n");
    for h in &up.headers {
        let name = up.header_name(h);
        if is_hop_by_hop(name)
            || name.eq_ignore_ascii_case(b"set-cookie")
            || (added.content_type.is_some() && name.eq_ignore_ascii_case(b"content-type"))
        {
            continue;
        }
        push(out, name, up.header_value(h));
    }
    if let Some(content_type) = added.content_type {
        push(out, b"Content-Type", content_type.as_bytes());
    }
    match framing {
        ClientFraming::Length(n) => push(out, b"Content-Length", Decimal::of(n).as_bytes()),
        ClientFraming::Chunked => push(out, b"Transfer-Encoding", b"chunked"),
        ClientFraming::Empty if up.status != 204 && up.status != 304 => {
            push(out, b"Content-Length", b"0")
        }
        _ => {}
    }
    if let Some((provider, model)) = added.model {
        out.extend_from_slice(b"X-Kong-LLM-Model: ");
        out.extend_from_slice(provider.as_bytes());
        out.push(b'/');
        out.extend_from_slice(model.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let ms = |v: u128| Decimal::of(u64::try_from(v).unwrap_or(u64::MAX));
    push(
        out,
        b"X-Kong-Upstream-Latency",
        ms(added.upstream_latency_ms).as_bytes(),
    );
    push(
        out,
        b"X-Kong-Proxy-Latency",
        ms(added.proxy_latency_ms).as_bytes(),
    );
    out.extend_from_slice(added.limits);
    if !keep_alive {
        push(out, b"Connection", b"close");
    } else if client_minor == 0 {
        // HTTP/1.0 persistence is opt-in on both sides (RFC 9112 section 9.3).
        push(out, b"Connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
}

/// How the body pump ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RelayEnd {
    /// Whole body delivered; the provider connection may be pooled if `reusable`.
    Complete { reusable: bool },
    /// The provider failed mid-body; the client saw a truncated response and must be closed.
    UpstreamFailed,
    /// The client went away; nothing more can be sent.
    ClientGone,
}

/// Moves the provider's body to the client.
struct Pump<'a> {
    up: &'a mut UpstreamConn,
    up_head: &'a ResponseHead,
    framing: ClientFraming,
    filter: &'a mut ResponseFilter,
    /// Bounds each wait on the provider.
    read_timeout: Duration,
}

impl Pump<'_> {
    /// Writes `out` (the client's head) and relays the body, reusing `out` and `data`.
    /// `lean`: see [`write_out`].
    async fn run(
        self,
        client: &mut ClientConn,
        out: &mut Vec<u8>,
        data: &mut Vec<u8>,
        lean: bool,
    ) -> RelayEnd {
        let Pump {
            up,
            up_head,
            framing,
            filter,
            read_timeout,
        } = self;
        // A stream between events holds no buffers: they go back to the thread's spares
        // before each wait and are taken again after it.
        let quiet = filter.is_stream();
        let lean = quiet && lean;
        let mut decoder = ChunkedDecoder::new();
        let mut remaining = match up_head.framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        loop {
            // Move whatever the provider has sent so far into `out`, framed for the client.
            // A read yields at most a standard buffer, so these never grow mid-stream.
            let mut finished = false;
            ensure_spare(data);
            ensure_spare(out);
            data.clear();
            match up_head.framing {
                Framing::Empty => finished = true,
                Framing::Length(_) => {
                    let n = (remaining.min(up.buf.len() as u64)) as usize;
                    filter.pass(&up.buf.data()[..n], data);
                    up.buf.consume(n);
                    remaining -= n as u64;
                    finished = remaining == 0;
                }
                Framing::Chunked => {
                    let progress = match decoder.decode(up.buf.data(), |d| filter.pass(d, data)) {
                        Ok(p) => p,
                        Err(_) => {
                            let _ = write_out(client, out, lean).await;
                            return RelayEnd::UpstreamFailed;
                        }
                    };
                    up.buf.consume(progress.consumed);
                    finished = progress.done;
                }
                Framing::UntilClose => {
                    let n = up.buf.len();
                    filter.pass(&up.buf.data()[..n], data);
                    up.buf.consume(n);
                }
            }
            if finished {
                filter.finish(data);
            }
            frame(out, data, framing);
            if finished && framing == ClientFraming::Chunked {
                out.extend_from_slice(LAST_CHUNK);
            }
            if !write_out(client, out, lean).await {
                return RelayEnd::ClientGone;
            }
            if finished {
                return RelayEnd::Complete {
                    reusable: up_head.keep_alive && up.buf.is_empty(),
                };
            }
            if quiet {
                spare::give(std::mem::take(out));
                spare::give(std::mem::take(data));
            }
            match up.fill(read_timeout, quiet).await {
                Ok(0) if up_head.framing == Framing::UntilClose => {
                    ensure_spare(data);
                    ensure_spare(out);
                    data.clear();
                    filter.finish(data);
                    frame(out, data, framing);
                    if framing == ClientFraming::Chunked {
                        out.extend_from_slice(LAST_CHUNK);
                    }
                    if !write_out(client, out, lean).await {
                        return RelayEnd::ClientGone;
                    }
                    return RelayEnd::Complete { reusable: false };
                }
                Ok(0) | Err(_) => return RelayEnd::UpstreamFailed,
                Ok(_) => {}
            }
        }
    }
}

/// Writes and empties `out` (keeping its allocation); `false` when the client is gone.
///
/// `lean` (thousands of connections): first write what the socket takes right now, so the
/// buffer is not held by a write op until the loop comes round again. Streams that all
/// receive an event at the same moment would otherwise each hold their buffers at once.
async fn write_out(client: &mut ClientConn, out: &mut Vec<u8>, lean: bool) -> bool {
    if out.is_empty() {
        return true;
    }
    if lean {
        let n = client.write_now(out);
        if n == out.len() {
            out.clear();
            return true;
        }
        out.drain(..n);
    }
    match client.write_all(std::mem::take(out)).await {
        Ok(mut buf) => {
            buf.clear();
            *out = buf;
            true
        }
        Err(_) => false,
    }
}

/// Gives `buf` a standard spare's capacity if it has less (it went back to the spares while
/// its stream waited, or it is new).
fn ensure_spare(buf: &mut Vec<u8>) {
    if buf.capacity() < spare::SIZE {
        let mut fresh = spare::take();
        fresh.extend_from_slice(buf);
        *buf = fresh;
    }
}

fn frame(out: &mut Vec<u8>, data: &[u8], framing: ClientFraming) {
    match framing {
        ClientFraming::Chunked => encode_chunk(out, data),
        _ => out.extend_from_slice(data),
    }
}
