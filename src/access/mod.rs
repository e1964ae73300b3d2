//! Authentication (`key-auth`) and authorization (`acl`) on the request path, on the access
//! table the configuration built (`config::access`).
//!
//! A key is found in the request (`key`), looked up by keyed hash and compared in constant time
//! (`AccessTable::credential_for`); the ACL's verdict for the consumer was computed at load. The
//! request's identity is a pair of indices into the table, and nothing here allocates.
//!
//! Kong's answers: 401 `No API key found in request`, `Unauthorized` (a key that matches no
//! credential, Kong 3.7+), `Duplicate API key found`, each with `WWW-Authenticate: Key` (or
//! `Key realm="..."`); 403 `You cannot consume this service` from the ACL, and its 401
//! `Unauthorized` when there is no authenticated consumer at all.

pub mod key;

use crate::body::Member;
use crate::config::access::{AccessTable, Acl, AclVerdict, KeyAuth};
use crate::http1::RequestHead;
use key::{Place, Search};

/// Who is calling, as indices into the access table. A consumer without a credential is the
/// `anonymous` consumer of `key-auth`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity {
    pub consumer: Option<u32>,
    pub credential: Option<u32>,
}

impl Identity {
    pub fn anonymous(&self) -> bool {
        self.consumer.is_some() && self.credential.is_none()
    }
}

/// What of the consumer's key must not reach the provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hidden {
    /// Every header named by this entry of the `key-auth` plugin's `key_names`.
    pub header: Option<usize>,
    /// The query parameter named by this entry of `key_names`.
    pub query: Option<usize>,
    /// This member of the body.
    pub member: Option<Member>,
}

/// Why a request is refused, in Kong's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    pub status: u16,
    pub message: &'static str,
    /// `WWW-Authenticate` (key-auth's 401s carry it).
    pub challenge: bool,
}

pub const NO_KEY: &str = "No API key found in request";
pub const INVALID_KEY: &str = "Unauthorized";
pub const DUPLICATE_KEY: &str = "Duplicate API key found";
pub const FORBIDDEN: &str = "You cannot consume this service";

/// What authenticating a request gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticated {
    /// Through, as `Identity` (possibly the anonymous consumer).
    Pass(Identity, Hidden),
    /// No key in the head and `key_in_body`: look again once the body is read.
    NeedBody,
    Denied(Denied),
}

/// `key-auth` for a request: the head alone (`body: None`), or the head and the body. `decoded`
/// is scratch space for a key that had to be decoded.
pub fn authenticate(
    table: &AccessTable,
    conf: &KeyAuth,
    head: &RequestHead,
    body: Option<&[u8]>,
    decoded: &mut Vec<u8>,
) -> Authenticated {
    if !conf.run_on_preflight && head.method() == "OPTIONS" {
        return Authenticated::Pass(Identity::default(), Hidden::default());
    }
    let denied = |message| Denied {
        status: 401,
        message,
        challenge: true,
    };
    let (outcome, hidden) = match key::search(conf, head, body, decoded) {
        Search::Found(p) => {
            let hidden = hidden(conf, &p.place, p.name);
            let presented = p.bytes(head, body.unwrap_or_default(), decoded);
            let found = table.credential_for(presented).and_then(|c| {
                let consumer = table.credential(c)?.consumer;
                Some(Identity {
                    consumer: Some(consumer),
                    credential: Some(c),
                })
            });
            (found.ok_or(denied(INVALID_KEY)), hidden)
        }
        Search::Duplicate => (Err(denied(DUPLICATE_KEY)), Hidden::default()),
        Search::Missing if body.is_none() && conf.in_body => return Authenticated::NeedBody,
        Search::Missing => (Err(denied(NO_KEY)), Hidden::default()),
    };
    match (outcome, conf.anonymous) {
        (Ok(identity), _) => Authenticated::Pass(identity, hidden),
        (Err(_), Some(anonymous)) => Authenticated::Pass(
            Identity {
                consumer: Some(anonymous),
                credential: None,
            },
            hidden,
        ),
        (Err(denied), None) => Authenticated::Denied(denied),
    }
}

fn hidden(conf: &KeyAuth, place: &Place, name: &str) -> Hidden {
    match place {
        Place::Header => Hidden {
            header: position(conf, name),
            ..Hidden::default()
        },
        // The client's query string never reaches a provider (the target's URL replaces it),
        // but the parameter is named so that `allow_override` cannot forward it either.
        Place::Query => Hidden {
            query: position(conf, name),
            ..Hidden::default()
        },
        Place::Body(m) => Hidden {
            member: Some(m.clone()),
            ..Hidden::default()
        },
    }
}

fn position(conf: &KeyAuth, name: &str) -> Option<usize> {
    conf.key_names.iter().position(|n| n == name)
}

/// The `acl` verdict for `identity`.
pub fn authorize(acl: &Acl, identity: Identity) -> Result<(), Denied> {
    let forbid = Denied {
        status: 403,
        message: FORBIDDEN,
        challenge: false,
    };
    match acl.verdict(identity.consumer) {
        AclVerdict::Allow => Ok(()),
        AclVerdict::Forbid => Err(forbid),
        AclVerdict::NoGroups if identity.credential.is_some() => Err(forbid),
        AclVerdict::NoGroups => Err(Denied {
            status: 401,
            message: INVALID_KEY,
            challenge: false,
        }),
    }
}
