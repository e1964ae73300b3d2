//! What llmux does with a provider's response body on its way to the client: pass it through,
//! filter it, or translate it, while reading the token usage for accounting.
//!
//! The OpenAI-compatible variants are plain enum arms so that path costs no allocation or
//! indirection; everything another provider needs goes through the one boxed
//! [`Translated`](ResponseFilter::Translated) arm.

use super::translate::Translate;
use crate::http1::ResponseHead;
use crate::usage::{SseFilter, Usage, UsageParser};

/// JSON bodies larger than this are relayed but not parsed for usage.
pub(crate) const MAX_OBSERVED_JSON: usize = 4 * 1024 * 1024;

pub(crate) enum ResponseFilter {
    /// A successful JSON body, kept (up to [`MAX_OBSERVED_JSON`]) to read `usage` at the end.
    Json(Vec<u8>),
    /// An SSE stream: events pass through the filter, which reads usage and may hide the
    /// usage-only event llmux asked for on the client's behalf.
    Sse(Box<SseFilter>),
    /// Nothing to learn (errors, unknown content types): bytes pass through untouched.
    Off,
    /// Another provider's answer rewritten into the client's API, or a native answer read for
    /// usage (see `provider::translate`).
    Translated(Box<dyn Translate>),
}

impl ResponseFilter {
    /// The filter for an OpenAI-format response.
    pub(crate) fn for_openai(head: &ResponseHead, hide_usage: bool) -> ResponseFilter {
        let content_type = head.header("content-type").unwrap_or(b"");
        if content_type.starts_with(b"text/event-stream") {
            ResponseFilter::Sse(Box::new(SseFilter::new(hide_usage)))
        } else if (200..300).contains(&head.status) && content_type.starts_with(b"application/json")
        {
            ResponseFilter::Json(Vec::new())
        } else {
            ResponseFilter::Off
        }
    }

    /// The body the client gets may differ in length from the provider's (an event is
    /// hidden), so the provider's `Content-Length` cannot be passed on.
    pub(crate) fn changes_length(&self) -> bool {
        match self {
            ResponseFilter::Sse(f) => f.hides_usage_event(),
            ResponseFilter::Translated(t) => t.changes_length(),
            _ => false,
        }
    }

    /// The client's `Content-Type` when it is not the provider's (a translated answer: JSON, or
    /// SSE for a Bedrock or Ollama stream). The relay's one hook for translated heads.
    pub(crate) fn content_type(&self) -> Option<&'static str> {
        match self {
            ResponseFilter::Translated(t) => t.content_type(),
            _ => None,
        }
    }

    /// Passes `data` on into `out` (as the client should see it), learning from it on the way.
    pub(crate) fn pass(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match self {
            ResponseFilter::Json(body) => {
                if body.len() + data.len() <= MAX_OBSERVED_JSON {
                    body.extend_from_slice(data);
                } else {
                    *self = ResponseFilter::Off;
                }
                out.extend_from_slice(data);
            }
            ResponseFilter::Sse(filter) => filter.feed(data, out),
            ResponseFilter::Off => out.extend_from_slice(data),
            ResponseFilter::Translated(t) => t.feed(data, out),
        }
    }

    /// The body ended: anything held back goes into `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        match self {
            ResponseFilter::Sse(filter) => filter.finish(out),
            ResponseFilter::Translated(t) => t.finish(out),
            _ => {}
        }
    }

    /// The usage the provider reported, once the body is complete.
    pub(crate) fn usage(&self, parser: &mut UsageParser) -> Option<Usage> {
        match self {
            ResponseFilter::Json(body) => parser.parse(body),
            ResponseFilter::Sse(filter) => filter.usage(),
            ResponseFilter::Off => None,
            ResponseFilter::Translated(t) => t.usage(),
        }
    }

    /// The generated text, for the tokenizer fallback; `None` when nothing was observed.
    pub(crate) fn completion_text(&self, parser: &mut UsageParser) -> Option<String> {
        match self {
            ResponseFilter::Json(body) => Some(parser.completion_text(body).unwrap_or_default()),
            ResponseFilter::Sse(filter) => Some(filter.completion_text().to_string()),
            ResponseFilter::Off => None,
            ResponseFilter::Translated(t) => t.completion_text(),
        }
    }

    /// The response as the statistics log's payload: the JSON body, or a stream's text.
    pub(crate) fn logged_payload(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            ResponseFilter::Json(body) => std::borrow::Cow::Borrowed(body),
            ResponseFilter::Sse(filter) => {
                std::borrow::Cow::Owned(filter.completion_text().as_bytes().to_vec())
            }
            ResponseFilter::Off => std::borrow::Cow::Borrowed(b""),
            ResponseFilter::Translated(t) => t.logged_payload(),
        }
    }
}
