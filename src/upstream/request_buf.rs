//! The upstream request as one vectored write: the head llmux built, then the client's body
//! as slices of the original bytes around the few pieces llmux changed.
//!
//! monoio needs an owned `IoVecBuf` that stays put while the kernel reads it; this struct owns
//! every buffer its iovecs point at, so the pointers stay valid however the struct is moved.

use crate::body::{Segment, SplicedBody};
use bytes::Bytes;
use monoio::buf::IoVecBuf;
use std::rc::Rc;

pub struct RequestBuf {
    iovecs: Vec<libc::iovec>,
    // Owners of the memory `iovecs` points into; never mutated after construction.
    _head: Vec<u8>,
    _body: Rc<Vec<u8>>,
    _owned: Vec<Bytes>,
}

impl RequestBuf {
    pub fn new(head: Vec<u8>, body: Rc<Vec<u8>>, spliced: &SplicedBody) -> RequestBuf {
        let mut owned = Vec::new();
        let mut iovecs = Vec::with_capacity(spliced.segments().len() + 1);
        let mut push = |ptr: *const u8, len: usize| {
            if len > 0 {
                iovecs.push(libc::iovec {
                    iov_base: ptr as *mut libc::c_void,
                    iov_len: len,
                });
            }
        };
        push(head.as_ptr(), head.len());
        for seg in spliced.segments() {
            match seg {
                Segment::Original(r) => {
                    let piece = &body[r.clone()];
                    push(piece.as_ptr(), piece.len());
                }
                Segment::Owned(b) => {
                    push(b.as_ptr(), b.len());
                    owned.push(b.clone());
                }
            }
        }
        RequestBuf {
            iovecs,
            _head: head,
            _body: body,
            _owned: owned,
        }
    }

    /// A head and a body llmux wrote itself (a request translated for another provider).
    pub fn from_parts(head: Vec<u8>, body: Vec<u8>) -> RequestBuf {
        let mut iovecs = Vec::with_capacity(2);
        for part in [&head, &body] {
            if !part.is_empty() {
                iovecs.push(libc::iovec {
                    iov_base: part.as_ptr() as *mut libc::c_void,
                    iov_len: part.len(),
                });
            }
        }
        RequestBuf {
            iovecs,
            _head: head,
            _body: Rc::new(body),
            _owned: Vec::new(),
        }
    }

    /// A buffer with nothing in it, standing in for one lost to a timed-out write.
    pub fn empty() -> RequestBuf {
        RequestBuf {
            iovecs: Vec::new(),
            _head: Vec::new(),
            _body: Rc::new(Vec::new()),
            _owned: Vec::new(),
        }
    }

    /// Bytes the write will send.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.iovecs.iter().map(|v| v.iov_len).sum()
    }

    /// The bytes as one buffer, read through the iovecs as the kernel reads them.
    #[cfg(test)]
    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for v in &self.iovecs {
            // SAFETY: every iovec points into a buffer owned by `self` (head, body or an owned
            // piece) that is alive and unmodified for as long as `self` is borrowed here.
            out.extend_from_slice(unsafe {
                std::slice::from_raw_parts(v.iov_base as *const u8, v.iov_len)
            });
        }
        out
    }
}

// SAFETY: the iovec array and every buffer it points into are heap allocations owned by the
// struct and never mutated or reallocated after `new`, so the pointers stay valid and stable
// while the runtime owns the value (moving the struct moves only the owning handles).
unsafe impl IoVecBuf for RequestBuf {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iovecs.as_ptr()
    }

    fn read_iovec_len(&self) -> usize {
        self.iovecs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::BodyScanner;

    #[test]
    fn iovecs_cover_head_and_spliced_body_in_order() {
        let body = br#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#.to_vec();
        let facts = BodyScanner::new().scan(&body).unwrap();
        let spliced = SplicedBody::build(
            body.len(),
            &facts,
            Some("gpt-4o-mini"),
            &[("max_tokens", "512")],
        );
        let mut expected = b"POST / HTTP/1.1\r\n\r\n".to_vec();
        spliced.write_to(&body, &mut expected);
        let buf = RequestBuf::new(b"POST / HTTP/1.1\r\n\r\n".to_vec(), Rc::new(body), &spliced);
        let moved = Box::new(buf); // moving must not invalidate the pointers
        assert_eq!(moved.to_vec(), expected);
        assert_eq!(moved.len(), expected.len());
        assert!(String::from_utf8(expected)
            .unwrap()
            .contains(r#""model":"gpt-4o-mini""#));
    }

    #[test]
    fn owned_parts_survive_a_move() {
        let buf = RequestBuf::from_parts(b"POST / HTTP/1.1\r\n\r\n".to_vec(), b"{}".to_vec());
        let moved = Box::new(buf);
        assert_eq!(moved.to_vec(), b"POST / HTTP/1.1\r\n\r\n{}");
        assert_eq!(RequestBuf::from_parts(Vec::new(), Vec::new()).len(), 0);
    }
}
