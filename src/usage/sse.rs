//! Relays an upstream's SSE stream event by event while reading usage and text from it.
//!
//! The relay feeds decoded body bytes as they arrive, split anywhere. Each complete event is
//! written out byte-exact as soon as its blank line arrives (one flush per event, never
//! batched: a streaming client sees each token when the provider sends it), so only the current
//! incomplete event is ever held. Events are located with the SSE line rules (CRLF, LF or CR
//! line ends) and their JSON is parsed only when it can matter: while the tokenizer fallback may still need the text, or for a `"usage"` key
//! followed by an object.

use super::json::{append_text, choices_of, member, usage_from_object};
use super::{Usage, UsageParser, MAX_COMPLETION_TEXT};

thread_local! {
    /// One parser per thread for every stream's events: parsing is synchronous, so streams on
    /// one worker can share its buffers instead of each holding a set for its whole life.
    static PARSER: std::cell::RefCell<UsageParser> = std::cell::RefCell::new(UsageParser::new());
}

/// Events larger than this are relayed unparsed: a hostile or broken upstream must not make
/// llmux hold an unbounded event, and no real usage or delta event comes near it.
pub const MAX_EVENT: usize = 1 << 20;

/// `pending` keeps at most this much capacity between events, so one large event does not pin
/// its buffer for the rest of a long stream.
const KEEP_CAPACITY: usize = 64 << 10;

pub struct SseFilter {
    hide_usage_event: bool,
    /// Bytes of the current, incomplete event; nothing of it has been written out yet.
    pending: Vec<u8>,
    /// The current event outgrew [`MAX_EVENT`]: its bytes go straight out until it ends.
    oversized: bool,
    /// The next byte starts a line.
    line_start: bool,
    /// The previous byte was a CR, so an LF now is the second half of a CRLF.
    after_cr: bool,
    /// The last event ended on the final byte of a feed with the CR of a CRLF blank line: an LF
    /// starting the next feed belongs to that event (and is dropped with it if it was hidden).
    owed_lf: Option<bool>,
    usage: Option<Usage>,
    text: String,
    /// The event's `data:` lines joined, reused across events.
    data: Vec<u8>,
}

impl SseFilter {
    /// `hide_usage_event` is true when llmux itself added `stream_options.include_usage`: the
    /// client did not ask for the usage-only final event, so it must not see it.
    pub fn new(hide_usage_event: bool) -> Self {
        Self {
            hide_usage_event,
            pending: Vec::new(),
            oversized: false,
            line_start: true,
            after_cr: false,
            owed_lf: None,
            usage: None,
            text: String::new(),
            data: Vec::new(),
        }
    }

    /// Ready for a new stream, keeping the buffers' capacity (up to what one stream needs).
    pub fn reset(&mut self, hide_usage_event: bool) {
        self.hide_usage_event = hide_usage_event;
        self.pending.clear();
        self.pending.shrink_to(KEEP_CAPACITY);
        self.oversized = false;
        self.line_start = true;
        self.after_cr = false;
        self.owed_lf = None;
        self.usage = None;
        self.text.clear();
        self.text.shrink_to(KEEP_CAPACITY);
        self.data.clear();
        self.data.shrink_to(KEEP_CAPACITY);
    }

    /// Whether a usage-only event will be left out (so the body's length changes).
    pub fn hides_usage_event(&self) -> bool {
        self.hide_usage_event
    }

    /// Appends to `out` every event that `input` completes, byte-exact and with its blank
    /// line, except a hidden usage-only event; keeps the incomplete rest pending.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let n = input.len();
        let mut start = 0;
        if n == 0 {
            return;
        }
        if let Some(hidden) = self.owed_lf.take() {
            if input[0] == b'\n' {
                if !hidden {
                    out.push(b'\n');
                }
                self.after_cr = false;
                start = 1;
            }
        }
        let mut i = start;
        while i < n {
            let b = input[i];
            if b != b'\n' && b != b'\r' {
                self.line_start = false;
                self.after_cr = false;
                i += 1;
                i += find(&input[i..], is_eol).unwrap_or(n - i);
                continue;
            }
            i += 1;
            if self.after_cr && b == b'\n' {
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            if !self.line_start {
                self.line_start = true;
                continue;
            }
            // A blank line: the event ends here, or after the LF of a CRLF.
            let mut owed = false;
            if b == b'\r' {
                if i == n {
                    owed = true;
                } else if input[i] == b'\n' {
                    i += 1;
                    self.after_cr = false;
                }
            }
            let hidden = self.complete(&input[start..i], out);
            if owed {
                self.owed_lf = Some(hidden);
            }
            start = i;
        }
        self.hold(&input[start..], out);
    }

    /// Writes out whatever is pending when the upstream ends without a final blank line. The
    /// bytes go out unchanged (conforming SSE clients discard an unterminated event anyway), but
    /// are still read for usage and text, so such an upstream is counted.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.oversized && !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.inspect(&pending);
            self.pending = pending;
        }
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        self.oversized = false;
        self.line_start = true;
        self.after_cr = false;
        self.owed_lf = None;
    }

    /// From the last event that carried a `usage` object with a usable count.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Concatenated `choices[].delta.content` / `choices[].text` (and tool call arguments),
    /// capped at [`MAX_COMPLETION_TEXT`]; only collected until usage has been seen.
    pub fn completion_text(&self) -> &str {
        &self.text
    }

    /// Handles one complete event (its bytes in this feed's `tail`, after `pending`). Returns
    /// whether it was hidden.
    fn complete(&mut self, tail: &[u8], out: &mut Vec<u8>) -> bool {
        if self.oversized {
            self.oversized = false;
            out.extend_from_slice(tail);
            return false;
        }
        if self.pending.len() + tail.len() > MAX_EVENT {
            self.flush_pending(out);
            out.extend_from_slice(tail);
            return false;
        }
        let hidden = if self.pending.is_empty() {
            let hidden = self.inspect(tail);
            if !hidden {
                out.extend_from_slice(tail);
            }
            hidden
        } else {
            let mut event = std::mem::take(&mut self.pending);
            event.extend_from_slice(tail);
            let hidden = self.inspect(&event);
            if !hidden {
                out.extend_from_slice(&event);
            }
            event.clear();
            self.pending = event;
            hidden
        };
        if self.pending.capacity() > KEEP_CAPACITY {
            self.pending = Vec::new();
        }
        hidden
    }

    /// Keeps the incomplete end of the feed, unless the event has grown too large to hold.
    fn hold(&mut self, rest: &[u8], out: &mut Vec<u8>) {
        if rest.is_empty() {
            return;
        }
        if self.oversized {
            out.extend_from_slice(rest);
        } else if self.pending.len() + rest.len() > MAX_EVENT {
            self.flush_pending(out);
            out.extend_from_slice(rest);
            self.oversized = true;
        } else {
            self.pending.extend_from_slice(rest);
        }
    }

    fn flush_pending(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.pending);
        self.pending = Vec::new();
    }

    /// Reads usage and text from one event; returns whether it is a usage-only event to hide.
    ///
    /// While text may still be needed nearly every event carries some, so every event with
    /// data is parsed; once it is not, only events with a `"usage"` object are.
    fn inspect(&mut self, event: &[u8]) -> bool {
        let want_text = self.usage.is_none() && self.text.len() < MAX_COMPLETION_TEXT;
        if !want_text && !has_usage_object(event) {
            return false;
        }
        let mut buf = std::mem::take(&mut self.data);
        let text = &mut self.text;
        let seen = match event_data(event, &mut buf) {
            Some(b"[DONE]") | None => None,
            Some(data) => PARSER.with_borrow_mut(|parser| {
                parser.with_document(data, |doc| {
                    let usage = member(doc, "usage").filter(|u| u.is_object());
                    let choices = choices_of(doc);
                    let usage_only = usage.is_some() && choices.is_some_and(|c| c.is_empty());
                    if let (true, Some(choices)) = (want_text, choices) {
                        append_text(choices, text, MAX_COMPLETION_TEXT);
                    }
                    (usage.and_then(usage_from_object), usage_only)
                })
            }),
        };
        buf.clear();
        self.data = buf;
        let Some((usage, usage_only)) = seen else {
            return false;
        };
        if usage.is_some() {
            self.usage = usage;
        }
        usage_only && self.hide_usage_event
    }
}

fn is_eol(c: u8) -> bool {
    c == b'\n' || c == b'\r'
}

/// The first byte matching `is`, tested 32 at a time without early exit so that the compiler
/// vectorises the common case of a block with no match (a byte loop made the scans, not the
/// JSON parse, the larger part of the filter's cost).
#[inline]
fn find(hay: &[u8], is: impl Fn(u8) -> bool + Copy) -> Option<usize> {
    let mut base = 0;
    let mut blocks = hay.chunks_exact(32);
    for block in &mut blocks {
        if block.iter().fold(false, |any, &c| any | is(c)) {
            return block.iter().position(|&c| is(c)).map(|p| base + p);
        }
        base += 32;
    }
    blocks
        .remainder()
        .iter()
        .position(|&c| is(c))
        .map(|p| base + p)
}

/// Whether a `"usage"` key is followed by an object: with `include_usage` every OpenAI chunk
/// carries `"usage":null`, and those need no parse. Keys written with escapes are not
/// recognised; no provider writes them so.
fn has_usage_object(event: &[u8]) -> bool {
    // Anchored on the `g`, which is far rarer in chunks than quotes are.
    let mut i = 0;
    while let Some(p) = find(&event[i..], |c| c == b'g') {
        let g = i + p;
        i = g + 1;
        let key = g.checked_sub(4).and_then(|start| event.get(start..g + 3));
        if key == Some(b"\"usage\"") && object_follows(&event[g + 3..]) {
            return true;
        }
    }
    false
}

/// After a key's closing quote: JSON allows only whitespace around the colon.
fn object_follows(after: &[u8]) -> bool {
    let mut it = after.iter().copied().skip_while(u8::is_ascii_whitespace);
    it.next() == Some(b':') && it.find(|c| !c.is_ascii_whitespace()) == Some(b'{')
}

/// The event's data: its `data:` field values joined with `\n`, as the SSE spec does. A
/// single data line (the usual case) is returned in place, several are joined into `buf`.
fn event_data<'a>(event: &'a [u8], buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    let mut first: Option<&'a [u8]> = None;
    let mut rest = event;
    while !rest.is_empty() {
        let end = find(rest, is_eol).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = &rest[(end + 1).min(rest.len())..];
        let Some(value) = data_value(line) else {
            continue;
        };
        match first {
            None => first = Some(value),
            Some(f) => {
                if buf.is_empty() {
                    buf.extend_from_slice(f);
                }
                buf.push(b'\n');
                buf.extend_from_slice(value);
            }
        }
    }
    if buf.is_empty() {
        first
    } else {
        Some(buf)
    }
}

/// The value of a `data` field line, `None` for other fields, comments and blank lines.
fn data_value(line: &[u8]) -> Option<&[u8]> {
    let value = line.strip_prefix(b"data")?;
    match value.split_first() {
        None => Some(value),
        Some((b':', v)) => Some(v.strip_prefix(b" ").unwrap_or(v)),
        // Another field whose name starts with "data".
        Some(_) => None,
    }
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
