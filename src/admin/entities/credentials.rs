//! A consumer's nested lists over the Admin API: `keyauth_credentials` (`/key-auth`,
//! `/key-auths`) and `acls` (`/acls`), with Kong's shapes. The consumers themselves, and the
//! commit every change goes through, are in `consumers`.

use super::consumers::{check, commit, consumer_loc, consumers, stamp, unique, Entry};
use super::errors::{kong_error, violation, UNIQUE_VIOLATION};
use super::ids::{is_uuid, random_id};
use super::json::parse_body;
use super::model::{at, at_mut, map, Call, Reply, Step};
use super::response::{message, no_content, not_found, ok};
use crate::config::get;
use serde_yaml_ng::{Mapping, Value};

/// The nested lists: `keyauth_credentials` (`/key-auth`) and `acls` (`/acls`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Creds {
    KeyAuth,
    Acl,
}

impl Creds {
    pub(super) fn list(self) -> &'static str {
        match self {
            Creds::KeyAuth => "keyauth_credentials",
            Creds::Acl => "acls",
        }
    }

    /// The field a credential is also found by (`/key-auth/{key}`, `/acls/{group}`).
    pub(super) fn endpoint_key(self) -> &'static str {
        match self {
            Creds::KeyAuth => "key",
            Creds::Acl => "group",
        }
    }

    /// The id seed kind, as the config loader names it.
    pub(super) fn kind(self) -> &'static str {
        match self {
            Creds::KeyAuth => "KeyAuth",
            Creds::Acl => "Acl",
        }
    }
}

/// A credential or group as Kong shows it, with its consumer as `{"id": ...}`.
pub(super) fn cred_view(v: &Value, consumer: &Entry, creds: Creds) -> Value {
    let field = |k| get(v, k).cloned().unwrap_or(Value::Null);
    let owner = map([("id", Value::String(consumer.id.clone()))]);
    match creds {
        Creds::KeyAuth => map([
            ("id", field("id")),
            ("key", field("key")),
            ("consumer", owner),
            ("created_at", field("created_at")),
            ("ttl", Value::Null),
            ("tags", field("tags")),
        ]),
        Creds::Acl => map([
            ("id", field("id")),
            ("group", field("group")),
            ("consumer", owner),
            ("created_at", field("created_at")),
            ("tags", field("tags")),
        ]),
    }
}

pub(super) fn creds_of<'a>(doc: &'a Value, c: &Entry, creds: Creds) -> &'a [Value] {
    match at(doc, &consumer_loc(c.at)).and_then(|v| get(v, creds.list())) {
        Some(Value::Sequence(s)) => s,
        _ => &[],
    }
}

pub(super) fn creds_kind(segment: &str) -> Option<Creds> {
    match segment {
        "key-auth" | "key-auths" => Some(Creds::KeyAuth),
        "acls" => Some(Creds::Acl),
        _ => None,
    }
}

pub(super) fn all_creds<'a>(
    doc: &'a Value,
    list: &'a [Entry],
    k: Creds,
) -> impl Iterator<Item = (&'a Value, &'a Entry)> + 'a {
    list.iter()
        .flat_map(move |c| creds_of(doc, c, k).iter().map(move |v| (v, c)))
}

/// Kong's endpoint key for a credential: its id, else its key (or group).
pub(super) fn matches(v: &Value, k: Creds, item: &str) -> bool {
    let s = |f| get(v, f).and_then(Value::as_str);
    s("id") == Some(item) || s(k.endpoint_key()) == Some(item)
}

pub(super) fn create_cred(cx: &Call, list: &[Entry], consumer: &Entry, k: Creds) -> Reply {
    let mut body = match parse_body(cx.body) {
        Ok(b) => b,
        Err(why) => return (message(400, &why), None),
    };
    body.retain(|_, v| !v.is_null());
    body.shift_remove("consumer");
    let taken = |id: &str| {
        list.iter()
            .any(|c| creds_of(cx.doc, c, k).iter().any(|v| matches(v, k, id)))
    };
    let id = match body.shift_remove("id") {
        None => random_id(taken),
        Some(Value::String(s)) if is_uuid(&s) && !taken(&s) => s,
        Some(Value::String(s)) if is_uuid(&s) => return (unique("id", &s), None),
        Some(_) => return (violation("id", "expected a valid UUID"), None),
    };
    match (k, body.get(k.endpoint_key())) {
        (Creds::KeyAuth, None) => {
            // Kong generates a key when none is given, and returns it.
            let key = uuid::Uuid::new_v4().simple().to_string();
            body.insert("key".into(), Value::String(key));
        }
        (Creds::KeyAuth, Some(Value::String(key))) => {
            let clash = all_creds(cx.doc, list, k)
                .any(|(v, _)| get(v, "key").and_then(Value::as_str) == Some(key));
            if clash {
                // Never the key itself.
                let msg = "UNIQUE violation detected on '{key}'";
                return (kong_error(409, UNIQUE_VIOLATION, msg, None), None);
            }
        }
        (Creds::Acl, Some(Value::String(group))) => {
            let dup = (creds_of(cx.doc, consumer, k).iter())
                .any(|v| get(v, "group").and_then(Value::as_str) == Some(group));
            if dup {
                let msg = format!(
                    "UNIQUE violation detected on '{{consumer={{id=\"{}\"}},group=\"{group}\"}}'",
                    consumer.id
                );
                return (kong_error(409, UNIQUE_VIOLATION, &msg, None), None);
            }
        }
        (Creds::Acl, None) => return (violation("group", "required field missing"), None),
        (_, Some(_)) => return (violation(k.endpoint_key(), "expected a string"), None),
    }
    let mut item = Mapping::new();
    item.insert("id".into(), Value::String(id.clone()));
    for (key, v) in body {
        item.insert(key, v);
    }
    stamp(&mut item, cx.now, false);
    let mut doc = cx.doc.clone();
    let Some(Value::Mapping(m)) = at_mut(&mut doc, &consumer_loc(consumer.at)) else {
        return (
            message(500, "the consumer is not a mapping in the running config"),
            None,
        );
    };
    let slot = m
        .entry(k.list().into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if slot.is_null() {
        *slot = Value::Sequence(Vec::new());
    }
    let Value::Sequence(items) = slot else {
        return (
            message(500, "the consumer's credentials are not a list"),
            None,
        );
    };
    let path = format!("consumers[{}].{}[{}]", consumer.at, k.list(), items.len());
    items.push(Value::Mapping(item));
    let owner = consumer.id.clone();
    commit(cx, doc, &path, 201, |doc| {
        let list = consumers(doc);
        let c = list.iter().find(|e| e.id == owner)?;
        let v = creds_of(doc, c, k).iter().find(|v| matches(v, k, &id))?;
        Some(cred_view(v, c, k))
    })
}

pub(super) fn one_cred(
    cx: &Call,
    list: &[Entry],
    consumer: &Entry,
    k: Creds,
    method: &str,
    item: &str,
) -> Reply {
    let found = creds_of(cx.doc, consumer, k)
        .iter()
        .position(|v| matches(v, k, item));
    match (method, found) {
        ("GET", Some(i)) => (
            ok(
                200,
                &cred_view(&creds_of(cx.doc, consumer, k)[i], consumer, k),
            ),
            None,
        ),
        ("DELETE", Some(i)) => {
            let mut doc = cx.doc.clone();
            let mut loc = consumer_loc(consumer.at);
            loc.push(Step::Key(k.list().into()));
            if let Some(Value::Sequence(items)) = at_mut(&mut doc, &loc) {
                items.remove(i);
            }
            match check(doc, None, cx.env) {
                Ok(doc) => (no_content(), Some(doc)),
                Err(resp) => (resp, None),
            }
        }
        ("PATCH", Some(i)) => patch_cred(cx, list, consumer, k, i),
        ("DELETE", None) => (no_content(), None),
        ("GET" | "PATCH", None) => (not_found(), None),
        _ => (message(405, "Method not allowed"), None),
    }
}

pub(super) fn patch_cred(cx: &Call, list: &[Entry], consumer: &Entry, k: Creds, i: usize) -> Reply {
    let body = match parse_body(cx.body) {
        Ok(b) => b,
        Err(why) => return (message(400, &why), None),
    };
    let current = &creds_of(cx.doc, consumer, k)[i];
    let id = get(current, "id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let (Creds::KeyAuth, Some(Value::String(key))) = (k, body.get("key")) {
        let clash = all_creds(cx.doc, list, k).any(|(v, _)| {
            get(v, "key").and_then(Value::as_str) == Some(key)
                && get(v, "id").and_then(Value::as_str) != Some(id.as_str())
        });
        if clash {
            let msg = "UNIQUE violation detected on '{key}'";
            return (kong_error(409, UNIQUE_VIOLATION, msg, None), None);
        }
    }
    let mut doc = cx.doc.clone();
    let mut loc = consumer_loc(consumer.at);
    loc.extend([Step::Key(k.list().into()), Step::Idx(i)]);
    let Some(Value::Mapping(m)) = at_mut(&mut doc, &loc) else {
        return (
            message(500, "the credential is not a mapping in the running config"),
            None,
        );
    };
    for (key, v) in body {
        match key.as_str() {
            Some("id") if v.as_str() != Some(id.as_str()) => {
                return (violation("id", "cannot be changed"), None)
            }
            Some("id" | "consumer") => {}
            _ if v.is_null() => {
                m.shift_remove(&key);
            }
            _ => {
                m.insert(key, v);
            }
        }
    }
    let path = format!("consumers[{}].{}[{i}]", consumer.at, k.list());
    let owner = consumer.id.clone();
    commit(cx, doc, &path, 200, |doc| {
        let list = consumers(doc);
        let c = list.iter().find(|e| e.id == owner)?;
        let v = creds_of(doc, c, k).iter().find(|v| matches(v, k, &id))?;
        Some(cred_view(v, c, k))
    })
}
