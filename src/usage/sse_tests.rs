use super::*;

fn u(prompt: u64, completion: u64, total: u64) -> Usage {
    Usage {
        prompt,
        completion,
        total,
    }
}

const ROLE: &str = r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#;
const FINISH: &str = r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#;
const USAGE: &str = r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;

fn content(text: &str) -> String {
    format!(
        r#"data: {{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{{"index":0,"delta":{{"content":"{text}"}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#
    )
}

const WORDS: [&str; 5] = ["Hello", "!", " How", " can I help", " you today?\\n\\u00e9"];
const TEXT: &str = "Hello! How can I help you today?\n\u{e9}";

/// (whole stream, the stream without its usage-only event), events ended by `eol`.
fn openai_stream(eol: &str) -> (String, String) {
    let mut events: Vec<String> = vec![ROLE.into()];
    events.extend(WORDS.iter().map(|w| content(w)));
    events.push(FINISH.into());
    let before_usage = events.len();
    events.push(USAGE.into());
    events.push("data: [DONE]".into());
    let mut all = String::new();
    let mut visible = String::new();
    for (i, e) in events.iter().enumerate() {
        let e = format!("{e}{eol}{eol}");
        all.push_str(&e);
        if i != before_usage {
            visible.push_str(&e);
        }
    }
    (all, visible)
}

/// Feeds `input` in pieces of `size` bytes, checking that every feed's output is whole
/// events (never a partial one) and returns everything written.
fn run(filter: &mut SseFilter, input: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in input.chunks(size) {
        filter.feed(piece, &mut out);
    }
    filter.finish(&mut out);
    out
}

#[test]
fn passes_openai_streams_byte_exact_in_every_split() {
    for eol in ["\n", "\r\n", "\r"] {
        let (all, visible) = openai_stream(eol);
        for size in 1..=all.len() {
            for hide in [false, true] {
                let mut f = SseFilter::new(hide);
                let out = run(&mut f, all.as_bytes(), size);
                let want = if hide { &visible } else { &all };
                assert!(
                    out == want.as_bytes(),
                    "eol {eol:?} size {size} hide {hide}:\n{}",
                    String::from_utf8_lossy(&out)
                );
                assert_eq!(f.usage(), Some(u(9, 12, 21)), "size {size}");
                assert_eq!(f.completion_text(), TEXT, "size {size}");
            }
        }
    }
}

#[test]
fn each_event_goes_out_as_soon_as_its_blank_line_arrives() {
    let (all, _) = openai_stream("\r\n");
    let mut f = SseFilter::new(false);
    let mut out = Vec::new();
    for (i, &b) in all.as_bytes().iter().enumerate() {
        f.feed(&[b], &mut out);
        // Output catches up with the input whenever an event's blank line has arrived: at its
        // CR already (a CR alone ends a line), and again with the LF.
        let done = &all.as_bytes()[..=i];
        let boundary = done.ends_with(b"\r\n\r\n") || done.ends_with(b"\r\n\r");
        if boundary {
            assert_eq!(out, done);
        } else {
            assert!(done.starts_with(&out) && out.len() < done.len());
        }
    }
}

#[test]
fn split_crlf_owes_the_lf_to_the_event() {
    // The blank line's CR ends one feed: the event is out at once, the LF follows it.
    let event = format!("{USAGE}\r\n\r\n");
    let next = "data: [DONE]\r\n\r\n";
    for hide in [false, true] {
        let mut f = SseFilter::new(hide);
        let mut out = Vec::new();
        f.feed(&event.as_bytes()[..event.len() - 1], &mut out);
        let expect_now: &[u8] = if hide {
            b""
        } else {
            &event.as_bytes()[..event.len() - 1]
        };
        assert_eq!(out, expect_now);
        f.feed(format!("\n{next}").as_bytes(), &mut out);
        let want = if hide {
            next.to_string()
        } else {
            format!("{event}{next}")
        };
        assert_eq!(out, want.as_bytes());
        assert_eq!(f.usage(), Some(u(9, 12, 21)));
    }
}

#[test]
fn usage_event_is_seen_without_hiding_when_the_client_asked() {
    let (all, _) = openai_stream("\n");
    let mut f = SseFilter::new(false);
    assert_eq!(run(&mut f, all.as_bytes(), 4096), all.as_bytes());
    assert_eq!(f.usage(), Some(u(9, 12, 21)));
}

#[test]
fn usage_on_a_chunk_with_choices_is_never_hidden() {
    // vLLM-style: usage rides on the finish chunk (choices non-empty) and on a chunk without
    // a choices key; neither is OpenAI's usage-only event.
    let s = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n",
        "data: {\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1,\"total_tokens\":5}}\n\n",
        "data: [DONE]\n\n",
    );
    let mut f = SseFilter::new(true);
    assert_eq!(run(&mut f, s.as_bytes(), 7), s.as_bytes());
    assert_eq!(f.usage(), Some(u(4, 1, 5)));
    assert_eq!(f.completion_text(), "hi");
}

#[test]
fn multi_line_data_comments_and_other_fields() {
    // The JSON is split over two data lines (joined with \n, which JSON treats as space);
    // comments, id and event fields and a `data` line without a space are all allowed.
    let usage_event = ": keep-alive\nid: 7\nevent: chunk\ndata: {\"choices\":[],\ndata:\"usage\":{\"prompt_tokens\":2,\n data-x: ignored\ndata: \"completion_tokens\":3}}\n\n";
    let content_event = "data: {\"choices\":[{\"delta\":\n: c\ndata: {\"content\":\"ok\"}}]}\n\n";
    let s = format!(": ping\n\n{content_event}{usage_event}data: [DONE]\n\n");
    for size in [1, 2, 3, 5, 64, 4096] {
        let mut f = SseFilter::new(true);
        let out = run(&mut f, s.as_bytes(), size);
        assert_eq!(out, s.replace(usage_event, "").as_bytes(), "size {size}");
        assert_eq!(f.usage(), Some(u(2, 3, 0)));
        assert_eq!(f.completion_text(), "ok");
        let mut f = SseFilter::new(false);
        assert_eq!(run(&mut f, s.as_bytes(), size), s.as_bytes());
    }
}

#[test]
fn data_line_forms() {
    let mut buf = Vec::new();
    let ev: &[u8] = b"data:a\ndata: b\r\ndata\rdatum: x\n:data: c\n\n";
    assert_eq!(event_data(ev, &mut buf), Some(&b"a\nb\n"[..]));
    let mut buf = Vec::new();
    assert_eq!(
        event_data(b"id: 1\r\ndata: {}\r\n\r\n", &mut buf),
        Some(&b"{}"[..])
    );
    assert!(buf.is_empty(), "a single data line is not copied");
    assert_eq!(event_data(b"data\ndata\n\n", &mut buf), Some(&b"\n"[..]));
    let mut buf = Vec::new();
    assert_eq!(
        event_data(b": only a comment\nevent: x\n\n", &mut buf),
        None
    );
    assert_eq!(event_data(b"", &mut buf), None);
}

#[test]
fn usage_key_scan() {
    assert!(!has_usage_object(br#"{"usage":null,"x":1}"#));
    assert!(has_usage_object(br#"{"usage" :	{"a":1}}"#));
    assert!(has_usage_object(
        br#"{"choices":[{"delta":{"content":"x"}}],"usage":{}}"#
    ));
    assert!(!has_usage_object(br#"{"text":"usage"}"#));
    assert!(!has_usage_object(br#"{"a":"usage"} {"#));
    assert!(!has_usage_object(br#"{"a":"say \"usage\":{"}"#));
    assert!(!has_usage_object(b"\"usage\""));
    assert!(!has_usage_object(b"\"usage"));
    assert!(!has_usage_object(b""));
}

#[test]
fn block_find() {
    let mut hay = vec![b'x'; 100];
    assert_eq!(find(&hay, is_eol), None);
    for at in [0, 5, 31, 32, 33, 63, 64, 95, 96, 99] {
        hay[at] = b'\r';
        assert_eq!(find(&hay, is_eol), Some(at));
        hay[at] = b'x';
    }
    assert_eq!(find(b"", is_eol), None);
}

#[test]
fn stream_that_ends_mid_event_is_flushed() {
    let (all, _) = openai_stream("\n");
    // Without its final blank line, and cut inside the usage event.
    let trimmed = all.trim_end_matches('\n');
    let cut = &all[..all.find("\"choices\":[],").unwrap_or(0) + 5];
    for input in [trimmed, cut] {
        for size in [1, 3, 100, 100_000] {
            for hide in [false, true] {
                let mut f = SseFilter::new(hide);
                let out = run(&mut f, input.as_bytes(), size);
                let want = if hide && input == trimmed {
                    // The usage event is complete and hidden; the unterminated [DONE] is flushed.
                    input.replace(&format!("{USAGE}\n\n"), "")
                } else {
                    input.to_string()
                };
                assert_eq!(out, want.as_bytes(), "size {size} hide {hide}");
            }
        }
    }
    // A usage event without its blank line is still counted, and flushed unchanged.
    let s = format!("{}\n\n{USAGE}", content("x"));
    let mut f = SseFilter::new(true);
    assert_eq!(run(&mut f, s.as_bytes(), 10), s.as_bytes());
    assert_eq!(f.usage(), Some(u(9, 12, 21)));
}

#[test]
fn oversized_event_passes_through_unparsed() {
    let big = "x".repeat(MAX_EVENT + 10);
    let huge_usage = format!(
        "data: {{\"choices\":[],\"pad\":\"{big}\",\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":1}}}}\n\n"
    );
    let s = format!(
        "{}\n\n{huge_usage}{USAGE}\n\ndata: [DONE]\n\n",
        content("a")
    );
    for size in [1000, 65536, MAX_EVENT - 1, MAX_EVENT + 1, s.len()] {
        let mut f = SseFilter::new(true);
        let mut out = Vec::new();
        let mut most_pending = 0;
        for piece in s.as_bytes().chunks(size) {
            f.feed(piece, &mut out);
            most_pending = most_pending.max(f.pending.len());
        }
        f.finish(&mut out);
        assert!(most_pending <= MAX_EVENT, "held {most_pending}");
        assert_eq!(
            out,
            s.replace(&format!("{USAGE}\n\n"), "").as_bytes(),
            "size {size}"
        );
        assert_eq!(f.usage(), Some(u(9, 12, 21)));
    }
    // An endless line is never held beyond the limit.
    let mut f = SseFilter::new(true);
    let mut out = Vec::new();
    let chunk = vec![b'a'; 300_000];
    for _ in 0..10 {
        f.feed(&chunk, &mut out);
        assert!(f.pending.len() <= MAX_EVENT);
    }
    f.finish(&mut out);
    assert_eq!(out.len(), 3_000_000);
}

#[test]
fn malformed_json_and_non_json_data_pass() {
    let s = "data: {\"usage\":{\"prompt_tokens\":1}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}} x\n\ndata: [DONE]\n\nevent: error\ndata: upstream overloaded\n\n";
    let mut f = SseFilter::new(true);
    assert_eq!(run(&mut f, s.as_bytes(), 3), s.as_bytes());
    assert_eq!(f.usage(), None);
}

#[test]
fn completion_text_is_capped_and_stops_after_usage() {
    let piece = "y".repeat(100_000);
    let mut s = String::new();
    for _ in 0..15 {
        s.push_str(&content(&piece));
        s.push_str("\n\n");
    }
    let mut f = SseFilter::new(false);
    run(&mut f, s.as_bytes(), 65536);
    assert_eq!(f.completion_text().len(), MAX_COMPLETION_TEXT);
    // Text after the usage event is not collected: usage is already known.
    let s = format!("{USAGE}\n\n{}\n\n", content("late"));
    let mut f = SseFilter::new(false);
    run(&mut f, s.as_bytes(), 7);
    assert_eq!(f.completion_text(), "");
}

#[test]
fn completions_stream_text() {
    let s = concat!(
        "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"text\":\"Once\",\"index\":0,\"finish_reason\":null}],\"model\":\"gpt-3.5-turbo-instruct\"}\n\n",
        "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"text\":\" upon\",\"index\":0,\"finish_reason\":\"length\"}],\"model\":\"gpt-3.5-turbo-instruct\"}\n\n",
        "data: [DONE]\n\n",
    );
    let mut f = SseFilter::new(true);
    assert_eq!(run(&mut f, s.as_bytes(), 9), s.as_bytes());
    assert_eq!(f.usage(), None);
    assert_eq!(f.completion_text(), "Once upon");
}

/// xorshift: deterministic noise without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_noise_never_panics_and_output_is_a_subsequence() {
    let alphabet: &[u8] = b"data: {}[]\"usage\":choices,content\r\n\n\n\r:0123456789\xff\xc3";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (stream, _) = openai_stream("\n");
    for round in 0..3000 {
        let len = (rng.next() % 600) as usize;
        let mut input: Vec<u8> = (0..len)
            .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
            .collect();
        if round % 3 == 0 {
            // Real events with noise spliced in.
            let at = (rng.next() as usize) % stream.len();
            input.splice(0..0, stream.as_bytes()[..at].iter().copied());
        }
        for hide in [false, true] {
            let mut f = SseFilter::new(hide);
            let size = 1 + (rng.next() % 50) as usize;
            let out = run(&mut f, &input, size);
            if !hide {
                assert_eq!(out, input);
            } else {
                assert!(out.len() <= input.len());
            }
        }
    }
}
