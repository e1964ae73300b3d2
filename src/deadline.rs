//! Socket deadlines checked by one timer per worker, instead of a timeout future per read.
//!
//! A monoio `Timeout` wraps every operation in a timer entry: about 640 bytes of future (its
//! entry is cache-padded to 128 bytes, twice), a timer-wheel insert and remove, and a clock
//! read, per read and per write. A proxy reads and writes several times per request, and a
//! connection's task carries the space of all of them for its whole life.
//!
//! Here a socket registers once ([`Deadline::register`]); an operation arms its deadline
//! (`arm`: a store into this worker's table) and disarms it afterwards. One ticker per runtime
//! ([`run_ticker`]) wakes every [`TICK`], refreshes the cached clock, and shuts down the read
//! side (or both sides) of every socket whose deadline has passed: the pending read then ends
//! at once (EOF), the caller sees [`Deadline::expired`] and reports a timeout. A socket that
//! timed out is never read again, so nothing an abandoned read may have moved is misread.
//! The same ticker wakes [`Nudge`] futures whose time has come (the proxy's "the provider is
//! slow: start watching the client").
//!
//! Deadlines fire between their timeout and one tick later, never early: arming adds a tick to
//! the cached clock, which may lag real time by up to a tick. Everything here is per thread
//! (each worker has its own table), so nothing is shared between cores.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often the ticker checks deadlines: the resolution of every socket timeout.
pub const TICK: Duration = Duration::from_millis(10);

/// What an expired deadline shuts down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExpiry {
    /// The read side only: the caller can still write its answer (a client's 408).
    Read,
    /// Both sides: a pending write ends too (a provider connection, dropped afterwards).
    Both,
}

struct Slot {
    fd: RawFd,
    on_expiry: OnExpiry,
    deadline: Option<Instant>,
    expired: bool,
    nudge_at: Option<Instant>,
    nudged: bool,
    waker: Option<Waker>,
}

#[derive(Default)]
struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Slots with a deadline or nudge armed (the ticker skips its scan when there are none).
    armed: usize,
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
    // The ticker's view of now; `Instant::now` costs a clock read, this a thread-local load.
    static NOW: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// This thread's clock as of its last tick (a real reading when no ticker runs).
pub fn now() -> Instant {
    NOW.with(|n| match n.get() {
        Some(t) => t,
        None => Instant::now(),
    })
}

/// A socket's entry in this thread's deadline table. Drop it before closing the socket.
#[derive(Debug)]
pub struct Deadline {
    slot: u32,
}

impl Deadline {
    pub fn register(fd: RawFd, on_expiry: OnExpiry) -> Deadline {
        let slot = TABLE.with(|t| {
            let mut t = t.borrow_mut();
            let entry = Some(Slot {
                fd,
                on_expiry,
                deadline: None,
                expired: false,
                nudge_at: None,
                nudged: false,
                waker: None,
            });
            match t.free.pop() {
                Some(i) => {
                    t.slots[i as usize] = entry;
                    i
                }
                None => {
                    t.slots.push(entry);
                    u32::try_from(t.slots.len() - 1).unwrap_or(u32::MAX)
                }
            }
        });
        Deadline { slot }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Slot, &mut usize) -> R) -> Option<R> {
        TABLE.with(|t| {
            let mut t = t.borrow_mut();
            let Table { slots, armed, .. } = &mut *t;
            slots
                .get_mut(self.slot as usize)
                .and_then(Option::as_mut)
                .map(|s| f(s, armed))
        })
    }

    /// Expire `after` from now (at most one tick later), unless disarmed first.
    pub fn arm(&self, after: Duration) {
        let at = now() + after + TICK;
        self.with(|s, armed| {
            if s.deadline.is_none() && s.nudge_at.is_none() {
                *armed += 1;
            }
            s.deadline = Some(at);
        });
    }

    pub fn disarm(&self) {
        self.with(|s, armed| {
            if s.deadline.take().is_some() && s.nudge_at.is_none() {
                *armed -= 1;
            }
        });
    }

    /// The deadline passed and the socket was shut down: it must not be used again.
    pub fn expired(&self) -> bool {
        self.with(|s, _| s.expired).unwrap_or(false)
    }

    /// A future that completes `after` from now (within a tick), driven by the ticker rather
    /// than a timer entry of its own.
    pub fn nudge(&self, after: Duration) -> Nudge<'_> {
        let at = now() + after;
        self.with(|s, armed| {
            if s.deadline.is_none() && s.nudge_at.is_none() {
                *armed += 1;
            }
            s.nudge_at = Some(at);
            s.nudged = false;
        });
        Nudge { deadline: self }
    }

    fn clear_nudge(&self) {
        self.with(|s, armed| {
            if s.nudge_at.take().is_some() && s.deadline.is_none() {
                *armed -= 1;
            }
            s.nudged = false;
            s.waker = None;
        });
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        TABLE.with(|t| {
            let mut t = t.borrow_mut();
            if let Some(slot) = t.slots.get_mut(self.slot as usize).and_then(Option::take) {
                if slot.deadline.is_some() || slot.nudge_at.is_some() {
                    t.armed -= 1;
                }
                t.free.push(self.slot);
            }
        });
    }
}

/// See [`Deadline::nudge`]. Dropping it cancels the nudge.
pub struct Nudge<'a> {
    deadline: &'a Deadline,
}

impl Future for Nudge<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let done = self
            .deadline
            .with(|s, _| {
                if s.nudged {
                    true
                } else {
                    match &s.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => s.waker = Some(cx.waker().clone()),
                    }
                    false
                }
            })
            .unwrap_or(true);
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Nudge<'_> {
    fn drop(&mut self) {
        self.deadline.clear_nudge();
    }
}

/// Refreshes the clock and fires every deadline and nudge that is due. Runs on the ticker.
pub fn tick() {
    let now = Instant::now();
    NOW.with(|n| n.set(Some(now)));
    let mut wake: Vec<Waker> = Vec::new();
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if t.armed == 0 {
            return;
        }
        let Table { slots, armed, .. } = &mut *t;
        for s in slots.iter_mut().flatten() {
            if s.deadline.is_some_and(|d| now >= d) {
                s.deadline = None;
                s.expired = true;
                let how = match s.on_expiry {
                    OnExpiry::Read => libc::SHUT_RD,
                    OnExpiry::Both => libc::SHUT_RDWR,
                };
                // SAFETY: `fd` belongs to a socket whose owner registered it and drops the
                // registration before the socket (both on this thread), so it is open here.
                // shutdown(2) only changes the socket's state; an error (already shut down,
                // not connected) leaves nothing to undo.
                unsafe {
                    libc::shutdown(s.fd, how);
                }
                if s.nudge_at.is_none() {
                    *armed -= 1;
                }
            }
            if s.nudge_at.is_some_and(|at| now >= at) {
                s.nudge_at = None;
                s.nudged = true;
                if s.deadline.is_none() {
                    *armed -= 1;
                }
                if let Some(w) = s.waker.take() {
                    wake.push(w);
                }
            }
        }
    });
    // Woken outside the borrow: a woken task may run (and touch the table) at once.
    for w in wake {
        w.wake();
    }
}

/// Ticks forever, every [`TICK`]: spawn one per runtime whose sockets use deadlines.
pub async fn run_ticker() {
    loop {
        tick();
        monoio::time::sleep(TICK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn an_expired_deadline_ends_a_blocked_read_and_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        use std::os::fd::AsRawFd;
        let d = Deadline::register(server.as_raw_fd(), OnExpiry::Read);
        d.arm(Duration::from_millis(0));
        assert!(!d.expired());
        std::thread::sleep(2 * TICK);
        tick();
        assert!(d.expired());
        let mut buf = [0u8; 8];
        // The read side is shut: a read returns EOF at once instead of blocking.
        assert_eq!(server.read(&mut buf).unwrap(), 0);
        // The write side still works (a 408 can be sent).
        server.write_all(b"408").unwrap();
        let mut got = [0u8; 3];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"408");
        drop(d);
        tick();
    }

    #[test]
    fn disarmed_deadlines_never_fire_and_slots_are_reused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        use std::os::fd::AsRawFd;
        let a = Deadline::register(server.as_raw_fd(), OnExpiry::Both);
        a.arm(Duration::from_millis(0));
        a.disarm();
        std::thread::sleep(2 * TICK);
        tick();
        assert!(!a.expired());
        let slot = a.slot;
        drop(a);
        let b = Deadline::register(server.as_raw_fd(), OnExpiry::Both);
        assert_eq!(
            b.slot, slot,
            "a freed slot is reused: no growth per connection"
        );
        TABLE.with(|t| assert_eq!(t.borrow().armed, 0));
    }

    #[test]
    fn a_nudge_completes_once_its_time_has_come() {
        let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            monoio::spawn(run_ticker());
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let _c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            use std::os::fd::AsRawFd;
            let d = Deadline::register(server.as_raw_fd(), OnExpiry::Read);
            let started = Instant::now();
            d.nudge(Duration::from_millis(30)).await;
            assert!(started.elapsed() >= Duration::from_millis(20));
            TABLE.with(|t| assert_eq!(t.borrow().armed, 0));
        });
    }
}
