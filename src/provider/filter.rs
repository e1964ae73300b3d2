//! What llmux does with a provider's response body on its way to the client: pass it through,
//! filter it, or translate it, while reading the token usage for accounting.
//!
//! A filter is reused from request to request (it lives in the worker's per-request scratch
//! storage): a driver sets it up for each response, and its buffers keep their capacity. The
//! OpenAI-compatible modes are plain fields, so that path costs no allocation or indirection;
//! everything another provider needs goes through the one boxed translator.

use super::translate::Translate;
use crate::http1::ResponseHead;
use crate::usage::{SseFilter, Usage, UsageParser};
use std::borrow::Cow;

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
    /// Another provider's answer rewritten into the client's API, or a native answer read for
    /// usage (see `provider::translate`).
    Translated,
    /// Nothing to learn (errors, unknown content types): bytes pass through untouched.
    Off,
}

pub(crate) struct ResponseFilter {
    mode: Mode,
    json: Vec<u8>,
    sse: SseFilter,
    translated: Option<Box<dyn Translate>>,
    /// The translated answer arrives in pieces, maybe seconds apart (a stream).
    translated_stream: bool,
}

impl Default for ResponseFilter {
    fn default() -> Self {
        ResponseFilter {
            mode: Mode::Off,
            json: Vec::new(),
            sse: SseFilter::new(false),
            translated: None,
            translated_stream: false,
        }
    }
}

impl ResponseFilter {
    /// Sets the filter up for an OpenAI-format response with this head.
    pub(crate) fn set_openai(&mut self, head: &ResponseHead, hide_usage: bool) {
        self.json.clear();
        self.translated = None;
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

    /// Sets the filter up to pass the body through untouched, learning nothing.
    pub(crate) fn set_off(&mut self) {
        self.json.clear();
        self.translated = None;
        self.mode = Mode::Off;
    }

    /// Sets the filter up to run the body through `translator`; `stream`: it arrives in
    /// pieces (so the relay holds no buffers between them).
    pub(crate) fn set_translated(&mut self, translator: Box<dyn Translate>, stream: bool) {
        self.json.clear();
        self.translated = Some(translator);
        self.translated_stream = stream;
        self.mode = Mode::Translated;
    }

    /// An event stream: the body arrives in pieces, maybe seconds apart.
    pub(crate) fn is_stream(&self) -> bool {
        match self.mode {
            Mode::Sse => true,
            Mode::Translated => self.translated_stream,
            _ => false,
        }
    }

    /// The body the client gets may differ in length from the provider's (an event is
    /// hidden, or the answer is translated), so the provider's `Content-Length` cannot be
    /// passed on.
    pub(crate) fn changes_length(&self) -> bool {
        match self.mode {
            Mode::Sse => self.sse.hides_usage_event(),
            Mode::Translated => self.translated.as_ref().is_some_and(|t| t.changes_length()),
            _ => false,
        }
    }

    /// The client's `Content-Type` when it is not the provider's (a translated answer: JSON,
    /// or SSE for a Bedrock or Ollama stream). The relay's one hook for translated heads.
    pub(crate) fn content_type(&self) -> Option<&'static str> {
        match self.mode {
            Mode::Translated => self.translated.as_ref().and_then(|t| t.content_type()),
            _ => None,
        }
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
            Mode::Translated => match &mut self.translated {
                Some(t) => t.feed(data, out),
                None => out.extend_from_slice(data),
            },
            Mode::Off => out.extend_from_slice(data),
        }
    }

    /// The body ended: anything held back goes into `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        match self.mode {
            Mode::Sse => self.sse.finish(out),
            Mode::Translated => {
                if let Some(t) = &mut self.translated {
                    t.finish(out);
                }
            }
            _ => {}
        }
    }

    /// The usage the provider reported, once the body is complete.
    pub(crate) fn usage(&self, parser: &mut UsageParser) -> Option<Usage> {
        match self.mode {
            Mode::Json => parser.parse(&self.json),
            Mode::Sse => self.sse.usage(),
            Mode::Translated => self.translated.as_ref().and_then(|t| t.usage()),
            Mode::Off => None,
        }
    }

    /// The model a JSON response names (Kong's `response_model`). Kong reads it from JSON
    /// bodies only; for a stream it logs the request's model, and so does llmux.
    pub(crate) fn response_model(&self, parser: &mut UsageParser) -> Option<String> {
        match self.mode {
            Mode::Json => parser.model(&self.json),
            Mode::Sse | Mode::Translated | Mode::Off => None,
        }
    }

    /// The generated text, for the tokenizer fallback; `None` when nothing was observed.
    pub(crate) fn completion_text(&self, parser: &mut UsageParser) -> Option<String> {
        match self.mode {
            Mode::Json => Some(parser.completion_text(&self.json).unwrap_or_default()),
            Mode::Sse => Some(self.sse.completion_text().to_string()),
            Mode::Translated => self.translated.as_ref().and_then(|t| t.completion_text()),
            Mode::Off => None,
        }
    }

    /// The response as the statistics log's payload: the JSON body, or a stream's text.
    pub(crate) fn logged_payload(&self) -> Cow<'_, [u8]> {
        match self.mode {
            Mode::Json => Cow::Borrowed(&self.json),
            Mode::Sse => Cow::Borrowed(self.sse.completion_text().as_bytes()),
            Mode::Translated => match &self.translated {
                Some(t) => t.logged_payload(),
                None => Cow::Borrowed(b""),
            },
            Mode::Off => Cow::Borrowed(b""),
        }
    }

    /// Lets go of what the last response left, keeping at most `keep` bytes of capacity.
    pub(crate) fn recycle(&mut self, keep: usize) {
        self.mode = Mode::Off;
        self.translated = None;
        self.json.clear();
        self.json.shrink_to(keep);
    }
}
