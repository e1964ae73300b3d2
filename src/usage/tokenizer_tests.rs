use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::*;

/// Loading o200k takes seconds in a debug build: the suite loads it once.
fn o200k() -> &'static CoreBPE {
    static BPE: OnceLock<CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().expect("o200k_base loads"))
}

#[test]
fn encodings_follow_tiktokens_model_table() {
    for m in [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1-2025-04-14",
        "gpt-5",
        "o3-mini",
        "o1",
    ] {
        assert_eq!(encoding_for(m), Encoding::O200k, "{m}");
    }
    for m in [
        "gpt-4",
        "gpt-4-0613",
        "gpt-3.5-turbo",
        "gpt-35-turbo-16k",
        "text-embedding-3-small",
        "ft:gpt-3.5-turbo:org:x:1",
    ] {
        assert_eq!(encoding_for(m), Encoding::Cl100k, "{m}");
    }
    // Unknown and pre-2023 models fall back to o200k.
    for m in [
        "",
        "llama-3.1-70b",
        "mistral-large-latest",
        "text-davinci-003",
        "gpt-oss-20b",
    ] {
        assert_eq!(encoding_for(m), Encoding::O200k, "{m}");
    }
}

#[test]
fn chat_prompt() {
    let body = br#"{"model":"gpt-4o","messages":[
        {"role":"system","content":"You are a helpful assistant."},
        {"role":"user","name":"ann","content":[{"type":"text","text":"What is in"},{"type":"image_url","image_url":{"url":"data:..."}},{"type":"text","text":"this image?"}]},
        {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"look","arguments":"{\"q\":1}"}}]},
        {"role":"tool","tool_call_id":"c","content":"a cat"}],
        "prompt":"ignored when there are messages"}"#;
    let p = prompt_from_request(body);
    assert_eq!(
        p.text,
        "You are a helpful assistant.\nWhat is in\nthis image?\nann\nlook\n{\"q\":1}\na cat"
    );
    assert_eq!(
        p.overhead,
        4 * TOKENS_PER_MESSAGE + TOKENS_PER_NAME + REPLY_PRIMING
    );
    assert_eq!(UsageParser::new().prompt(body).text, p.text);
}

#[test]
fn completion_and_embedding_prompts() {
    let p = prompt_from_request(br#"{"model":"x","prompt":"Say this is a test"}"#);
    assert_eq!(
        p,
        Prompt {
            text: "Say this is a test".into(),
            overhead: 0
        }
    );
    let p = prompt_from_request(br#"{"prompt":["one","two"],"model":"x"}"#);
    assert_eq!(p.text, "one\ntwo");
    // Token-id prompts count one token per id.
    let p = prompt_from_request(br#"{"prompt":[1,2,3]}"#);
    assert_eq!(
        p,
        Prompt {
            text: String::new(),
            overhead: 3
        }
    );
    let p = prompt_from_request(br#"{"input":[[1,2],[3,4,5],"text"]}"#);
    assert_eq!(
        p,
        Prompt {
            text: "text".into(),
            overhead: 5
        }
    );
    let p = prompt_from_request(
        br#"{"input":"The food was delicious","model":"text-embedding-3-small"}"#,
    );
    assert_eq!(p.text, "The food was delicious");
}

#[test]
fn malformed_requests_give_an_empty_prompt() {
    for body in [
        &b""[..],
        b"{",
        b"[]",
        b"null",
        b"{\"messages\":\"hi\"}",
        b"{\"messages\":[{\"content\":\"x\"}]",
        b"{\"prompt\":{\"a\":1}}",
        b"{\"input\":null}",
    ] {
        let p = prompt_from_request(body);
        assert!(p.text.is_empty(), "{:?}", String::from_utf8_lossy(body));
    }
    // An empty messages array still frames the reply.
    assert_eq!(
        prompt_from_request(br#"{"messages":[]}"#).overhead,
        REPLY_PRIMING
    );
}

#[test]
fn pieces_cut_only_between_words() {
    assert_eq!(piece_end("short"), 5);
    let text = "word ".repeat(2000);
    let cut = piece_end(&text);
    assert!(cut <= PIECE && text.as_bytes()[cut] == b' ' && cut > PIECE - 10);
    // No cut point: a character boundary within the limit.
    let text = "é".repeat(PIECE);
    let cut = piece_end(&text);
    assert!(text.is_char_boundary(cut) && (PIECE - 1..=PIECE).contains(&cut));
}

/// The one test that loads o200k in this process (the handle test loads cl100k).
#[test]
fn counts_with_o200k() {
    let bpe = o200k();
    assert_eq!(count(bpe, ""), 0);
    assert_eq!(count(bpe, "hello world"), 2);
    assert_eq!(
        count(bpe, "<|endoftext|>"),
        bpe.encode_ordinary("<|endoftext|>").len() as u64
    );
    // Cutting long text into pieces does not change ordinary text's count.
    let mut text = String::new();
    let mut i = 0u32;
    while text.len() < 5 * PIECE {
        text.push_str(
            [
                "The quick brown fox ",
                "jumps over 12345 lazy dogs. ",
                "Ünïcödé wörds, ",
                "and\nnew lines\n\n  ",
            ][(i % 4) as usize],
        );
        i += 1;
    }
    assert_eq!(count(bpe, &text), bpe.encode_ordinary(&text).len() as u64);
    // A megabyte without spaces (one regex piece) is cut into pieces and still counted, in
    // time linear in its length: 16 times the text may take 16 times as long, not 256 (the
    // ratio of two timings in one run, best of three each, with 4x slack for noise).
    let best = |len: usize| {
        let text = "a".repeat(len);
        (0..3)
            .map(|_| {
                let started = Instant::now();
                assert!(count(bpe, &text) > 0);
                started.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let (small, large) = (best(1 << 16), best(1 << 20));
    assert!(
        large.as_secs_f64() < 64.0 * small.as_secs_f64().max(1e-6),
        "64 KiB: {small:?}, 1 MiB: {large:?}"
    );
}

#[test]
fn handle_counts_in_the_background_and_never_blocks() {
    let (tx, rx) = crossbeam::channel::unbounded();
    let handle = TokenizerHandle::spawn(tx).expect("spawn");
    let job = |target: usize| CountJob {
        key: crate::config::test_key(&format!("p|{target}")),
        costs: (0.0, 0.0),
        model: "gpt-4".into(), // cl100k: quicker to load than o200k
        prompt_text: "hello world".into(),
        prompt_overhead: 9,
        consumer: None,
        completion_text: "hello world".into(),
        then: None,
    };
    // The first job's continuation holds the tokenizer thread until every submission is made,
    // so the queue is full and `submit` must refuse rather than wait (a blocking submit would
    // hang here, never releasing the thread).
    let (release, hold) = crossbeam::channel::bounded::<()>(1);
    let mut first = job(0);
    first.then = Some(Box::new(move |_| {
        let _ = hold.recv_timeout(Duration::from_secs(120));
    }));
    assert!(handle.submit(first).is_ok(), "the first job is queued");
    let accepted: Vec<usize> = std::iter::once(0)
        .chain((1..QUEUE_CAPACITY * 3).filter(|&t| handle.submit(job(t)).is_ok()))
        .collect();
    release.send(()).expect("the tokenizer thread waits");
    // The held job plus at most a full queue were taken; the rest were refused.
    assert!(
        (QUEUE_CAPACITY..=QUEUE_CAPACITY + 1).contains(&accepted.len()),
        "{} accepted",
        accepted.len()
    );
    for i in accepted {
        let c = rx.recv_timeout(Duration::from_secs(120)).expect("counted");
        assert_eq!(c.key.model, format!("p|{i}"));
        assert_eq!(
            c.usage,
            Usage {
                prompt: 11,
                completion: 2,
                total: 13
            }
        );
    }
    // The thread ends with the last handle.
    drop(handle);
    assert!(rx.recv_timeout(Duration::from_secs(10)).is_err());
}

#[test]
fn a_jobs_continuation_runs_with_its_count_on_the_tokenizer_thread() {
    let (tx, rx) = crossbeam::channel::unbounded();
    let handle = TokenizerHandle::spawn(tx).expect("spawn");
    let (done_tx, done_rx) = crossbeam::channel::bounded(1);
    let job = CountJob {
        key: crate::config::test_key("p|0"),
        costs: (0.0, 0.0),
        model: "gpt-4".into(),
        prompt_text: "hello world".into(),
        prompt_overhead: 9,
        consumer: None,
        completion_text: "hello world".into(),
        then: Some(Box::new(move |usage| {
            let _ = done_tx.send((usage, std::thread::current().name().map(str::to_owned)));
        })),
    };
    assert!(handle.submit(job).is_ok());
    let (usage, thread) = done_rx.recv_timeout(Duration::from_secs(120)).expect("ran");
    assert_eq!(
        usage,
        Some(Usage {
            prompt: 11,
            completion: 2,
            total: 13
        })
    );
    assert_eq!(thread.as_deref(), Some("llmux-tokenizer"));
    assert!(
        rx.recv_timeout(Duration::from_secs(120)).is_ok(),
        "still counted for the merger"
    );
}
