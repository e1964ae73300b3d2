//! Cutting a provider's streamed body into events as bytes arrive, split anywhere: Server-Sent
//! Events (Anthropic, Gemini with `alt=sse`, Cohere, OpenAI) and newline-delimited JSON (Ollama).
//! Bedrock's binary event stream is decoded in `provider::bedrock::stream`.

/// An event larger than this is dropped and reported as an error: a broken or hostile provider
/// must not make llmux buffer without bound. Real events are a few hundred bytes; Gemini's with
/// inline images can be a few MiB.
pub const MAX_EVENT: usize = 16 << 20;

/// What happened to an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Framing {
    /// Every event so far fit.
    Ok,
    /// One event outgrew [`MAX_EVENT`] and was dropped.
    Oversized,
}

/// Splits SSE into the joined `data:` values of each event (the SSE specification's rules:
/// lines end with CRLF, LF or CR; a blank line ends an event; several `data:` lines are joined
/// with `\n`; comments and other fields are skipped).
#[derive(Default)]
pub struct SseSplitter {
    pending: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    oversized: bool,
}

impl SseSplitter {
    pub fn new() -> SseSplitter {
        SseSplitter::default()
    }

    /// Feeds bytes; `on_event` gets each complete event's data.
    pub fn feed(&mut self, input: &[u8], mut on_event: impl FnMut(&[u8])) -> Framing {
        self.pending.extend_from_slice(input);
        let mut start = 0;
        let buf = std::mem::take(&mut self.pending);
        let mut i = 0;
        while i < buf.len() {
            let c = buf[i];
            if c != b'\n' && c != b'\r' {
                i += 1;
                continue;
            }
            // A CR at the very end may be the first half of a CRLF: wait for the next byte.
            if c == b'\r' && i + 1 == buf.len() {
                break;
            }
            let line = &buf[start..i];
            i += if c == b'\r' && buf[i + 1] == b'\n' {
                2
            } else {
                1
            };
            start = i;
            self.line(line, &mut on_event);
        }
        self.pending = buf;
        self.pending.drain(..start);
        if self.pending.len() + self.data.len() > MAX_EVENT {
            self.pending.clear();
            self.data.clear();
            self.has_data = false;
            self.oversized = true;
        }
        if self.oversized {
            Framing::Oversized
        } else {
            Framing::Ok
        }
    }

    /// The body ended: an event without its final blank line still counts.
    pub fn finish(&mut self, mut on_event: impl FnMut(&[u8])) {
        let rest = std::mem::take(&mut self.pending);
        let line = rest.strip_suffix(b"\r").unwrap_or(&rest);
        if !line.is_empty() {
            self.line(line, &mut on_event);
        }
        self.line(b"", &mut on_event);
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(&[u8])) {
        if line.is_empty() {
            if self.has_data {
                on_event(&self.data);
            }
            self.data.clear();
            self.has_data = false;
            return;
        }
        let Some(value) = line.strip_prefix(b"data") else {
            return;
        };
        let value = match value.split_first() {
            None => value,
            Some((b':', v)) => v.strip_prefix(b" ").unwrap_or(v),
            // Another field whose name starts with "data".
            Some(_) => return,
        };
        if self.has_data {
            self.data.push(b'\n');
        }
        self.data.extend_from_slice(value);
        self.has_data = true;
    }
}

/// Splits newline-delimited JSON into lines (blank lines skipped, a trailing CR dropped).
#[derive(Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
    oversized: bool,
}

impl LineSplitter {
    pub fn new() -> LineSplitter {
        LineSplitter::default()
    }

    pub fn feed(&mut self, input: &[u8], mut on_line: impl FnMut(&[u8])) -> Framing {
        let mut rest = input;
        while let Some(nl) = rest.iter().position(|&c| c == b'\n') {
            if self.pending.is_empty() {
                emit(&rest[..nl], &mut on_line);
            } else {
                self.pending.extend_from_slice(&rest[..nl]);
                let line = std::mem::take(&mut self.pending);
                emit(&line, &mut on_line);
            }
            rest = &rest[nl + 1..];
        }
        self.pending.extend_from_slice(rest);
        if self.pending.len() > MAX_EVENT {
            self.pending.clear();
            self.oversized = true;
        }
        if self.oversized {
            Framing::Oversized
        } else {
            Framing::Ok
        }
    }

    pub fn finish(&mut self, mut on_line: impl FnMut(&[u8])) {
        let rest = std::mem::take(&mut self.pending);
        emit(&rest, &mut on_line);
    }
}

fn emit(line: &[u8], on_line: &mut impl FnMut(&[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.iter().all(u8::is_ascii_whitespace) {
        on_line(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse_events(input: &[u8], split: usize) -> Vec<String> {
        let mut s = SseSplitter::new();
        let mut got = Vec::new();
        let (a, b) = input.split_at(split.min(input.len()));
        for part in [a, b] {
            s.feed(part, |d| got.push(String::from_utf8_lossy(d).into_owned()));
        }
        s.finish(|d| got.push(String::from_utf8_lossy(d).into_owned()));
        got
    }

    #[test]
    fn sse_any_split_any_line_end() {
        let input = b"event: a\r\ndata: {\"x\":1}\r\n\r\n: comment\ndata:2\ndata: 3\n\nevent: b\rdata: 4\r\rdata: tail";
        for split in 0..=input.len() {
            assert_eq!(
                sse_events(input, split),
                vec!["{\"x\":1}", "2\n3", "4", "tail"],
                "split at {split}"
            );
        }
    }

    #[test]
    fn ndjson_lines() {
        let input = b"{\"a\":1}\n\n{\"b\":2}\r\n{\"c\"";
        for split in 0..=input.len() {
            let mut s = LineSplitter::new();
            let mut got = Vec::new();
            let (a, b) = input.split_at(split);
            for part in [a, b] {
                s.feed(part, |l| got.push(String::from_utf8_lossy(l).into_owned()));
            }
            s.finish(|l| got.push(String::from_utf8_lossy(l).into_owned()));
            assert_eq!(
                got,
                vec!["{\"a\":1}", "{\"b\":2}", "{\"c\""],
                "split {split}"
            );
        }
    }

    #[test]
    fn oversized_event_is_dropped() {
        let mut s = SseSplitter::new();
        let big = vec![b'x'; MAX_EVENT + 1];
        let mut n = 0;
        assert_eq!(s.feed(b"data: ", |_| n += 1), Framing::Ok);
        assert_eq!(s.feed(&big, |_| n += 1), Framing::Oversized);
        assert_eq!(n, 0);
    }
}
