//! Who may send this request, and whether they may send it now: the route's access plugins in
//! Kong's order (`key-auth`, `acl`, `rate-limiting`, `ai-rate-limiting-advanced`), before
//! anything is sent upstream.
//!
//! Authentication and the ACL run on the head, before the body is read, so an unknown caller
//! never makes llmux read (or buffer) a body: its 401/403 closes the connection when a body was
//! announced. Only `key_in_body` waits for the body. The limits run once the body is read, so a
//! client told 429 keeps its connection. Decisions and buffers live in the request's
//! `AccessScratch`: nothing here allocates on the way through.

use super::error::ErrorResponse;
use crate::access::{authenticate, authorize, Authenticated, Denied};
use crate::config::access::{AccessTable, Policy};
use crate::ctx::{AccessScratch, Generation, WorkerCtx};
use crate::http1::{Framing, RequestHead};
use crate::limits::{self, Applied, Limited, Now, Subject};
use std::net::IpAddr;

/// What is left to do once the body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterBody {
    /// Authentication and the ACL are done.
    Limits,
    /// The key may be in the body: authenticate (and check the ACL) first.
    Authenticate,
}

/// `key-auth` and `acl` on the head.
pub(super) fn before_body(
    table: &AccessTable,
    policy: &Policy,
    head: &RequestHead,
    access: &mut AccessScratch,
) -> Result<AfterBody, ErrorResponse> {
    if let Some(k) = policy.key_auth {
        let Some(conf) = table.key_auths.get(k as usize) else {
            return Ok(AfterBody::Limits);
        };
        access.key_auth = Some(k);
        match authenticate(table, conf, head, None, &mut access.decoded) {
            Authenticated::Pass(identity, hidden) => {
                access.identity = identity;
                access.hidden = hidden;
            }
            Authenticated::NeedBody => return Ok(AfterBody::Authenticate),
            Authenticated::Denied(d) => return Err(denied(d, table, policy, head, true)),
        }
    }
    acl(table, policy, head, access, true)?;
    Ok(AfterBody::Limits)
}

/// A request whose body has been read.
pub(super) struct Arrived<'a> {
    pub head: &'a RequestHead,
    pub body: &'a [u8],
    pub client_ip: Option<IpAddr>,
}

/// What is left after the body: `key_in_body` authentication, then both limits.
pub(super) fn after_body(
    ctx: &WorkerCtx,
    generation: &Generation,
    policy: &Policy,
    request: &Arrived<'_>,
    pending: AfterBody,
    access: &mut AccessScratch,
) -> Result<(), ErrorResponse> {
    let Arrived {
        head,
        body,
        client_ip,
    } = *request;
    let table = &generation.config.access;
    if pending == AfterBody::Authenticate {
        if let Some(conf) = policy
            .key_auth
            .and_then(|k| table.key_auths.get(k as usize))
        {
            match authenticate(table, conf, head, Some(body), &mut access.decoded) {
                Authenticated::Pass(identity, hidden) => {
                    access.identity = identity;
                    access.hidden = hidden;
                }
                Authenticated::NeedBody => {}
                Authenticated::Denied(d) => return Err(denied(d, table, policy, head, false)),
            }
        }
        acl(table, policy, head, access, false)?;
    }
    let consumer = access.identity.consumer;
    let request_limit = policy.request_limit.get(consumer);
    let token_limit = policy.token_limit.get(consumer);
    if request_limit.is_none() && token_limit.is_none() {
        return Ok(());
    }
    let subject = Subject {
        consumer: consumer.and_then(|c| table.consumer(c)),
        credential: access.identity.credential.and_then(|c| table.credential(c)),
        ip: client_ip,
        head,
        service: policy.service.as_deref(),
    };
    let now = Now::read();
    let mut state = ctx.limits.borrow_mut();
    if let Some(conf) = request_limit.and_then(|r| table.request_limits.get(r as usize)) {
        limits::identity(&conf.limit_by, &subject, &mut access.key);
        let applied = Applied {
            conf,
            at: generation.request_limit_state(request_limit.unwrap_or_default()),
            identity: &access.key,
            now,
        };
        limits::check_requests(&mut state, &applied, &mut access.response_headers)
            .map_err(|l| limited(l, &access.response_headers))?;
    }
    if let Some(t) = token_limit {
        let Some(conf) = table.token_limits.get(t as usize) else {
            return Ok(());
        };
        let at = generation.token_limit_state(t);
        limits::identity(&conf.identifier, &subject, &mut access.token_identity);
        access.token_limit = Some(t);
        access.token_state = at;
        let applied = Applied {
            conf,
            at,
            identity: &access.token_identity,
            now,
        };
        let (key, headers) = (&mut access.key, &mut access.response_headers);
        limits::check_tokens(&state, &applied, policy.providers, key, headers)
            .map_err(|l| limited(l, &access.response_headers))?;
    }
    Ok(())
}

/// The ACL in force, for the identity authentication gave.
fn acl(
    table: &AccessTable,
    policy: &Policy,
    head: &RequestHead,
    access: &mut AccessScratch,
    before_body: bool,
) -> Result<(), ErrorResponse> {
    let Some(a) = policy.acl else {
        return Ok(());
    };
    let Some(conf) = table.acls.get(a as usize) else {
        return Ok(());
    };
    authorize(conf, access.identity).map_err(|d| denied(d, table, policy, head, before_body))?;
    access.acl = Some(a);
    Ok(())
}

/// Kong's refusal; before the body is read, a request that announced one loses its connection
/// (its body is never read).
fn denied(
    d: Denied,
    table: &AccessTable,
    policy: &Policy,
    head: &RequestHead,
    before_body: bool,
) -> ErrorResponse {
    let mut headers = Vec::new();
    if d.challenge {
        let challenge = policy
            .key_auth
            .and_then(|k| table.key_auths.get(k as usize))
            .map_or("Key", |k| k.www_authenticate.as_str());
        crate::http1::headers::push(&mut headers, b"WWW-Authenticate", challenge.as_bytes());
    }
    let resp = ErrorResponse::kong(d.status, d.message, &headers);
    if before_body && head.framing != Framing::Empty && head.framing != Framing::Length(0) {
        resp.closing()
    } else {
        resp
    }
}

fn limited(l: Limited, headers: &[u8]) -> ErrorResponse {
    ErrorResponse::kong(l.status, l.message, headers)
}
