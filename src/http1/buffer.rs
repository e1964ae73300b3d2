//! A growable read buffer for monoio's owned-buffer I/O.
//!
//! monoio moves the buffer into each read and hands it back with the result, so the buffer is
//! taken out of `self` for the duration of the read. Bytes before `start` are consumed; a read
//! appends after the filled part, compacting or growing first so a read never gets a tiny window.
//! An empty buffer can give its storage back to the thread's spares ([`ReadBuf::release`]); the
//! next read takes one again.

use super::spare;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, CancelHandle, CancelableAsyncReadRent};

/// A read gets at least this much room; below it the buffer is compacted or grown. Kept well
/// under the starting capacity so a connection's first small read does not double its buffer
/// (10k held streams means 10k of these buffers on each side).
const MIN_READ: usize = 1024;

pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
}

impl ReadBuf {
    pub fn with_capacity(cap: usize) -> Self {
        ReadBuf {
            buf: Vec::with_capacity(cap.max(2 * MIN_READ)),
            start: 0,
        }
    }

    /// A buffer with no storage yet: its first read takes a spare.
    pub fn empty() -> Self {
        ReadBuf {
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Gives the storage back to the thread's spares when nothing is left to read from it, so
    /// a quiet connection holds no read buffer.
    pub fn release(&mut self) {
        if self.is_empty() && self.buf.capacity() > 0 {
            self.start = 0;
            spare::give(std::mem::take(&mut self.buf));
        }
    }

    /// Unconsumed bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most one read can return without the buffer growing first.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Marks `n` leading bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Removes and returns up to `n` leading bytes.
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        let out = self.buf[self.start..self.start + n].to_vec();
        self.consume(n);
        out
    }

    /// Makes room for a read of at least `MIN_READ` bytes after the filled part.
    fn make_room(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf = spare::take();
            self.start = 0;
            return;
        }
        if self.start > 0 && self.buf.capacity() - self.buf.len() < MIN_READ {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < MIN_READ {
            self.buf.reserve(self.buf.capacity().max(MIN_READ));
        }
    }

    /// Reads once from `io`, appending. Returns the byte count; 0 means the peer closed.
    pub async fn fill<S: AsyncReadRent>(&mut self, io: &mut S) -> std::io::Result<usize> {
        self.make_room();
        let len = self.buf.len();
        let buf = std::mem::take(&mut self.buf);
        let (res, slice) = io.read(buf.slice_mut(len..)).await;
        self.buf = slice.into_inner();
        res
    }

    /// [`fill`](Self::fill) that can be cancelled through `cancel` without losing bytes: the
    /// caller cancels and then still awaits this future, which returns whatever the kernel
    /// had already read (or an `ECANCELED` error).
    pub async fn fill_cancelable<S: CancelableAsyncReadRent>(
        &mut self,
        io: &mut S,
        cancel: CancelHandle,
    ) -> std::io::Result<usize> {
        self.make_room();
        let len = self.buf.len();
        let buf = std::mem::take(&mut self.buf);
        let (res, slice) = io.cancelable_read(buf.slice_mut(len..), cancel).await;
        self.buf = slice.into_inner();
        res
    }
}
