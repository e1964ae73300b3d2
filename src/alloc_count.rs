//! A counting global allocator for the unit-test binary: how many heap allocations the current
//! thread has made. The per-request allocation test (`server::alloc_tests`) runs a worker's
//! event loop on the test thread and compares counts before and after a batch of requests: a
//! count, not a time, so it means the same on a loaded machine.
//!
//! Only compiled into `cargo test`'s library test binary; the llmux binary uses the system
//! allocator unchanged.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates and works even
    // while the thread is being torn down.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    // Bytes allocated minus bytes freed by this thread (frees of other threads' memory count
    // where they happen).
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

/// Heap bytes this thread allocated and has not freed, so far.
pub(crate) fn live_bytes_on_this_thread() -> i64 {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

fn track(delta: i64) {
    let _ = LIVE.try_with(|c| c.set(c.get() + delta));
}

/// Heap allocations (and reallocations) made by this thread so far.
pub(crate) fn on_this_thread() -> u64 {
    ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold; the only addition is a thread-local counter update, which neither allocates
// nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        track(layout.size() as i64);
        // SAFETY: forwarded as received; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        track(layout.size() as i64);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as i64));
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        track(new_size as i64 - layout.size() as i64);
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_threads_allocations_only() {
        let before = on_this_thread();
        let v: Vec<u64> = Vec::with_capacity(16);
        let mut s = String::with_capacity(4);
        s.push_str("longer than four bytes"); // a realloc
        assert_eq!(
            on_this_thread() - before,
            3,
            "two allocations and one reallocation"
        );
        let other = std::thread::spawn(|| {
            let _v: Vec<u8> = Vec::with_capacity(64);
        });
        other.join().unwrap();
        // Spawning allocated on this thread, but the spawned thread's Vec did not count here.
        let after_spawn = on_this_thread();
        let _w: Vec<u8> = Vec::new(); // no allocation for an empty Vec
        assert_eq!(on_this_thread(), after_spawn);
        drop((v, s));
    }
}
