//! `RequestHead::parse` on arbitrary bytes, every accessor of a parsed head, and the chunked
//! decoder's split invariance (one feed vs. two feeds split at an input-chosen byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmux::http1::{ChunkError, ChunkedDecoder, Framing, Limits, RequestHead};

/// What a whole decode produced: body bytes, input bytes consumed (0 after an error), done, and
/// the error if any.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    body: Vec<u8>,
    consumed: usize,
    done: bool,
    err: Option<ChunkError>,
}

/// Decodes `wire` in as many feeds as `cuts` says, the way the server and relay do: the caller
/// keeps the unconsumed bytes and appends what arrives next.
fn decode(wire: &[u8], cuts: &[usize]) -> Decoded {
    let mut dec = ChunkedDecoder::new();
    let mut out = Decoded {
        body: Vec::new(),
        consumed: 0,
        done: false,
        err: None,
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[from..to]);
        from = to;
        let body = &mut out.body;
        match dec.decode(&buf, |d| {
            assert!(!d.is_empty(), "decoder handed out an empty data piece");
            body.extend_from_slice(d);
        }) {
            Ok(p) => {
                assert!(p.consumed <= buf.len());
                assert_eq!(p.done, dec.is_done());
                out.consumed += p.consumed;
                buf.drain(..p.consumed);
                if p.done {
                    out.done = true;
                    break;
                }
            }
            Err(e) => {
                // After an error the caller drops the connection: how much was consumed
                // before it is not meaningful (and differs by how many feeds came before).
                out.consumed = 0;
                out.err = Some(e);
                break;
            }
        }
    }
    out
}

fn check_chunked(wire: &[u8], split: usize) {
    let whole = decode(wire, &[]);
    let two = decode(wire, &[split]);
    assert_eq!(whole, two, "chunked decoding differs when split at {split}");
    assert!(whole.consumed <= wire.len());
    assert!(whole.body.len() <= wire.len());
}

fuzz_target!(|data: &[u8]| {
    match RequestHead::parse(data, &Limits::default()) {
        Ok(Some((head, used))) => {
            assert!(used <= data.len());
            assert_eq!(head.raw, &data[..used]);
            let method = head.method();
            let target = head.target();
            let path = head.path();
            assert!(target.starts_with(path));
            assert!(!method.is_empty());
            for h in &head.headers {
                let name = head.header_name(h);
                let _ = head.header_value(h);
                let name = String::from_utf8_lossy(name);
                assert!(head.header(&name).is_some());
            }
            let _ = head.header("content-length");
            let _ = head.header("host");
            if head.framing == Framing::Chunked {
                // The body that follows a chunked head, as the server reads it.
                let rest = &data[used..];
                let split = rest.first().map_or(0, |b| *b as usize % (rest.len() + 1));
                check_chunked(rest, split);
            }
        }
        Ok(None) => assert!(data.len() <= Limits::default().max_head_bytes),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // The whole input as a chunked body, split at a position taken from its last byte.
    let split = data.last().map_or(0, |b| *b as usize * 31 % (data.len() + 1));
    check_chunked(data, split);
});
