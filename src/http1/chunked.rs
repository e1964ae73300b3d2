//! Incremental `Transfer-Encoding: chunked` decoder (RFC 9112 section 7.1).
//!
//! Fed whatever bytes have arrived; hands out data pieces as soon as they are known to be
//! body, so a proxied SSE stream is forwarded event by event instead of chunk-line by
//! chunk-line. Chunk extensions are accepted and ignored; trailers are read and dropped.

use std::fmt;

/// Longest chunk-size or trailer line accepted; longer is treated as an attack.
const MAX_LINE: usize = 4096;
/// Upper bound on the whole trailer section.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers { seen: usize },
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    BadSize,
    BadDataEnd,
    LineTooLong,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkError::BadSize => "invalid chunk size line",
            ChunkError::BadDataEnd => "chunk data not followed by CRLF",
            ChunkError::LineTooLong => "chunk size or trailer line too long",
        })
    }
}

#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Result of one [`ChunkedDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used; the caller drops them from its buffer.
    pub consumed: usize,
    /// The terminating chunk and trailers have been read.
    pub done: bool,
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder { state: State::Size }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `input` as possible, calling `data` with each body piece in order.
    pub fn decode(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<Progress, ChunkError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => break,
                State::Size => match httparse::parse_chunk_size(rest) {
                    // A complete line is held to the same bound as a partial one, so the
                    // verdict does not depend on how the bytes were split (found by fuzzing).
                    Ok(httparse::Status::Complete((used, _))) if used > MAX_LINE => {
                        return Err(ChunkError::LineTooLong);
                    }
                    Ok(httparse::Status::Complete((used, size))) => {
                        pos += used;
                        self.state = if size == 0 {
                            State::Trailers { seen: 0 }
                        } else {
                            State::Data(size)
                        };
                    }
                    Ok(httparse::Status::Partial) => {
                        if rest.len() > MAX_LINE {
                            return Err(ChunkError::LineTooLong);
                        }
                        break;
                    }
                    Err(_) => return Err(ChunkError::BadSize),
                },
                State::Data(left) => {
                    if rest.is_empty() {
                        break;
                    }
                    let n = (left.min(rest.len() as u64)) as usize;
                    data(&rest[..n]);
                    pos += n;
                    self.state = if left == n as u64 {
                        State::DataEnd
                    } else {
                        State::Data(left - n as u64)
                    };
                }
                State::DataEnd => {
                    if rest.len() < 2 {
                        if rest.first().is_some_and(|b| *b != b'\r') {
                            return Err(ChunkError::BadDataEnd);
                        }
                        break;
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(ChunkError::BadDataEnd);
                    }
                    pos += 2;
                    self.state = State::Size;
                }
                State::Trailers { seen } => match memchr_crlf(rest) {
                    Some(line_end) if line_end > MAX_LINE => return Err(ChunkError::LineTooLong),
                    Some(line_end) => {
                        pos += line_end + 2;
                        if line_end == 0 {
                            self.state = State::Done;
                        } else {
                            let seen = seen + line_end + 2;
                            if seen > MAX_TRAILERS {
                                return Err(ChunkError::LineTooLong);
                            }
                            self.state = State::Trailers { seen };
                        }
                    }
                    None => {
                        // `rest` may end with the line's CR: allow it, as the complete case does.
                        if rest.len() > MAX_LINE + 1 {
                            return Err(ChunkError::LineTooLong);
                        }
                        break;
                    }
                },
            }
        }
        Ok(Progress {
            consumed: pos,
            done: self.state == State::Done,
        })
    }
}

fn memchr_crlf(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"\r\n")
}

/// Appends one chunk (`size CRLF data CRLF`); empty data writes nothing, since an empty
/// chunk would terminate the body.
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    // The size in hex, written without allocating: this runs once per relayed SSE event.
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut n = data.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ChunkError> {
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut total = 0;
        for piece in input.chunks(step) {
            buf.extend_from_slice(piece);
            let p = dec.decode(&buf, |d| out.extend_from_slice(d))?;
            total += p.consumed;
            buf.drain(..p.consumed);
            if p.done {
                return Ok((out, total, true));
            }
        }
        Ok((out, total, dec.is_done()))
    }

    #[test]
    fn decodes_in_any_split() {
        let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..wire.len() {
            let (out, used, done) = decode_all(wire, step).unwrap();
            assert_eq!(out, b"hello world", "step {step}");
            assert!(done);
            assert_eq!(used, wire.len() - 4, "leaves the next message untouched");
        }
    }

    #[test]
    fn rejects_bad_framing() {
        assert_eq!(decode_all(b"zz\r\n", 64).unwrap_err(), ChunkError::BadSize);
        assert_eq!(
            decode_all(b"3\r\nabcX\r\n", 64).unwrap_err(),
            ChunkError::BadDataEnd
        );
        let long = vec![b'1'; MAX_LINE + 10];
        assert!(decode_all(&long, 64).is_err());
        assert_eq!(
            decode_all(b"fffffffffffffffffffff\r\n", 64).unwrap_err(),
            ChunkError::BadSize
        );
    }

    #[test]
    fn long_lines_fail_however_they_are_split() {
        // fuzz/regressions/http1_request_head-{chunk-ext,trailer}-over-max-line
        let ext = format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_LINE + 10));
        let trailer = format!("1\r\nx\r\n0\r\nX-T: {}\r\n\r\n", "t".repeat(MAX_LINE + 10));
        for wire in [ext, trailer] {
            for step in [1, 7, 100, MAX_LINE - 1, MAX_LINE + 1, wire.len()] {
                assert_eq!(
                    decode_all(wire.as_bytes(), step).unwrap_err(),
                    ChunkError::LineTooLong,
                    "step {step}"
                );
            }
        }
    }

    #[test]
    fn encodes_round_trip() {
        let mut wire = Vec::new();
        encode_chunk(&mut wire, b"data: {}\n\n");
        for n in [1usize, 15, 16, 255, 4096, 0xabcde] {
            let mut one = Vec::new();
            encode_chunk(&mut one, &vec![b'x'; n]);
            assert!(one.starts_with(format!("{n:x}\r\n").as_bytes()), "{n}");
            assert!(one.ends_with(b"x\r\n") && one.len() == n + format!("{n:x}").len() + 4);
        }
        encode_chunk(&mut wire, b"");
        wire.extend_from_slice(LAST_CHUNK);
        let (out, _, done) = decode_all(&wire, 3).unwrap();
        assert_eq!(out, b"data: {}\n\n");
        assert!(done);
    }
}
