//! What llmux does with a provider's response body on its way to the client: pass it through,
//! or filter it, while reading the token usage for accounting.
//!
//! A filter is reused from request to request (it lives in the worker's per-request scratch
//! storage): a driver sets it up for each response, and its buffers keep their capacity.

use crate::http1::ResponseHead;
use crate::usage::{SseFilter, Usage, UsageParser};

/// JSON bodies larger than this are relayed but not parsed for usage.
pub(crate) const MAX_OBSERVED_JSON: usize = 4 * 1024 * 1024;

/// What the current response's bytes go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A successful JSON body, kept (up to [`MAX_OBSERVED_JSON`]) to read `usage` at the end.
    Json,
    /// An SSE stream: events pass through the SSE filter, which reads usage and may hide the
    /// usage-only event llmux asked for on the client's behalf.
    Sse,
    /// Nothing to learn (errors, unknown content types): bytes pass through untouched.
    Off,
}

pub(crate) struct ResponseFilter {
    mode: Mode,
    json: Vec<u8>,
    sse: SseFilter,
}

impl Default for ResponseFilter {
    fn default() -> Self {
        ResponseFilter {
            mode: Mode::Off,
            json: Vec::new(),
            sse: SseFilter::new(false),
        }
    }
}

impl ResponseFilter {
    /// Sets the filter up for an OpenAI-format response with this head.
    pub(crate) fn set_openai(&mut self, head: &ResponseHead, hide_usage: bool) {
        self.json.clear();
        let content_type = head.header("content-type").unwrap_or(b"");
        self.mode = if content_type.starts_with(b"text/event-stream") {
            self.sse.reset(hide_usage);
            Mode::Sse
        } else if (200..300).contains(&head.status) && content_type.starts_with(b"application/json")
        {
            Mode::Json
        } else {
            Mode::Off
        };
    }

    /// An event stream: the body arrives in pieces, maybe seconds apart.
    pub(crate) fn is_stream(&self) -> bool {
        self.mode == Mode::Sse
    }

    /// The body the client gets may differ in length from the provider's (an event is
    /// hidden), so the provider's `Content-Length` cannot be passed on.
    pub(crate) fn changes_length(&self) -> bool {
        self.mode == Mode::Sse && self.sse.hides_usage_event()
    }

    /// Passes `data` on into `out` (as the client should see it), learning from it on the way.
    pub(crate) fn pass(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self.mode {
            Mode::Json => {
                if self.json.len() + data.len() <= MAX_OBSERVED_JSON {
                    self.json.extend_from_slice(data);
                } else {
                    self.json.clear();
                    self.mode = Mode::Off;
                }
                out.extend_from_slice(data);
            }
            Mode::Sse => self.sse.feed(data, out),
            Mode::Off => out.extend_from_slice(data),
        }
    }

    /// The body ended: anything held back goes into `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.mode == Mode::Sse {
            self.sse.finish(out);
        }
    }

    /// The usage the provider reported, once the body is complete.
    pub(crate) fn usage(&self, parser: &mut UsageParser) -> Option<Usage> {
        match self.mode {
            Mode::Json => parser.parse(&self.json),
            Mode::Sse => self.sse.usage(),
            Mode::Off => None,
        }
    }

    /// The model a JSON response names (Kong's `response_model`). Kong reads it from JSON
    /// bodies only; for a stream it logs the request's model, and so does llmux.
    pub(crate) fn response_model(&self, parser: &mut UsageParser) -> Option<String> {
        match self.mode {
            Mode::Json => parser.model(&self.json),
            Mode::Sse | Mode::Off => None,
        }
    }

    /// The generated text, for the tokenizer fallback; `None` when nothing was observed.
    pub(crate) fn completion_text(&self, parser: &mut UsageParser) -> Option<String> {
        match self.mode {
            Mode::Json => Some(parser.completion_text(&self.json).unwrap_or_default()),
            Mode::Sse => Some(self.sse.completion_text().to_string()),
            Mode::Off => None,
        }
    }

    /// The response as the statistics log's payload: the JSON body, or a stream's text.
    pub(crate) fn logged_payload(&self) -> &[u8] {
        match self.mode {
            Mode::Json => &self.json,
            Mode::Sse => self.sse.completion_text().as_bytes(),
            Mode::Off => b"",
        }
    }

    /// Lets go of what the last response left, keeping at most `keep` bytes of capacity.
    pub(crate) fn recycle(&mut self, keep: usize) {
        self.mode = Mode::Off;
        self.json.clear();
        self.json.shrink_to(keep);
    }
}
