//! Per-request storage a worker reuses: buffers for the request head, body, upstream request,
//! response head, response filter and the bytes on their way to the client.
//!
//! A request takes one [`RequestScratch`] once its first bytes arrive and gives it back when it
//! ends, so steady traffic allocates nothing per request: every vector keeps the capacity the
//! previous request gave it. Idle keep-alive connections hold none. What a returned scratch
//! may keep is capped ([`KEEP_BYTES`]), and the pool shrinks back when traffic drops
//! ([`ScratchPool::trim`], on the merge tick), so a burst of large or many requests does not
//! pin its memory.

use crate::access::{Hidden, Identity};
use crate::body::BodyFacts;
use crate::http1::{RequestHead, ResponseHead};
use crate::provider::ResponseFilter;
use crate::upstream::RequestBuf;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Capacity a returned buffer may keep; a larger one is shrunk to this.
pub const KEEP_BYTES: usize = 64 * 1024;

#[derive(Default)]
pub struct RequestScratch {
    pub head: RequestHead,
    /// The request body; unique (not shared with a write in flight) while in the pool.
    pub body: Rc<Vec<u8>>,
    pub facts: BodyFacts,
    pub io: IoScratch,
    /// Made the first time a request on this scratch meets an access plugin, then kept; a
    /// gateway without any holds none (and its held streams carry one pointer for it).
    pub access: Option<Box<AccessScratch>>,
}

/// What access control decided for the request, and the buffers it works in.
#[derive(Default)]
pub struct AccessScratch {
    pub identity: Identity,
    pub hidden: Hidden,
    /// The `key-auth` instance that ran (index in the access table).
    pub key_auth: Option<u32>,
    /// The `acl` instance that let the request through.
    pub acl: Option<u32>,
    /// The `ai-rate-limiting-advanced` instance the request's tokens are spent on, and the
    /// request's identity for it (`c:<consumer id>`, `i:<ip>`...).
    pub token_limit: Option<u32>,
    /// Where the worker keeps that limiter's counts (`LimitsState` index).
    pub token_state: usize,
    pub token_identity: Vec<u8>,
    /// Response headers the limiters add (CRLF-terminated lines).
    pub response_headers: Vec<u8>,
    /// A key that had to be decoded (percent-encoding, JSON escapes).
    pub decoded: Vec<u8>,
    /// Scratch space for counter keys.
    pub key: Vec<u8>,
}

/// Nothing decided: what a request on a route without access plugins runs with.
pub static NO_ACCESS: AccessScratch = AccessScratch {
    identity: Identity {
        consumer: None,
        credential: None,
    },
    hidden: Hidden {
        header: None,
        query: None,
        member: None,
    },
    key_auth: None,
    acl: None,
    token_limit: None,
    token_state: 0,
    token_identity: Vec::new(),
    response_headers: Vec::new(),
    decoded: Vec::new(),
    key: Vec::new(),
};

impl AccessScratch {
    /// Forgets the previous request's decisions; buffers keep their capacity.
    pub fn reset(&mut self) {
        self.identity = Identity::default();
        self.hidden = Hidden::default();
        self.key_auth = None;
        self.acl = None;
        self.token_limit = None;
        for buf in [
            &mut self.token_identity,
            &mut self.response_headers,
            &mut self.decoded,
            &mut self.key,
        ] {
            buf.clear();
            buf.shrink_to(KEEP_BYTES);
        }
    }
}

/// The parts of the scratch an attempt and the relay use while the request's head, body and
/// facts are borrowed.
#[derive(Default)]
pub struct IoScratch {
    /// The upstream request (head, spliced body, iovecs); out in a write while one runs.
    pub upstream: Option<RequestBuf>,
    pub response_head: ResponseHead,
    pub filter: ResponseFilter,
    /// Bytes on their way to the client.
    pub out: Vec<u8>,
    /// One read's worth of decoded body bytes.
    pub data: Vec<u8>,
}

impl RequestScratch {
    /// `body`'s buffer, emptied, to read a new body into.
    pub fn writable_body(body: &mut Rc<Vec<u8>>) -> &mut Vec<u8> {
        if Rc::get_mut(body).is_none() {
            // Still shared with a write that was abandoned: let that one keep it.
            *body = Rc::default();
        }
        let body = Rc::make_mut(body);
        body.clear();
        body
    }

    /// Drops what the last request left, keeping at most [`KEEP_BYTES`] per buffer.
    fn recycle(&mut self) {
        if let Some(body) = Rc::get_mut(&mut self.body) {
            body.clear();
            body.shrink_to(KEEP_BYTES);
        }
        if let Some(access) = &mut self.access {
            access.reset();
        }
        let io = &mut self.io;
        if let Some(upstream) = &mut io.upstream {
            upstream.recycle();
        }
        io.filter.recycle(KEEP_BYTES);
        // The relay's buffers go back to the thread's spares, not with the scratch: a pool of
        // idle scratches (after thousands of streams end at once) must not pin them.
        for buf in [&mut io.out, &mut io.data] {
            crate::http1::spare::give(std::mem::take(buf));
        }
    }
}

/// A worker's spare scratches.
#[derive(Default)]
pub struct ScratchPool {
    // Boxed so that taking and giving move a pointer, not the whole scratch (about a KiB), on
    // every request.
    #[allow(clippy::vec_box)]
    free: RefCell<Vec<Box<RequestScratch>>>,
    /// Scratches out in requests right now, and the most at once since the last trim.
    in_use: Cell<usize>,
    peak: Cell<usize>,
}

impl ScratchPool {
    pub fn take(&self) -> Box<RequestScratch> {
        let in_use = self.in_use.get() + 1;
        self.in_use.set(in_use);
        self.peak.set(self.peak.get().max(in_use));
        self.free.borrow_mut().pop().unwrap_or_default()
    }

    pub fn give(&self, mut scratch: Box<RequestScratch>) {
        self.in_use.set(self.in_use.get().saturating_sub(1));
        scratch.recycle();
        self.free.borrow_mut().push(scratch);
    }

    /// Keeps only as many spares as the busiest moment since the last trim needed, so memory
    /// taken by a burst goes back once it is over. Called on the merge tick; returns how many
    /// were freed.
    pub fn trim(&self) -> usize {
        let keep = self.peak.get().saturating_sub(self.in_use.get());
        let mut free = self.free.borrow_mut();
        let freed = free.len().saturating_sub(keep);
        if freed > 0 {
            free.truncate(keep);
            free.shrink_to(keep.max(16));
        }
        self.peak.set(self.in_use.get());
        freed
    }

    #[cfg(test)]
    fn spare(&self) -> usize {
        self.free.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_keeps_capacity_and_trim_follows_the_peak() {
        let pool = ScratchPool::default();
        let mut a = pool.take();
        RequestScratch::writable_body(&mut a.body).extend_from_slice(&[1; 1000]);
        a.io.out.extend_from_slice(&[2; 200 * 1024]);
        let b = pool.take();
        pool.give(b);
        pool.give(a);
        assert_eq!(pool.spare(), 2);
        // Last in, first out: the one that held a body comes back, emptied, capacity kept.
        let mut again = pool.take();
        assert!(again.body.is_empty() && again.body.capacity() >= 1000);
        assert!(again.io.out.is_empty());
        assert!(
            again.io.out.capacity() <= KEEP_BYTES,
            "a large buffer is shrunk when returned"
        );
        assert!(RequestScratch::writable_body(&mut again.body).capacity() >= 1000);
        pool.give(again);
        // Peak since the last trim was 2: both spares stay; a quiet period then frees them.
        pool.trim();
        assert_eq!(pool.spare(), 2);
        pool.trim();
        assert_eq!(pool.spare(), 0);
    }
}
