//! OpenAI's Responses API (`route_type: llm/v1/responses`, for openai, azure and xai): requests
//! are spliced like chat ones and answers pass through unchanged; only where the usage is read
//! differs. It is `usage` with `input_tokens`/`output_tokens` in a JSON body, and the usage of the
//! `response` object in the final `response.completed` (or `response.incomplete`/
//! `response.failed`) event of a stream. Text deltas are kept for the tokenizer fallback.

use super::filter::ResponseFilter;
use super::translate::{EventStream, EventTranslate, Observe, ObserveJson, Outcome, ReplyCtx};
use crate::http1::ResponseHead;
use crate::usage::{Usage, MAX_COMPLETION_TEXT};
use serde::Deserialize;
use std::borrow::Cow;

pub(super) fn set_filter(head: &ResponseHead, filter: &mut ResponseFilter) {
    let content_type = head.header("content-type").unwrap_or(b"");
    if !(200..300).contains(&head.status) {
        filter.set_off();
    } else if content_type.starts_with(b"text/event-stream") {
        filter.set_translated(
            Box::new(Observe::new(EventStream::sse(ResponseEvents::default()))),
            true,
        );
    } else if content_type.starts_with(b"application/json") {
        filter.set_translated(
            Box::new(ObserveJson::new(body_usage, ReplyCtx::default())),
            false,
        );
    } else {
        filter.set_off();
    }
}

#[derive(Deserialize, Clone, Copy)]
struct ResponsesUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

impl ResponsesUsage {
    fn to_usage(self) -> Option<Usage> {
        (self.input_tokens.is_some() || self.output_tokens.is_some()).then(|| Usage {
            prompt: self.input_tokens.unwrap_or(0),
            completion: self.output_tokens.unwrap_or(0),
            total: self.total_tokens.unwrap_or(0),
        })
    }
}

#[derive(Deserialize)]
struct ResponseObject<'a> {
    #[serde(default)]
    usage: Option<ResponsesUsage>,
    #[serde(borrow, default)]
    output: Vec<OutputItem<'a>>,
}

#[derive(Deserialize)]
struct OutputItem<'a> {
    #[serde(borrow, default)]
    content: Vec<OutputContent<'a>>,
}

#[derive(Deserialize)]
struct OutputContent<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

/// The usage (and, without it, the text) of a whole Responses API body.
fn body_usage(body: &[u8], _ctx: &ReplyCtx, _out: &mut Vec<u8>) -> Result<Outcome, String> {
    let r: ResponseObject<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let usage = r.usage.and_then(ResponsesUsage::to_usage);
    let mut text = String::new();
    if usage.is_none() {
        for t in r
            .output
            .iter()
            .flat_map(|o| &o.content)
            .filter_map(|c| c.text.as_deref())
        {
            text.push_str(t);
        }
    }
    Ok(Outcome { usage, text })
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    delta: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    response: Option<ResponseObject<'a>>,
}

#[derive(Default)]
struct ResponseEvents {
    usage: Option<Usage>,
    text: String,
}

impl EventTranslate for ResponseEvents {
    fn event(&mut self, data: &[u8], _out: &mut Vec<u8>) {
        let Ok(e) = serde_json::from_slice::<Event<'_>>(data) else {
            return;
        };
        match &*e.kind {
            "response.output_text.delta" if self.text.len() < MAX_COMPLETION_TEXT => {
                if let Some(d) = e.delta {
                    self.text.push_str(&d);
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(u) = e
                    .response
                    .and_then(|r| r.usage)
                    .and_then(ResponsesUsage::to_usage)
                {
                    self.usage = Some(u);
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, _out: &mut Vec<u8>) {}

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn text(&self) -> String {
        self.text.clone()
    }
}
