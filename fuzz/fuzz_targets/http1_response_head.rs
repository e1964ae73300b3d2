//! `ResponseHead::parse` on arbitrary bytes (an upstream can send anything), plus every
//! accessor of a parsed head (the relay writes `reason()` and the headers to the client).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmux::http1::{Framing, ResponseHead};

fuzz_target!(|data: &[u8]| {
    for request_was_head in [false, true] {
        match ResponseHead::parse(data, request_was_head) {
            Ok(Some((head, used))) => {
                assert!(used <= data.len());
                assert_eq!(head.raw, &data[..used]);
                let _ = head.reason();
                for h in &head.headers {
                    let name = String::from_utf8_lossy(head.header_name(h)).into_owned();
                    let _ = head.header_value(h);
                    assert!(head.header(&name).is_some());
                }
                if request_was_head {
                    assert_eq!(head.framing, Framing::Empty);
                }
                if head.framing == Framing::UntilClose {
                    assert!(!head.keep_alive);
                }
            }
            Ok(None) => {}
            Err(e) => assert!(!e.is_empty()),
        }
    }
});
