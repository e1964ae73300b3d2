//! Sending the chosen provider response to the client as it arrives: the client's head (the
//! provider's status and headers plus llmux's), then the body.
//!
//! Every read from the provider is written to the client before the next read, so each SSE
//! event (one or a few chunks) reaches the client as soon as llmux has it; nothing is batched
//! to the end. Chunked bodies are decoded and re-chunked, which keeps the client's framing
//! right whatever the provider used (chunked, length or close-delimited).

use super::attempt::Answer;
use super::request::ProxyRequest;
use super::Next;
use crate::http1::chunked::{encode_chunk, LAST_CHUNK};
use crate::http1::headers::{is_hop_by_hop, push};
use crate::http1::{ChunkedDecoder, ClientConn, Framing, ResponseHead};
use crate::provider::ResponseFilter;
use crate::upstream::UpstreamConn;
use std::time::Duration;

/// How relaying the chosen response ended, for the connection loop and the bookkeeping.
pub(super) enum Relayed {
    /// The whole response reached the client; `filter` holds what was learnt on the way.
    Done {
        next: Next,
        status: u16,
        filter: ResponseFilter,
    },
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
    client: &mut ClientConn,
) -> Relayed {
    let Answer {
        mut conn,
        head: up_head,
        driver,
        plan,
        ..
    } = answer;
    let mut filter = driver.response_filter(&up_head, &plan);
    let framing = client_framing(
        up_head.framing,
        req.head.version == 1,
        filter.changes_length(),
    );
    let keep_alive = req.head.keep_alive && framing != ClientFraming::UntilClose;
    let target = req.target(t);
    let model_label = (up_head.status == 200 && req.config().model_name_header).then(|| {
        let name = target
            .model_name
            .as_deref()
            .or(req.client_model())
            .unwrap_or("");
        format!("{}/{}", target.provider.as_str(), name)
    });
    let added = AddedHeaders {
        content_type: filter.content_type(),
        model: model_label.as_deref(),
        upstream_latency_ms: req.timings.upstream().as_millis(),
        proxy_latency_ms: req.timings.overhead().as_millis(),
    };
    let out = client_head(&up_head, framing, keep_alive, &added);
    let read_timeout = req.plugin.options.read_timeout;
    match relay(
        &mut conn,
        &up_head,
        client,
        out,
        framing,
        read_timeout,
        &mut filter,
    )
    .await
    {
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
                filter,
            }
        }
        RelayEnd::UpstreamFailed(_) => Relayed::UpstreamFailed,
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
    model: Option<&'a str>,
    upstream_latency_ms: u128,
    proxy_latency_ms: u128,
}

/// The client's response head: the provider's status and end-to-end headers minus
/// `Set-Cookie`, then llmux's own headers and framing.
fn client_head(
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
        if is_hop_by_hop(name)
            || name.eq_ignore_ascii_case(b"set-cookie")
            || (added.content_type.is_some() && name.eq_ignore_ascii_case(b"content-type"))
        {
            continue;
        }
        push(&mut out, name, up.header_value(h));
    }
    if let Some(content_type) = added.content_type {
        push(&mut out, b"Content-Type", content_type.as_bytes());
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

/// How the body pump ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RelayEnd {
    /// Whole body delivered; the provider connection may be pooled if `reusable`.
    Complete { reusable: bool },
    /// The provider failed mid-body; the client saw a truncated response and must be closed.
    UpstreamFailed(String),
    /// The client went away; nothing more can be sent.
    ClientGone,
}

/// Writes `head` and relays the body. `read_timeout` bounds each wait on the provider.
async fn relay(
    up: &mut UpstreamConn,
    up_head: &ResponseHead,
    client: &mut ClientConn,
    head: Vec<u8>,
    framing: ClientFraming,
    read_timeout: Duration,
    filter: &mut ResponseFilter,
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
                filter.pass(&up.buf.data()[..n], &mut data);
                up.buf.consume(n);
                remaining -= n as u64;
                finished = remaining == 0;
            }
            Framing::Chunked => {
                let progress = match decoder.decode(up.buf.data(), |d| filter.pass(d, &mut data)) {
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
                filter.pass(&up.buf.data()[..n], &mut data);
                up.buf.consume(n);
            }
        }
        if finished {
            filter.finish(&mut data);
        }
        frame(&mut out, &data, framing);
        if finished && framing == ClientFraming::Chunked {
            out.extend_from_slice(LAST_CHUNK);
        }
        if !out.is_empty() {
            match client.write_all(out).await {
                Ok(buf) => out = buf,
                Err(_) => return RelayEnd::ClientGone,
            }
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
                filter.finish(&mut tail);
                let mut last = Vec::new();
                frame(&mut last, &tail, framing);
                if framing == ClientFraming::Chunked {
                    last.extend_from_slice(LAST_CHUNK);
                }
                if !last.is_empty() && client.write_all(last).await.is_err() {
                    return RelayEnd::ClientGone;
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
