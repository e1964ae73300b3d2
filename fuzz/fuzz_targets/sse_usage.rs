//! `SseFilter` on an arbitrary upstream stream. Input layout: byte 0 bit 0 = hide the
//! usage-only event; bytes 1..3 = split position (little-endian u16, modulo the stream length);
//! the rest is the stream, fed in two pieces.
//!
//! Checked: hide=false relays byte-exact; hide=true drops whole bytes only (the output is a
//! subsequence of the input, never longer); both are the same for one feed and two feeds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmux::usage::SseFilter;

fn run(hide: bool, stream: &[u8], split: Option<usize>) -> (Vec<u8>, Option<(u64, u64, u64)>, String) {
    let mut f = SseFilter::new(hide);
    let mut out = Vec::new();
    match split {
        Some(at) => {
            f.feed(&stream[..at], &mut out);
            f.feed(&stream[at..], &mut out);
        }
        None => f.feed(stream, &mut out),
    }
    f.finish(&mut out);
    let usage = f.usage().map(|u| (u.prompt, u.completion, u.total));
    (out, usage, f.completion_text().to_owned())
}

fn is_subsequence(small: &[u8], big: &[u8]) -> bool {
    let mut it = big.iter();
    small.iter().all(|b| it.any(|c| c == b))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let hide = data[0] & 1 == 1;
    let stream = &data[3..];
    let split = u16::from_le_bytes([data[1], data[2]]) as usize % (stream.len() + 1);

    let whole = run(hide, stream, None);
    let two = run(hide, stream, Some(split));
    if hide {
        assert!(whole.0.len() <= stream.len());
        assert!(is_subsequence(&whole.0, stream), "hidden output is not a subsequence");
    } else {
        assert_eq!(whole.0, stream, "passthrough is not byte-exact");
    }
    assert_eq!(whole, two, "one feed and two feeds (split at {split}) differ");
});
