//! Counts tokens with tiktoken when an upstream reports no usage.
//!
//! Loading a BPE table takes 0.1-0.5 s and tens of MiB, and encoding is ~100x slower than
//! parsing the JSON, so none of it may happen on a worker thread, and none of it at all for
//! upstreams that report usage (the usual case). Workers hand a [`CountJob`] to one background thread without blocking; the
//! thread loads an encoding the first time a job needs it and sends back a [`Counted`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crossbeam::channel::{self, Receiver, Sender};
use simd_json::prelude::*;
use simd_json::tape::Value;
use tiktoken_rs::tokenizer::{get_tokenizer, Tokenizer};
use tiktoken_rs::CoreBPE;

use super::json::member;
use super::{Usage, UsageParser};

/// Jobs waiting for the thread. Each holds a prompt (up to the request body limit) and up to
/// 1 MiB of completion, so this bounds the queue's memory; a full queue drops jobs rather than
/// slow the workers down.
pub const QUEUE_CAPACITY: usize = 128;

/// OpenAI's cookbook ("How to count tokens with tiktoken"): every chat message is framed by 3
/// tokens, a `name` adds 1, and every reply is primed with 3. The cookbook also counts the
/// role's token; the `\n` joining messages in [`Prompt::text`] stands in for it.
const TOKENS_PER_MESSAGE: u64 = 3;
const TOKENS_PER_NAME: u64 = 1;
const REPLY_PRIMING: u64 = 3;

/// Text is encoded in pieces of at most this many bytes. tiktoken's merge slows down with the
/// length of one regex piece (measured, release: 1 MiB without a space takes 444 ms whole,
/// 149 ms in pieces; 256 KiB of random letters 120 ms vs 41 ms), so a hostile prompt cannot
/// hold the thread as long. Cuts fall where tiktoken's own regex splits, so ordinary text
/// counts the same.
const PIECE: usize = 4096;

pub struct CountJob {
    /// The target the result belongs to (a `stats` target key).
    pub key: crate::config::TargetKey,
    /// The target's `input_cost` and `output_cost`, passed through to [`Counted`].
    pub costs: (f64, f64),
    /// Chooses the encoding.
    pub model: String,
    pub prompt_text: String,
    /// Tokens added to the prompt text's count ([`Prompt::overhead`]).
    pub prompt_overhead: u64,
    pub completion_text: String,
    /// The consumer the request ran as (its label), for per-consumer totals.
    pub consumer: Option<std::sync::Arc<str>>,
    /// Runs on the tokenizer thread once the job is done, with the count (`None` when it could
    /// not be counted): how a statistics log line waits for the count without a worker waiting.
    pub then: Option<Box<dyn FnOnce(Option<Usage>) + Send>>,
}

pub struct Counted {
    pub key: crate::config::TargetKey,
    pub costs: (f64, f64),
    pub usage: Usage,
    pub consumer: Option<std::sync::Arc<str>>,
}

/// Cloned into every worker; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct TokenizerHandle {
    jobs: Sender<CountJob>,
}

impl TokenizerHandle {
    /// Starts the thread. It loads nothing until the first job arrives, so a deployment whose
    /// upstreams all report usage never pays for an encoding.
    pub fn spawn(results: Sender<Counted>) -> std::io::Result<TokenizerHandle> {
        let (jobs, rx) = channel::bounded(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("llmux-tokenizer".into())
            .spawn(move || run(rx, results))?;
        Ok(TokenizerHandle { jobs })
    }

    /// Never blocks. When the queue is full (or the thread is gone) the job comes back, so
    /// the caller can finish what it was for without the count (boxed: that is the rare path).
    pub fn submit(&self, job: CountJob) -> Result<(), Box<CountJob>> {
        self.jobs
            .try_send(job)
            .map_err(|e| Box::new(e.into_inner()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    O200k,
    Cl100k,
}

/// tiktoken's model table decides; everything it does not map to cl100k_base (unknown
/// models, and the rare pre-2023 encodings) uses o200k_base, so at most two tables are ever
/// loaded.
fn encoding_for(model: &str) -> Encoding {
    match get_tokenizer(model) {
        Some(Tokenizer::Cl100kBase) => Encoding::Cl100k,
        _ => Encoding::O200k,
    }
}

enum Slot {
    Unloaded,
    Loaded(Box<CoreBPE>),
    /// Loading failed once; it would fail again (the tables are compiled in).
    Failed,
}

impl Slot {
    fn get(&mut self, encoding: Encoding) -> Option<&CoreBPE> {
        if let Slot::Unloaded = self {
            *self = load(encoding);
        }
        match self {
            Slot::Loaded(bpe) => Some(bpe),
            _ => None,
        }
    }
}

fn load(encoding: Encoding) -> Slot {
    let started = Instant::now();
    let loaded = catch_unwind(|| match encoding {
        Encoding::O200k => tiktoken_rs::o200k_base(),
        Encoding::Cl100k => tiktoken_rs::cl100k_base(),
    });
    match loaded {
        Ok(Ok(bpe)) => {
            crate::info!(
                "tokenizer: loaded {encoding:?} in {} ms (an upstream reported no usage)",
                started.elapsed().as_millis()
            );
            Slot::Loaded(Box::new(bpe))
        }
        Ok(Err(e)) => {
            crate::error!("tokenizer: cannot load {encoding:?}: {e}");
            Slot::Failed
        }
        Err(_) => {
            crate::error!("tokenizer: loading {encoding:?} panicked");
            Slot::Failed
        }
    }
}

fn run(jobs: Receiver<CountJob>, results: Sender<Counted>) {
    let (mut o200k, mut cl100k) = (Slot::Unloaded, Slot::Unloaded);
    for mut job in jobs.iter() {
        let encoding = encoding_for(&job.model);
        let slot = match encoding {
            Encoding::O200k => &mut o200k,
            Encoding::Cl100k => &mut cl100k,
        };
        // A panic inside tiktoken must cost one job, not the thread.
        let usage = slot
            .get(encoding)
            .and_then(|bpe| catch_unwind(AssertUnwindSafe(|| count_job(bpe, &job))).ok());
        if let Some(then) = job.then.take() {
            let _ = catch_unwind(AssertUnwindSafe(|| then(usage)));
        }
        let Some(usage) = usage else {
            continue;
        };
        let counted = Counted {
            key: job.key,
            costs: job.costs,
            usage,
            consumer: job.consumer,
        };
        if results.send(counted).is_err() {
            return;
        }
    }
}

fn count_job(bpe: &CoreBPE, job: &CountJob) -> Usage {
    let prompt = count(bpe, &job.prompt_text).saturating_add(job.prompt_overhead);
    let completion = count(bpe, &job.completion_text);
    Usage {
        prompt,
        completion,
        total: prompt.saturating_add(completion),
    }
}

/// Tokens in `text` as the model would see it (special-token strings count as plain text,
/// as the API treats them in user content).
pub fn count(bpe: &CoreBPE, text: &str) -> u64 {
    let mut rest = text;
    let mut n = 0u64;
    while !rest.is_empty() {
        let cut = piece_end(rest);
        n += bpe.encode_ordinary(&rest[..cut]).len() as u64;
        rest = &rest[cut..];
    }
    n
}

/// Where the next piece ends: all of `s` if short, else before the last space in the first
/// [`PIECE`] bytes that sits between a letter or digit and a letter (tiktoken's regex never
/// joins across such a space, so the count is unchanged), else on a character boundary.
fn piece_end(s: &str) -> usize {
    if s.len() <= PIECE {
        return s.len();
    }
    let b = s.as_bytes();
    let cut = (1..PIECE).rev().find(|&k| {
        b[k] == b' ' && b[k - 1].is_ascii_alphanumeric() && b[k + 1].is_ascii_alphabetic()
    });
    match cut {
        Some(k) => k,
        None => {
            let mut end = PIECE;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            end
        }
    }
}

/// The prompt of a request, for counting.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// `messages[].content` (strings, or the text parts of an array) and `name`s, or `prompt`,
    /// or `input` (a string or an array of strings), joined with `\n`.
    pub text: String,
    /// Tokens not in `text`: chat framing (3 per message, 1 per name, 3 to prime the reply)
    /// and prompts or inputs given as token ids, which count one each.
    pub overhead: u64,
}

/// See [`Prompt`]. Malformed bodies give an empty prompt.
pub fn prompt_from_request(body: &[u8]) -> Prompt {
    UsageParser::new().prompt(body)
}

impl UsageParser {
    /// [`prompt_from_request`] with this parser's buffers.
    pub fn prompt(&mut self, body: &[u8]) -> Prompt {
        self.with_document(body, |doc| {
            let mut p = Prompt::default();
            if let Some(messages) = member(doc, "messages").and_then(|m| m.as_array()) {
                for msg in messages.iter() {
                    p.overhead += TOKENS_PER_MESSAGE;
                    add_message(msg, &mut p);
                }
                p.overhead += REPLY_PRIMING;
            } else if let Some(prompt) = member(doc, "prompt") {
                add_prompt(prompt, &mut p);
            } else if let Some(input) = member(doc, "input") {
                add_prompt(input, &mut p);
            }
            p
        })
        .unwrap_or_default()
    }
}

fn add_message(msg: Value<'_, '_>, p: &mut Prompt) {
    if let Some(content) = msg.get("content") {
        if let Some(s) = content.as_str() {
            push_line(&mut p.text, s);
        } else if let Some(parts) = content.as_array() {
            for part in parts.iter() {
                if let Some(t) = part.get("text").and_then(|t| t.into_string()) {
                    push_line(&mut p.text, t);
                }
            }
        }
    }
    if let Some(name) = msg.get("name").and_then(|n| n.into_string()) {
        push_line(&mut p.text, name);
        p.overhead += TOKENS_PER_NAME;
    }
    // Earlier tool calls are part of the prompt the model reads.
    if let Some(calls) = msg.get("tool_calls").and_then(|c| c.as_array()) {
        for call in calls.iter() {
            let Some(function) = call.get("function") else {
                continue;
            };
            for key in ["name", "arguments"] {
                if let Some(s) = function.get(key).and_then(|s| s.into_string()) {
                    push_line(&mut p.text, s);
                }
            }
        }
    }
}

/// `prompt` / `input`: a string, token ids, or an array of either.
fn add_prompt(v: Value<'_, '_>, p: &mut Prompt) {
    if let Some(s) = v.as_str() {
        push_line(&mut p.text, s);
        return;
    }
    let Some(items) = v.as_array() else {
        return;
    };
    for item in items.iter() {
        if let Some(s) = item.as_str() {
            push_line(&mut p.text, s);
        } else if item.as_u64().is_some() {
            p.overhead += 1;
        } else if let Some(ids) = item.as_array() {
            p.overhead += ids.iter().filter(|id| id.as_u64().is_some()).count() as u64;
        }
    }
}

fn push_line(text: &mut String, s: &str) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(s);
}

#[cfg(test)]
#[path = "tokenizer_tests.rs"]
mod tests;
