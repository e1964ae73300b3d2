//! decK `consumers[]`: who may call the gateway. Each consumer has a `username` and/or
//! `custom_id`, its `keyauth_credentials` (the keys `key-auth` accepts) and its `acls` (the
//! groups `acl` checks), and may carry plugins that apply to it alone.
//!
//! Checked against Kong 3.14's entities (`consumers`, `keyauth_credentials`, `acls`) and decK's
//! `FConsumer`. Keys are secrets: no message ever quotes one.

use super::access::{Consumer, Credential};
use super::error::Diag;
use super::schema::{check_record, f, int, Sup::*, Ty, ANY, F, STR, STR_LIST};
use super::value::{as_mapping, get, get_seq, get_str, index, join, kind};
use serde_yaml_ng::Value;
use std::collections::HashMap;

const TIMESTAMP: Ty = int(0, i64::MAX);

const CONSUMER: &[F] = &[
    f("id", STR, Use),
    f("username", STR, Use),
    f("custom_id", STR, Use),
    f("keyauth_credentials", Ty::Custom, Use),
    f("acls", Ty::Custom, Use),
    f("plugins", Ty::Custom, Use),
    f("tags", STR_LIST, Meta),
    f("created_at", TIMESTAMP, Meta),
    f("updated_at", TIMESTAMP, Meta),
    // Credentials for authentication plugins llmux refuses: they can never be used, so they
    // are ignored with a warning rather than refused.
    f("basicauth_credentials", ANY, Warn),
    f("hmacauth_credentials", ANY, Warn),
    f("jwt_secrets", ANY, Warn),
    f("oauth2_credentials", ANY, Warn),
    f("mtls_auth_credentials", ANY, Warn),
    f("groups", ANY, Warn),
];

const KEYAUTH_CREDENTIAL: &[F] = &[
    f("id", STR, Use),
    f("key", STR, Use),
    f("consumer", Ty::Ref("consumers"), Use),
    f("tags", STR_LIST, Meta),
    f("created_at", TIMESTAMP, Meta),
    // A key that expires would stay valid for ever if the TTL were ignored.
    f("ttl", int(0, 100_000_000), Reject),
];

const ACL: &[F] = &[
    f("id", STR, Use),
    f("group", STR, Use),
    f("consumer", Ty::Ref("consumers"), Use),
    f("tags", STR_LIST, Meta),
    f("created_at", TIMESTAMP, Meta),
];

/// One `consumers[]` entry as the file writes it.
pub(crate) struct RawConsumer {
    pub path: String,
    pub id: Option<String>,
    pub username: Option<String>,
    pub custom_id: Option<String>,
    pub keys: Vec<RawKey>,
    /// ACL group names, in file order.
    pub groups: Vec<String>,
}

/// One `keyauth_credentials[]` entry.
pub(crate) struct RawKey {
    pub path: String,
    pub id: Option<String>,
    /// The secret. Never printed.
    pub key: String,
}

impl std::fmt::Debug for RawKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawKey")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("key", &super::types::REDACTED)
            .finish()
    }
}

/// Checks one consumer (at `path`) and collects what llmux uses; `None` when it is not a
/// mapping. Nested plugins are read by the caller.
pub(crate) fn read_consumer(c: &Value, path: &str, d: &mut Diag) -> Option<RawConsumer> {
    check_record(c, CONSUMER, path, true, d);
    as_mapping(c)?;
    let username = get_str(c, "username").map(str::to_string);
    let custom_id = get_str(c, "custom_id").map(str::to_string);
    if username.is_none() && custom_id.is_none() {
        d.err(
            path,
            "at least one of `username` or `custom_id` is required",
        );
    }
    for key in ["username", "custom_id"] {
        if get_str(c, key).is_some_and(str::is_empty) {
            d.err(&join(path, key), "must not be empty");
        }
    }
    let mut consumer = RawConsumer {
        path: path.to_string(),
        id: get_str(c, "id").map(str::to_string),
        username,
        custom_id,
        keys: Vec::new(),
        groups: Vec::new(),
    };
    for (i, k) in list(c, "keyauth_credentials", path, d).iter().enumerate() {
        let kp = index(&join(path, "keyauth_credentials"), i);
        check_record(k, KEYAUTH_CREDENTIAL, &kp, true, d);
        check_own_consumer(k, &kp, &consumer, d);
        match get(k, "key") {
            Some(Value::String(key)) if !key.is_empty() => consumer.keys.push(RawKey {
                path: kp,
                id: get_str(k, "id").map(str::to_string),
                key: key.clone(),
            }),
            Some(Value::String(_)) => d.err(&join(&kp, "key"), "must not be empty"),
            Some(_) => {}
            // Kong generates a key when none is given; a declarative file that relies on it
            // would get a key nobody knows.
            None => d.err(&join(&kp, "key"), "is required"),
        }
    }
    for (i, a) in list(c, "acls", path, d).iter().enumerate() {
        let ap = index(&join(path, "acls"), i);
        check_record(a, ACL, &ap, true, d);
        check_own_consumer(a, &ap, &consumer, d);
        match get_str(a, "group") {
            Some(g) if !g.is_empty() => consumer.groups.push(g.to_string()),
            Some(_) => d.err(&join(&ap, "group"), "must not be empty"),
            None if as_mapping(a).is_some() && get(a, "group").is_none() => {
                d.err(&join(&ap, "group"), "is required")
            }
            None => {}
        }
    }
    Some(consumer)
}

/// The namespace of llmux's name-based entity ids (UUID version 5), shared with the Admin API so
/// that an entity the file gives no id has the same id in both. Fixed once: changing it changes
/// every generated id.
pub(crate) const ENTITY_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x8c1c_0d4b_a271_4875_bcfd_2ee3_ff4c_36e3);

/// The id an entity of `kind` at `path` gets when the file gives none: a name-based UUID of its
/// kind, YAML path and name (never a credential).
pub(crate) fn generated_id(kind: &str, path: &str, name: &str) -> String {
    let seed = format!("{kind}\n{path}\n{name}");
    uuid::Uuid::new_v5(&ENTITY_ID_NAMESPACE, seed.as_bytes()).to_string()
}

/// The consumers and credentials the request path uses, after Kong's uniqueness checks
/// (`username`, `custom_id`, `id` and every key unique). Values that become header lines must
/// not hold control characters.
pub(crate) fn build_consumers(
    raw: &[RawConsumer],
    d: &mut Diag,
) -> (Vec<Consumer>, Vec<Credential>) {
    let mut seen: HashMap<(&str, &str), &str> = HashMap::new();
    let mut consumers = Vec::with_capacity(raw.len());
    let mut credentials = Vec::new();
    let mut keys: HashMap<&str, &str> = HashMap::new();
    for c in raw {
        for (field, value) in [
            ("username", c.username.as_deref()),
            ("custom_id", c.custom_id.as_deref()),
            ("id", c.id.as_deref()),
        ] {
            let Some(v) = value else { continue };
            let at = join(&c.path, field);
            if let Some(first) = seen.get(&(field, v)) {
                d.err(
                    &at,
                    format!("duplicate consumer {field} `{v}` (first at {first})"),
                );
            } else {
                seen.insert((field, v), &c.path);
            }
            if v.bytes().any(|b| b.is_ascii_control()) {
                d.err(&at, "must not contain control characters");
            }
        }
        for (i, g) in c.groups.iter().enumerate() {
            if g.bytes().any(|b| b.is_ascii_control()) {
                d.err(
                    &join(&index(&join(&c.path, "acls"), i), "group"),
                    "must not contain control characters",
                );
            }
        }
        let at = consumers.len() as u32;
        let name = c
            .username
            .as_deref()
            .or(c.custom_id.as_deref())
            .unwrap_or("");
        let id =
            c.id.clone()
                .unwrap_or_else(|| generated_id("Consumer", &c.path, name));
        for k in &c.keys {
            if let Some(first) = keys.get(k.key.as_str()) {
                // Never the key itself.
                d.err(
                    &join(&k.path, "key"),
                    format!("the same key is already given to the credential at {first}"),
                );
                continue;
            }
            keys.insert(&k.key, &k.path);
            let cred_id =
                k.id.clone()
                    .unwrap_or_else(|| generated_id("KeyAuth", &k.path, ""));
            if cred_id.bytes().any(|b| b.is_ascii_control()) {
                d.err(&join(&k.path, "id"), "must not contain control characters");
            }
            credentials.push(Credential::new(cred_id, at, &k.key));
        }
        consumers.push(Consumer::new(
            id,
            c.username.clone(),
            c.custom_id.clone(),
            c.groups.clone(),
        ));
    }
    (consumers, credentials)
}

/// The list under `key`, reporting anything else.
fn list<'a>(v: &'a Value, key: &str, path: &str, d: &mut Diag) -> &'a [Value] {
    match get(v, key) {
        Some(Value::Sequence(_)) => get_seq(v, key),
        Some(other) => {
            d.err(
                &join(path, key),
                format!("expected a list, found {}", kind(other)),
            );
            &[]
        }
        None => &[],
    }
}

/// A nested credential or group may name its consumer again, but only that one.
fn check_own_consumer(v: &Value, path: &str, c: &RawConsumer, d: &mut Diag) {
    let Some(named) = get(v, "consumer").and_then(super::schema::ref_key) else {
        return;
    };
    let own = [&c.id, &c.username]
        .into_iter()
        .any(|k| k.as_deref() == Some(named));
    if !own {
        d.err(
            &join(path, "consumer"),
            "must name the enclosing consumer, or be left out",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (Option<RawConsumer>, Vec<String>) {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut d = Diag::default();
        let c = read_consumer(&v, "consumers[0]", &mut d);
        let errors = d
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        (c, errors)
    }

    #[test]
    fn keys_and_groups() {
        let (c, errors) = read(
            "username: alice\nkeyauth_credentials: [{key: k1, id: c1}, {key: k2, consumer: alice}]\nacls: [{group: gold}, {group: silver, tags: [x]}]",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let c = c.unwrap();
        assert_eq!(c.username.as_deref(), Some("alice"));
        assert_eq!(c.keys.len(), 2);
        assert_eq!(c.keys[0].id.as_deref(), Some("c1"));
        assert_eq!(c.groups, vec!["gold", "silver"]);
        assert!(!format!("{:?}", c.keys[0]).contains("k1"));
    }

    #[test]
    fn errors_with_paths_and_no_secrets() {
        let (_, errors) = read(
            "tags: [a]\nkeyauth_credentials: [{key: ''}, {id: x}, {key: secret-1, ttl: 60}, {key: s2, consumer: bob}]\nacls: [{id: a}, {group: 3}]",
        );
        assert_eq!(
            errors,
            vec![
                "consumers[0]: at least one of `username` or `custom_id` is required",
                "consumers[0].keyauth_credentials[0].key: must not be empty",
                "consumers[0].keyauth_credentials[1].key: is required",
                "consumers[0].keyauth_credentials[2].ttl: `ttl` is not supported yet by llmux",
                "consumers[0].keyauth_credentials[3].consumer: must name the enclosing consumer, or be left out",
                "consumers[0].acls[0].group: is required",
                "consumers[0].acls[1].group: expected a string, found an integer",
            ]
        );
        assert!(!errors.iter().any(|e| e.contains("secret-1")));
    }
}
