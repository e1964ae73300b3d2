//! Request body: `BodyScanner::scan` (one reused scanner, as each worker keeps one) and
//! `SplicedBody::build` + `write_to` for a model replacement with two inserted members.

#[path = "common.rs"]
mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use llmux::body::{BodyScanner, SplicedBody};

const SIZES: [(&str, usize); 3] = [("1KB", 1 << 10), ("100KB", 100 << 10), ("1MB", 1 << 20)];

const LINES: [&str; 6] = [
    "Can you review this function and tell me why it is slow?",
    "Sure. The loop allocates a new String on every iteration; hoist it out and reuse it.\\n\\nAlso, `collect::<Vec<_>>()` then `.len()` walks the data twice.",
    "Here is the stack trace:\\n  at parse (src/parse.rs:42)\\n  at main (src/main.rs:7)",
    "The error says \\\"expected `;`\\\": a statement on line 41 is missing its terminator.",
    "Résumé of the meeting: 会议记录 — ship on Friday 🚀, tests first.",
    "Thanks! What about the memory use when the input is 2 GB?",
];

/// A `messages` array of about `size` bytes: a system prompt, then user/assistant turns.
fn messages(size: usize) -> String {
    let mut s = String::from(
        r#"[{"role":"system","content":"You are a helpful coding assistant. Answer concisely."}"#,
    );
    let mut i = 0;
    while s.len() + 200 < size {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        let text = LINES[i % LINES.len()];
        s.push_str(&format!(r#",{{"role":"{role}","content":"{text}"}}"#));
        i += 1;
    }
    s.push(']');
    s
}

/// A chat request of about `size` bytes with `model` as the first or the last member. It has
/// no `max_tokens` or `temperature`, so the splice bench may insert them.
fn body(size: usize, model_first: bool) -> Vec<u8> {
    let msgs = messages(size);
    let body = if model_first {
        format!(r#"{{"model":"gpt-4o","messages":{msgs},"stream":true,"user":"u-1"}}"#)
    } else {
        format!(r#"{{"messages":{msgs},"stream":true,"user":"u-1","model":"gpt-4o"}}"#)
    };
    body.into_bytes()
}

fn scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("body/scan");
    let mut scanner = BodyScanner::new();
    for (label, size) in SIZES {
        for (position, first) in [("model_first", true), ("model_last", false)] {
            let body = body(size, first);
            assert_eq!(scanner.scan(&body).unwrap().model.unwrap().value, "gpt-4o");
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_with_input(BenchmarkId::new(position, label), &body, |b, body| {
                b.iter(|| scanner.scan(black_box(body)).unwrap())
            });
        }
    }
    group.finish();
}

fn splice(c: &mut Criterion) {
    let mut group = c.benchmark_group("body/splice");
    let inserts = [("max_tokens", "1024"), ("temperature", "0.7")];
    let mut out = Vec::new();
    for (label, size) in SIZES {
        let body = body(size, true);
        let facts = BodyScanner::new().scan(&body).unwrap();
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("build+write_to", label),
            &body,
            |b, body| {
                b.iter(|| {
                    let s = SplicedBody::build(
                        body.len(),
                        black_box(&facts),
                        Some("gpt-4o-2024-08-06"),
                        &inserts,
                    );
                    out.clear();
                    s.write_to(black_box(body), &mut out);
                    black_box(out.len())
                })
            },
        );
    }
    group.finish();
}

criterion_group! { name = benches; config = common::config(); targets = scan, splice }
criterion_main!(benches);
