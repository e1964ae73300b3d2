//! Shared support for llmux's integration tests: the real binary ([`Gateway`], [`run_cli`]), a
//! fake LLM provider that records what it receives ([`RecordingUpstream`], [`Reply`]), a test CA
//! for HTTPS upstreams ([`TestCa`]) and blocking HTTP/1.1 client helpers ([`post_json`],
//! [`send_raw`], [`ResponseReader`]).
//!
//! Everything is plain std: threads, `std::net`, blocking I/O with read timeouts, so a broken
//! gateway fails a test instead of hanging it.

// Every integration test binary compiles this module on its own (`mod support;`) and uses a
// different subset of it, so "never used" items and re-exports in any one binary are expected,
// not a sign of dead code.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod configs;
pub mod fleet;
pub mod gateway;
pub mod kong;
pub mod redis;
pub mod reply;
pub mod tls;
pub mod upstream;
pub mod wire;

pub use client::*;
pub use configs::*;
pub use fleet::*;
pub use gateway::*;
pub use redis::{RedisCluster, RedisServer};
pub use reply::{json_string, reason_phrase, Reply};
pub use tls::*;
pub use upstream::*;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Default bound for anything a test waits on (gateway start, responses, recorded requests).
pub const WAIT: Duration = Duration::from_secs(20);

/// A path in the temp dir unique to this process and call: `llmux-test-<pid>-<n>-<stem>.<ext>`.
pub fn unique_temp_path(stem: &str, ext: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "llmux-test-{}-{n}-{stem}.{ext}",
        std::process::id()
    ))
}

/// A file in the temp dir that is removed when dropped.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Writes `contents` to a new unique temp file (see [`unique_temp_path`]).
    pub fn with_contents(stem: &str, ext: &str, contents: impl AsRef<[u8]>) -> TempFile {
        let path = unique_temp_path(stem, ext);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("writing temp file {}: {e}", path.display()));
        TempFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as a `&str`, for command-line arguments.
    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("temp dir path is not UTF-8")
    }

    /// Replaces the file's contents (e.g. a new config before a reload).
    pub fn rewrite(&self, contents: impl AsRef<[u8]>) {
        std::fs::write(&self.path, contents)
            .unwrap_or_else(|e| panic!("rewriting temp file {}: {e}", self.path.display()));
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Finds `needle` in `haystack` (byte strings).
pub(crate) fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Case-insensitive lookup of the first header called `name`.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) lists `token`.
pub(crate) fn header_has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Parses JSON bytes with simd-json (which parses in place, hence the copy).
pub fn parse_json(bytes: &[u8]) -> Result<simd_json::OwnedValue, String> {
    let mut copy = bytes.to_vec();
    simd_json::to_owned_value(&mut copy).map_err(|e| {
        format!(
            "invalid JSON ({e}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(2000)])
        )
    })
}

/// `value.a.b.c` as a string, for paths like `&["error", "message"]`.
pub fn json_str_at(value: &simd_json::OwnedValue, path: &[&str]) -> Option<String> {
    use simd_json::prelude::*;
    let mut v = value;
    for key in path {
        v = v.get(*key)?;
    }
    v.as_str().map(str::to_owned)
}
