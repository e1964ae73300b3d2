//! Byte buffers this thread's connections share: a connection holds read storage only while it
//! has unread bytes or a read in flight, and hands it back here when it goes quiet.
//!
//! Ten thousand streams waiting for their next event would otherwise pin ten thousand read
//! buffers on each side. Buffers of [`SIZE`] come back here and are handed out again; a worker
//! keeps at most [`MAX_SPARE`], and [`trim`] lets go of those the last period did not need.

use std::cell::{Cell, RefCell};

/// The standard buffer: what a read gets on a quiet connection, plus room for the chunk
/// framing around a whole read, so a relay's output buffer of this size never grows.
pub const SIZE: usize = 4 * 1024 + 128;
/// Spare buffers kept at most (4 MiB of them).
pub const MAX_SPARE: usize = 1024;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Fewest spares held since the last trim: what nobody needed.
    static LOW: Cell<usize> = const { Cell::new(0) };
}

/// An empty buffer with at least [`SIZE`] capacity.
pub fn take() -> Vec<u8> {
    SPARE
        .with(|s| {
            let mut s = s.borrow_mut();
            let buf = s.pop();
            LOW.with(|low| low.set(low.get().min(s.len())));
            buf
        })
        .unwrap_or_else(|| Vec::with_capacity(SIZE))
}

/// Keeps `buf` for reuse when it is a standard one (a larger buffer is dropped: it was grown
/// for something unusual and should not pin its memory).
pub fn give(mut buf: Vec<u8>) {
    if buf.capacity() < SIZE || buf.capacity() > 2 * SIZE {
        return;
    }
    buf.clear();
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < MAX_SPARE {
            s.push(buf);
        }
    });
}

/// Frees the spares nobody took since the previous trim (call periodically); returns how many.
pub fn trim() -> usize {
    SPARE.with(|s| {
        let mut s = s.borrow_mut();
        let unused = LOW.with(Cell::get).min(s.len());
        let keep = s.len() - unused;
        s.truncate(keep);
        if s.capacity() > 2 * keep.max(16) {
            s.shrink_to(keep.max(16));
        }
        LOW.with(|low| low.set(s.len()));
        unused
    })
}

#[cfg(test)]
pub(crate) fn count() -> usize {
    SPARE.with(|s| s.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_and_idle_ones_are_trimmed() {
        let a = take();
        assert!(a.capacity() >= SIZE);
        give(a);
        give(Vec::with_capacity(64 * SIZE)); // too large: dropped
        give(Vec::new()); // too small: dropped
        assert_eq!(count(), 1);
        trim(); // low watermark since the last trim was 0: nothing unused yet
        let b = take();
        give(b);
        trim();
        assert_eq!(count(), 1, "taken since the last trim: kept");
        trim();
        assert_eq!(count(), 0, "untouched for a whole period: freed");
    }
}
