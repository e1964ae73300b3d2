//! Consumers, their credentials, and the index that finds a credential by its key.
//!
//! The index holds no key: it is a table of `(keyed hash of the key, credential)` sorted by
//! hash. A presented key is hashed with the same per-load random SipHash key, found by binary
//! search, and confirmed against the credential's key with [`ct_eq`], whose running time
//! depends on the lengths only. Timing therefore tells an attacker nothing about any stored
//! key: which hash bucket a guess lands in depends on a key the attacker never sees.

use crate::config::types::REDACTED;
use std::hash::BuildHasher;

/// A consumer, as the request path uses it.
#[derive(Clone)]
pub struct Consumer {
    /// Kong's `id`: the file's, else a stable name-based UUID (as the Admin API shows it).
    pub id: String,
    pub username: Option<String>,
    pub custom_id: Option<String>,
    /// ACL groups, in file order.
    pub groups: Vec<String>,
    /// `X-Consumer-ID`, `X-Consumer-Custom-ID` and `X-Consumer-Username` lines (CRLF-ended),
    /// sent upstream for every authenticated request.
    pub upstream_headers: Vec<u8>,
    /// `X-Consumer-Groups: a, b` (CRLF-ended), empty without groups.
    pub groups_header: Vec<u8>,
    /// How logs and metrics name the consumer: `username`, else `custom_id`, else `id`.
    pub label: String,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("custom_id", &self.custom_id)
            .field("groups", &self.groups)
            .finish()
    }
}

impl Consumer {
    pub fn new(
        id: String,
        username: Option<String>,
        custom_id: Option<String>,
        groups: Vec<String>,
    ) -> Consumer {
        let mut upstream_headers = Vec::new();
        let mut line = |name: &str, value: &str| {
            upstream_headers.extend_from_slice(name.as_bytes());
            upstream_headers.extend_from_slice(b": ");
            upstream_headers.extend_from_slice(value.as_bytes());
            upstream_headers.extend_from_slice(b"\r\n");
        };
        line("X-Consumer-ID", &id);
        if let Some(c) = &custom_id {
            line("X-Consumer-Custom-ID", c);
        }
        if let Some(u) = &username {
            line("X-Consumer-Username", u);
        }
        let groups_header = if groups.is_empty() {
            Vec::new()
        } else {
            format!("X-Consumer-Groups: {}\r\n", groups.join(", ")).into_bytes()
        };
        let label = username
            .clone()
            .or_else(|| custom_id.clone())
            .unwrap_or_else(|| id.clone());
        Consumer {
            id,
            username,
            custom_id,
            groups,
            upstream_headers,
            groups_header,
            label,
        }
    }
}

/// A `keyauth_credentials` entry.
#[derive(Clone)]
pub struct Credential {
    /// Kong's `id` (the file's, else a stable name-based UUID): `X-Credential-Identifier`.
    pub id: String,
    pub consumer: u32,
    /// `X-Credential-Identifier: <id>` (CRLF-ended).
    pub upstream_header: Vec<u8>,
    key: Box<[u8]>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("consumer", &self.consumer)
            .field("key", &REDACTED)
            .finish()
    }
}

impl Credential {
    pub fn new(id: String, consumer: u32, key: &str) -> Credential {
        let upstream_header = format!("X-Credential-Identifier: {id}\r\n").into_bytes();
        Credential {
            id,
            consumer,
            upstream_header,
            key: key.as_bytes().into(),
        }
    }
}

/// Equality of two byte strings in time that depends on their lengths only.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        // black_box keeps the optimiser from turning the fold into an early exit.
        diff = std::hint::black_box(diff | (x ^ y));
    }
    diff == 0
}

/// Credentials by keyed hash of their key.
#[derive(Clone, Default)]
pub(super) struct KeyIndex {
    hasher: std::collections::hash_map::RandomState,
    /// `(hash, credential)`, sorted by hash.
    entries: Vec<(u64, u32)>,
}

impl KeyIndex {
    pub(super) fn build(credentials: &[Credential]) -> KeyIndex {
        let hasher = std::collections::hash_map::RandomState::new();
        let mut entries: Vec<(u64, u32)> = credentials
            .iter()
            .enumerate()
            .map(|(i, c)| (hasher.hash_one(&*c.key), i as u32))
            .collect();
        entries.sort_unstable();
        KeyIndex { hasher, entries }
    }

    /// The credential whose key equals `presented`.
    pub(super) fn find(&self, presented: &[u8], credentials: &[Credential]) -> Option<u32> {
        let h = self.hasher.hash_one(presented);
        let start = self.entries.partition_point(|(e, _)| *e < h);
        let mut found = None;
        // Every credential under this hash is compared (almost always exactly one), so the
        // time does not depend on which of them matches.
        for &(e, c) in &self.entries[start..] {
            if e != h {
                break;
            }
            let matches = credentials
                .get(c as usize)
                .is_some_and(|cred| ct_eq(&cred.key, presented));
            if matches && found.is_none() {
                found = Some(c);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn index_finds_keys_and_only_them() {
        let creds: Vec<Credential> = (0..100)
            .map(|i| Credential::new(format!("id{i}"), i, &format!("key-{i}")))
            .collect();
        let ix = KeyIndex::build(&creds);
        for i in 0..100u32 {
            assert_eq!(ix.find(format!("key-{i}").as_bytes(), &creds), Some(i));
        }
        assert_eq!(ix.find(b"key-100", &creds), None);
        assert_eq!(ix.find(b"", &creds), None);
        assert!(!format!("{:?}", creds[3]).contains("key-3"));
    }

    #[test]
    fn consumer_headers() {
        let c = Consumer::new(
            "u-1".into(),
            Some("alice".into()),
            None,
            vec!["a".into(), "b".into()],
        );
        assert_eq!(
            c.upstream_headers,
            b"X-Consumer-ID: u-1\r\nX-Consumer-Username: alice\r\n"
        );
        assert_eq!(c.groups_header, b"X-Consumer-Groups: a, b\r\n");
        assert_eq!(c.label, "alice");
    }
}
