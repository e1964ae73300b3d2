//! The upstream request as one vectored write: the head llmux built, then the client's body
//! as slices of the original bytes around the few pieces llmux changed.
//!
//! monoio needs an owned `IoVecBuf` that stays put while the kernel reads it; this struct owns
//! every buffer its iovecs point at, so the pointers stay valid however the struct is moved.
//! It is also reused from request to request ([`RequestBuf::recycle`]): its vectors keep their
//! capacity, so building the next request allocates nothing once they have grown.

use crate::body::{Segment, SplicedBody};
use monoio::buf::IoVecBuf;
use std::rc::Rc;

/// One pointer wide: it moves by value into every write op and through the futures around
/// it, so its parts live behind one box that the worker's scratch keeps from request to
/// request.
#[derive(Default)]
pub struct RequestBuf {
    parts: Box<Parts>,
}

#[derive(Default)]
struct Parts {
    /// What the next write sends, from `cursor` on; rebuilt by `seal`, trimmed by `advance`.
    iovecs: Vec<libc::iovec>,
    /// Owners of the memory `iovecs` points into. They are only changed through `&mut self`
    /// methods that clear `iovecs` first, so no iovec ever outlives what it points at.
    head: Vec<u8>,
    body: Option<Rc<Vec<u8>>>,
    spliced: SplicedBody,
    /// First iovec still to send (those before it were written).
    cursor: usize,
}

impl RequestBuf {
    /// The head buffer, emptied, to write the next request's head into.
    pub fn head_mut(&mut self) -> &mut Vec<u8> {
        self.parts.iovecs.clear();
        self.parts.head.clear();
        &mut self.parts.head
    }

    /// The body description, to be reset for the next request.
    pub fn spliced_mut(&mut self) -> &mut SplicedBody {
        self.parts.iovecs.clear();
        &mut self.parts.spliced
    }

    #[cfg(test)]
    fn spliced(&self) -> &SplicedBody {
        &self.parts.spliced
    }

    /// Fixes the request: `head`, then the spliced `body`. Call after writing the head and
    /// the body description; the iovecs stay valid until the next `&mut` access.
    pub fn seal(&mut self, body: Rc<Vec<u8>>) {
        self.parts.body = Some(body);
        self.rewind();
    }

    /// Points the iovecs at the whole request again (to resend it on a new connection).
    pub fn rewind(&mut self) {
        self.parts.iovecs.clear();
        self.parts.cursor = 0;
        let mut push = |piece: &[u8]| {
            if !piece.is_empty() {
                self.parts.iovecs.push(libc::iovec {
                    iov_base: piece.as_ptr() as *mut libc::c_void,
                    iov_len: piece.len(),
                });
            }
        };
        push(&self.parts.head);
        let body: &[u8] = self.parts.body.as_deref().map_or(&[], Vec::as_slice);
        for seg in self.parts.spliced.segments() {
            match seg {
                Segment::Original(r) => push(body.get(r.clone()).unwrap_or_default()),
                Segment::Owned(r) => push(&self.parts.spliced.owned()[r.clone()]),
            }
        }
    }

    /// Bytes still to send.
    pub fn remaining(&self) -> usize {
        self.parts.iovecs[self.parts.cursor..]
            .iter()
            .map(|v| v.iov_len)
            .sum()
    }

    /// Marks `n` more bytes as sent.
    pub fn advance(&mut self, mut n: usize) {
        while n > 0 && self.parts.cursor < self.parts.iovecs.len() {
            let v = &mut self.parts.iovecs[self.parts.cursor];
            if n < v.iov_len {
                // SAFETY: `n < iov_len`, so the new base stays inside the same buffer and the
                // shortened slice ends where it did.
                v.iov_base = unsafe { (v.iov_base as *mut u8).add(n) } as *mut libc::c_void;
                v.iov_len -= n;
                return;
            }
            n -= v.iov_len;
            self.parts.cursor += 1;
        }
    }

    /// Lets go of the body and keeps the vectors' capacity for the next request.
    pub fn recycle(&mut self) {
        self.parts.iovecs.clear();
        self.parts.cursor = 0;
        self.parts.body = None;
    }

    /// Fixes a request llmux wrote itself (translated for another provider): `head`, then
    /// `body` as it is.
    pub fn set_owned(&mut self, head: Vec<u8>, body: Vec<u8>) {
        self.parts.iovecs.clear();
        self.parts.head = head;
        self.parts.spliced.whole(body.len());
        self.seal(Rc::new(body));
    }

    /// The bytes as one buffer, read through the iovecs as the kernel reads them.
    #[cfg(test)]
    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for v in &self.parts.iovecs[self.parts.cursor..] {
            // SAFETY: every iovec points into a buffer owned by `self` (head, body or the
            // spliced body's owned bytes) that is alive and unmodified while `self` is borrowed.
            out.extend_from_slice(unsafe {
                std::slice::from_raw_parts(v.iov_base as *const u8, v.iov_len)
            });
        }
        out
    }
}

// SAFETY: the iovec array and every buffer it points into are heap allocations owned by the
// struct, and none of them is mutated or reallocated while the iovecs exist (every `&mut`
// accessor clears the iovecs first), so the pointers stay valid and stable while the runtime
// owns the value (moving the struct moves only the owning handles).
unsafe impl IoVecBuf for RequestBuf {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.parts.iovecs[self.parts.cursor..].as_ptr()
    }

    fn read_iovec_len(&self) -> usize {
        self.parts.iovecs.len() - self.parts.cursor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::BodyScanner;

    fn sealed(body: &[u8]) -> (RequestBuf, Vec<u8>) {
        let facts = BodyScanner::new().scan(body).unwrap();
        let mut buf = RequestBuf::default();
        buf.head_mut().extend_from_slice(b"POST / HTTP/1.1\r\n\r\n");
        buf.spliced_mut().reset(
            body.len(),
            &facts,
            Some("gpt-4o-mini"),
            &[("max_tokens", "512")],
        );
        let mut expected = b"POST / HTTP/1.1\r\n\r\n".to_vec();
        buf.spliced().write_to(body, &mut expected);
        buf.seal(Rc::new(body.to_vec()));
        (buf, expected)
    }

    #[test]
    fn iovecs_cover_head_and_spliced_body_in_order() {
        let body = br#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;
        let (buf, expected) = sealed(body);
        let moved = Box::new(buf); // moving must not invalidate the pointers
        assert_eq!(moved.to_vec(), expected);
        assert_eq!(moved.remaining(), expected.len());
        assert!(String::from_utf8(expected)
            .unwrap()
            .contains(r#""model":"gpt-4o-mini""#));
    }

    #[test]
    fn advance_through_partial_writes_then_rewind() {
        let body = br#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#;
        let (mut buf, expected) = sealed(body);
        let mut sent = 0;
        for step in [1, 7, 30, 2, 1000] {
            let n = step.min(buf.remaining());
            buf.advance(n);
            sent += n;
            assert_eq!(buf.to_vec(), expected[sent..], "after {sent} bytes");
        }
        assert_eq!(buf.remaining(), 0);
        assert_eq!(buf.read_iovec_len(), 0);
        buf.rewind();
        assert_eq!(buf.to_vec(), expected);
        // Reused for a second request, the bytes are the second request's.
        buf.recycle();
        let second = br#"{"model":"fast","messages":[{"role":"user","content":"again"}]}"#;
        let facts = BodyScanner::new().scan(second).unwrap();
        buf.head_mut()
            .extend_from_slice(b"POST /2 HTTP/1.1\r\n\r\n");
        buf.spliced_mut().reset(second.len(), &facts, None, &[]);
        buf.seal(Rc::new(second.to_vec()));
        let mut want = b"POST /2 HTTP/1.1\r\n\r\n".to_vec();
        want.extend_from_slice(second);
        assert_eq!(buf.to_vec(), want);
    }

    #[test]
    fn owned_parts_survive_a_move() {
        let mut buf = RequestBuf::default();
        buf.set_owned(b"POST / HTTP/1.1\r\n\r\n".to_vec(), b"{}".to_vec());
        let moved = Box::new(buf);
        assert_eq!(moved.to_vec(), b"POST / HTTP/1.1\r\n\r\n{}");
        let mut empty = RequestBuf::default();
        empty.set_owned(Vec::new(), Vec::new());
        assert_eq!(empty.remaining(), 0);
        assert_eq!(empty.read_iovec_len(), 0);
    }
}
