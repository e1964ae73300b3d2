//! The client's request body: learn what routing needs from it, then forward it with only the
//! `model` value changed (and a few default fields inserted), never re-serialised.
//!
//! Why splicing: clients send up to `max_request_body_size` (1 MiB by default) of conversation,
//! and re-serialising it would cost more than parsing, could reorder keys or reformat numbers
//! and strings, and would make "what did the upstream receive" differ from "what the client
//! sent" in ways users cannot predict. So [`BodyScanner`] validates the body with simd-json and
//! records byte offsets in the ORIGINAL bytes, and [`SplicedBody`] describes the upstream body
//! as ranges of those bytes plus a few small owned pieces, ready for one vectored write.
//!
//! Decisions (`docs/decisions.md` lists them too):
//! - Duplicate top-level keys: JSON parsers disagree (Python/JS/Go keep the last, some keep the
//!   first, serde rejects). For the keys the gateway acts on (`model`, `stream`,
//!   `stream_options`) a disagreement would let a client route or stream past a policy, so a
//!   duplicate is rejected ([`ScanError::DuplicateModel`], [`ScanError::DuplicateKey`]). Keys
//!   compare after unescaping (`"mod\u0065l"` is `model`). For the other keys only presence is
//!   used, or the last occurrence wins (`messages`), as in Python, which most upstreams run.
//! - Validity is simd-json's: strict RFC 8259, UTF-8 checked, depth limit 1024, lone UTF-16
//!   surrogate escapes rejected. simd-json also rejects numbers that do not fit a u64/i64/f64
//!   (`1e400`, 30-digit integers), which RFC 8259 allows; for those the body is re-checked by
//!   a strict slow validator here and accepted, so such bodies reach the upstream unchanged.
//! - A UTF-8 byte-order mark is rejected (RFC 8259 section 8.1: senders must not add one).

mod raw;
mod scan;
mod splice;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod raw_tests;
#[cfg(test)]
mod scan_tests;
#[cfg(test)]
mod splice_tests;

pub use raw::{find_member, member_values, unescape_str, Member, MemberLookup};
pub use scan::{BodyFacts, BodyScanner, ModelValue};
pub use splice::{json_escape_into, push_quoted, quoted, Segment, SplicedBody};

use std::fmt;

/// Why a body cannot be forwarded. All of them are client errors (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// Not valid JSON. `offset` is where the parser noticed, when it could tell (it is a hint
    /// for the client, not necessarily the first bad byte).
    NotJson { offset: Option<usize> },
    /// Valid JSON whose top-level value is not an object.
    NotObject,
    /// Top-level `model` is present but neither a string nor `null` (`null` counts as absent,
    /// as it does for Kong).
    ModelNotString,
    /// Top-level `model` appears more than once (see the module docs for why this is refused).
    DuplicateModel,
    /// Another key the gateway acts on (`stream`, `stream_options`) appears more than once.
    DuplicateKey(&'static str),
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::NotJson { offset: Some(at) } => {
                write!(f, "request body is not valid JSON (near byte {at})")
            }
            ScanError::NotJson { offset: None } => f.write_str("request body is not valid JSON"),
            ScanError::NotObject => f.write_str("request body is not a JSON object"),
            ScanError::ModelNotString => f.write_str("\"model\" is not a string"),
            ScanError::DuplicateModel => f.write_str("\"model\" appears more than once"),
            ScanError::DuplicateKey(key) => write!(f, "\"{key}\" appears more than once"),
        }
    }
}

impl std::error::Error for ScanError {}
