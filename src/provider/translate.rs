//! Turning a provider's answer into what the client expects, as it arrives: the [`Translate`]
//! trait behind `ResponseFilter::Translated`, and the shapes every provider's translation takes:
//! a whole JSON body translated at its end ([`WholeBody`]), a stream translated event by event
//! ([`EventStream`]), an error body made OpenAI-shaped ([`ErrorBody`]), and, for native formats,
//! bytes passed through untouched while a translator reads usage from them ([`Observe`]).
//!
//! Translated answers are the provider's status with a body of a different length (and, for
//! Bedrock and Ollama streams, a different content type), so the relay frames them chunked and
//! takes the content type from [`Translate::content_type`].

use super::chat::frames::{Framing, LineSplitter, SseSplitter};
use super::chat::out;
use crate::usage::Usage;
use std::borrow::Cow;

/// A response body on its way from a provider to the client, read for usage on the way.
pub trait Translate {
    /// Provider bytes in (framing already decoded), client bytes out.
    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>);
    /// The provider's body ended: whatever is left goes out.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// Token usage the provider reported, once the body is complete.
    fn usage(&self) -> Option<Usage>;
    /// The generated text, for the tokenizer when no usage was reported.
    fn completion_text(&self) -> Option<String>;
    /// What the statistics log shows as the response.
    fn logged_payload(&self) -> Cow<'_, [u8]>;
    /// The client's `Content-Type`, when it is not the provider's.
    fn content_type(&self) -> Option<&'static str>;
    /// The client's body has another length than the provider's.
    fn changes_length(&self) -> bool {
        self.content_type().is_some()
    }
}

/// What translating a whole body learnt.
#[derive(Default)]
pub struct Outcome {
    pub usage: Option<Usage>,
    /// The generated text, only when `usage` is `None`.
    pub text: String,
}

impl Outcome {
    /// The provider's usage; without it, the text the tokenizer will count instead.
    pub fn of(usage: Option<Usage>, text: impl FnOnce() -> String) -> Outcome {
        let text = if usage.is_none() {
            text()
        } else {
            String::new()
        };
        Outcome { usage, text }
    }
}

/// Translates a provider's whole (successful) JSON body into the client's.
pub type BodyFn = fn(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String>;

/// What a translated answer says about itself that the provider may not: the model name to
/// show when the provider does not name one, the time, and whether the client asked for the
/// usage chunk.
#[derive(Debug, Clone, Default)]
pub struct ReplyCtx {
    pub model: String,
    pub created: u64,
    pub include_usage: bool,
}

/// A translated body may be this large; beyond it the client gets an error object instead.
const MAX_TRANSLATED_BODY: usize = 64 << 20;

/// A JSON body kept whole and translated when it ends.
pub(crate) struct WholeBody {
    body: Vec<u8>,
    sent: Vec<u8>,
    translate: BodyFn,
    ctx: ReplyCtx,
    outcome: Outcome,
    too_large: bool,
}

impl WholeBody {
    pub fn new(translate: BodyFn, ctx: ReplyCtx) -> WholeBody {
        WholeBody {
            body: Vec::new(),
            sent: Vec::new(),
            translate,
            ctx,
            outcome: Outcome::default(),
            too_large: false,
        }
    }

    /// The provider's body as received.
    pub fn provider_body(&self) -> &[u8] {
        &self.body
    }
}

impl Translate for WholeBody {
    fn feed(&mut self, data: &[u8], _out: &mut Vec<u8>) {
        if self.body.len() + data.len() > MAX_TRANSLATED_BODY {
            self.too_large = true;
            self.body = Vec::new();
        }
        if !self.too_large {
            self.body.extend_from_slice(data);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.sent.clear();
        let result = if self.too_large {
            Err(format!(
                "the provider's answer exceeds {MAX_TRANSLATED_BODY} bytes"
            ))
        } else {
            (self.translate)(&self.body, &self.ctx, &mut self.sent)
        };
        match result {
            Ok(outcome) => self.outcome = outcome,
            Err(why) => {
                self.sent.clear();
                out::write_error(
                    &mut self.sent,
                    &format!("llmux could not translate the provider's answer: {why}"),
                    "upstream_error",
                    None,
                );
            }
        }
        out.extend_from_slice(&self.sent);
    }

    fn usage(&self) -> Option<Usage> {
        self.outcome.usage
    }

    fn completion_text(&self) -> Option<String> {
        Some(self.outcome.text.clone())
    }

    fn logged_payload(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.sent)
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("application/json")
    }
}

/// Reads a provider's error body (its own shape) and writes OpenAI's. `hint` is what the
/// response head said about the error (Bedrock's `x-amzn-ErrorType`).
pub type ErrorFn = fn(body: &[u8], status: u16, hint: Option<&str>, out: &mut Vec<u8>);

/// An error answer, made OpenAI-shaped when it ends; the status stays the provider's.
pub(crate) struct ErrorBody {
    body: Vec<u8>,
    sent: Vec<u8>,
    status: u16,
    hint: Option<String>,
    translate: ErrorFn,
}

/// Error bodies are short; longer ones are cut (their start says what went wrong).
const MAX_ERROR_BODY: usize = 64 << 10;

impl ErrorBody {
    pub fn new(translate: ErrorFn, status: u16, hint: Option<String>) -> ErrorBody {
        ErrorBody {
            body: Vec::new(),
            sent: Vec::new(),
            status,
            hint,
            translate,
        }
    }
}

impl Translate for ErrorBody {
    fn feed(&mut self, data: &[u8], _out: &mut Vec<u8>) {
        let room = MAX_ERROR_BODY.saturating_sub(self.body.len());
        self.body.extend_from_slice(&data[..data.len().min(room)]);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.sent.clear();
        (self.translate)(
            &self.body,
            self.status,
            self.hint.as_deref(),
            &mut self.sent,
        );
        out.extend_from_slice(&self.sent);
    }

    fn usage(&self) -> Option<Usage> {
        None
    }

    fn completion_text(&self) -> Option<String> {
        None
    }

    fn logged_payload(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.sent)
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("application/json")
    }
}

/// The message of an error body that has no recognisable shape: its text, or the status.
pub fn plain_error_message(body: &[u8], status: u16) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("the provider answered {status}")
    } else {
        text.chars().take(1000).collect()
    }
}

/// One provider's stream events translated to OpenAI chunks.
pub trait EventTranslate {
    /// One event's payload (an SSE event's data, or one NDJSON line).
    fn event(&mut self, data: &[u8], out: &mut Vec<u8>);
    /// The stream ended normally.
    fn end(&mut self, out: &mut Vec<u8>);
    fn usage(&self) -> Option<Usage>;
    fn text(&self) -> String;
}

/// How a provider frames its events.
pub enum Splitter {
    Sse(SseSplitter),
    Lines(LineSplitter),
}

/// A stream translated event by event: each event's chunks leave with the read that completed
/// the event.
pub struct EventStream<T: EventTranslate> {
    splitter: Splitter,
    events: T,
    oversized: bool,
}

impl<T: EventTranslate> EventStream<T> {
    pub fn new(splitter: Splitter, events: T) -> EventStream<T> {
        EventStream {
            splitter,
            events,
            oversized: false,
        }
    }

    pub fn sse(events: T) -> EventStream<T> {
        EventStream::new(Splitter::Sse(SseSplitter::new()), events)
    }

    pub fn ndjson(events: T) -> EventStream<T> {
        EventStream::new(Splitter::Lines(LineSplitter::new()), events)
    }
}

impl<T: EventTranslate> Translate for EventStream<T> {
    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let events = &mut self.events;
        let framing = match &mut self.splitter {
            Splitter::Sse(s) => s.feed(data, |e| events.event(e, out)),
            Splitter::Lines(s) => s.feed(data, |e| events.event(e, out)),
        };
        if framing == Framing::Oversized && !self.oversized {
            self.oversized = true;
            out::stream_error(
                out,
                "the provider sent an event too large to relay",
                "upstream_error",
            );
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let events = &mut self.events;
        match &mut self.splitter {
            Splitter::Sse(s) => s.finish(|e| events.event(e, out)),
            Splitter::Lines(s) => s.finish(|e| events.event(e, out)),
        }
        self.events.end(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.events.usage()
    }

    fn completion_text(&self) -> Option<String> {
        Some(self.events.text())
    }

    fn logged_payload(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.events.text().into_bytes())
    }

    fn content_type(&self) -> Option<&'static str> {
        Some("text/event-stream")
    }
}

/// Native formats: the provider's bytes go to the client unchanged; a translator reads the same
/// bytes for usage and its output is thrown away.
pub(crate) struct Observe<T: Translate> {
    inner: T,
    scratch: Vec<u8>,
}

impl<T: Translate> Observe<T> {
    pub fn new(inner: T) -> Observe<T> {
        Observe {
            inner,
            scratch: Vec::new(),
        }
    }
}

impl<T: Translate> Translate for Observe<T> {
    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(data);
        self.inner.feed(data, &mut self.scratch);
        self.scratch.clear();
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {
        self.inner.finish(&mut self.scratch);
        self.scratch = Vec::new();
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }

    fn completion_text(&self) -> Option<String> {
        self.inner.completion_text()
    }

    fn logged_payload(&self) -> Cow<'_, [u8]> {
        self.inner.logged_payload()
    }

    fn content_type(&self) -> Option<&'static str> {
        None
    }
}

/// A native JSON body: passed through, kept (up to the usual observation limit) and read for
/// usage at its end.
pub(crate) struct ObserveJson {
    inner: WholeBody,
    over_limit: bool,
}

impl ObserveJson {
    pub fn new(translate: BodyFn, ctx: ReplyCtx) -> ObserveJson {
        ObserveJson {
            inner: WholeBody::new(translate, ctx),
            over_limit: false,
        }
    }
}

impl Translate for ObserveJson {
    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(data);
        if self.inner.body.len() + data.len() > super::filter::MAX_OBSERVED_JSON {
            self.over_limit = true;
            self.inner.body = Vec::new();
        }
        if !self.over_limit {
            self.inner.body.extend_from_slice(data);
        }
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {
        if !self.over_limit {
            let mut scratch = Vec::new();
            self.inner.finish(&mut scratch);
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }

    fn completion_text(&self) -> Option<String> {
        (!self.over_limit).then(|| self.inner.outcome.text.clone())
    }

    fn logged_payload(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.inner.provider_body())
    }

    fn content_type(&self) -> Option<&'static str> {
        None
    }
}

/// Bytes passed through untouched, with usage known from the response head (Bedrock's
/// `InvokeModel` token-count headers).
pub(crate) struct Passthrough {
    usage: Option<Usage>,
}

impl Passthrough {
    pub fn with_usage(usage: Usage) -> Passthrough {
        Passthrough { usage: Some(usage) }
    }
}

impl Translate for Passthrough {
    fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(data);
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn completion_text(&self) -> Option<String> {
        None
    }

    fn logged_payload(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(b"")
    }

    fn content_type(&self) -> Option<&'static str> {
        None
    }
}
