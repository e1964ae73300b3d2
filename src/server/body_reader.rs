//! Reading a request body into one buffer, whatever its framing, within a size limit.
//!
//! The body is read whole before proxying: llmux must see `model` before choosing a target,
//! and providers expect a `Content-Length` body.

use crate::http1::{ChunkedDecoder, Framing, ReadBuf};
use monoio::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Malformed(String),
    Timeout,
    Closed,
}

/// Reads the body; `timeout` bounds each wait for more bytes.
pub async fn read_body(
    stream: &mut TcpStream,
    buf: &mut ReadBuf,
    framing: Framing,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, BodyError> {
    match framing {
        Framing::Empty | Framing::UntilClose => Ok(Vec::new()),
        Framing::Length(n) => {
            let n = usize::try_from(n).map_err(|_| BodyError::TooLarge)?;
            if n > limit {
                return Err(BodyError::TooLarge);
            }
            while buf.len() < n {
                fill(stream, buf, timeout).await?;
            }
            Ok(buf.take(n))
        }
        Framing::Chunked => {
            let mut decoder = ChunkedDecoder::new();
            let mut body = Vec::new();
            loop {
                let mut over = false;
                let progress = decoder
                    .decode(buf.data(), |d| {
                        if body.len() + d.len() > limit {
                            over = true;
                        } else {
                            body.extend_from_slice(d);
                        }
                    })
                    .map_err(|e| BodyError::Malformed(format!("bad chunked request body: {e}")))?;
                buf.consume(progress.consumed);
                if over {
                    return Err(BodyError::TooLarge);
                }
                if progress.done {
                    return Ok(body);
                }
                fill(stream, buf, timeout).await?;
            }
        }
    }
}

async fn fill(
    stream: &mut TcpStream,
    buf: &mut ReadBuf,
    timeout: Duration,
) -> Result<(), BodyError> {
    match monoio::time::timeout(timeout, buf.fill(stream)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Err(BodyError::Closed),
        Ok(Ok(_)) => Ok(()),
        Err(_) => Err(BodyError::Timeout),
    }
}
