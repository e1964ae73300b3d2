//! A growable read buffer for monoio's owned-buffer I/O.
//!
//! monoio moves the buffer into each read and hands it back with the result, so the buffer is
//! taken out of `self` for the duration of the read. Bytes before `start` are consumed; a read
//! appends after the filled part, compacting or growing first so a read never gets a tiny window.
//! An empty buffer can give its storage back to the thread's spares ([`ReadBuf::release`]); the
//! next read takes one again.

use super::spare;
use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;

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

    /// Reads what `fd` has right now, appending, without waiting: a plain `recv` with
    /// `MSG_DONTWAIT`, for a socket already known to be readable. `WouldBlock` when it has
    /// nothing after all. Nothing stays in flight, so the buffer can go back to the spares at
    /// once (see `http1::spare`).
    pub fn fill_now(&mut self, fd: std::os::fd::RawFd) -> std::io::Result<usize> {
        self.make_room();
        let len = self.buf.len();
        let room = self.buf.capacity() - len;
        // SAFETY: the destination is the vector's spare capacity, `room` bytes starting just
        // past its initialised length, all inside its allocation; recv(2) writes at most
        // `room` bytes there and reports how many, and only those are marked initialised.
        let n = unsafe {
            libc::recv(
                fd,
                self.buf.as_mut_ptr().add(len).cast(),
                room,
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: recv initialised exactly `n <= room` bytes after `len`.
        unsafe { self.buf.set_len(len + n) };
        Ok(n)
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
}

/// Waits for `tcp` to be readable, holding no buffer, then reads what is there at once (no
/// read stays in flight, so the buffer's storage is taken and can be given back right away).
/// Ends with `Ok(0)` once `deadline` has expired.
pub(crate) async fn read_when_ready(
    tcp: &monoio::net::TcpStream,
    buf: &mut ReadBuf,
    deadline: &crate::deadline::Deadline,
) -> std::io::Result<usize> {
    loop {
        if deadline.expired() {
            return Ok(0);
        }
        // Errors and hang-ups show up in the read that follows.
        let _ = tcp.readable(false).await;
        match buf.fill_now(std::os::fd::AsRawFd::as_raw_fd(tcp)) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn fill_now_reads_what_is_there_and_never_waits() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut buf = ReadBuf::empty();
        let err = buf.fill_now(server.as_raw_fd()).unwrap_err();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::WouldBlock,
            "nothing sent yet"
        );
        client.write_all(b"hello ").unwrap();
        client.write_all(b"world").unwrap();
        let mut got = 0;
        while got < 11 {
            match buf.fill_now(server.as_raw_fd()) {
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(buf.data(), b"hello world");
        drop(client);
        let mut closed = false;
        for _ in 0..1000 {
            match buf.fill_now(server.as_raw_fd()) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => panic!("no more bytes were sent"),
                Err(_) => std::thread::yield_now(),
            }
        }
        assert!(closed, "a closed peer reads as 0");
        assert_eq!(buf.data(), b"hello world", "earlier bytes are kept");
    }
}
