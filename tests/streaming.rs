//! SSE passthrough: each event reaches the client when the provider sends it, not at the end.

mod support;
use std::time::Duration;
use support::*;

const STREAM: &str =
    r#"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn gateway(upstream: &RecordingUpstream, extra: &str) -> Gateway {
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        extra,
    );
    Gateway::start(&yaml)
}

#[test]
fn events_arrive_one_by_one_as_the_provider_sends_them() {
    let gap = Duration::from_millis(150);
    let upstream = RecordingUpstream::start(move |_| {
        Reply::openai_sse("gpt-4o-mini", &["one", "two", "three", "four"], gap, None)
    });
    let gw = gateway(&upstream, "");
    let mut conn = ResponseReader::connect(gw.addr());
    conn.send(&build_post(gw.addr(), "/v1/chat/completions", STREAM, &[]));
    let (r, chunks) = conn.read_response_timed();
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    assert_eq!(r.header("X-Kong-LLM-Model"), Some("openai/gpt-4o-mini"));
    let events = sse_events(&chunks);
    let data: Vec<String> = events.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(data.len(), 7, "{data:?}");
    assert!(data.last().unwrap().contains("[DONE]"));
    // The four content events were sent `gap` apart; had llmux batched them, they would arrive
    // together. Each must arrive at least most of a gap after the previous one.
    let content: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.contains("\"delta\":{\"content\":"))
        .collect();
    assert_eq!(content.len(), 4);
    for pair in content.windows(2) {
        let apart = pair[1].0.duration_since(pair[0].0);
        assert!(
            apart >= gap / 2,
            "events arrived {apart:?} apart, expected about {gap:?}"
        );
    }
    // And the body the client got is exactly what the provider sent.
    let sent = upstream.wait_for_requests(1, WAIT);
    assert!(sent[0].body_str().contains("\"stream\":true"));
}

#[test]
fn a_stream_cut_mid_way_ends_the_client_response_without_a_terminator() {
    let upstream = RecordingUpstream::start(|_| {
        Reply::openai_sse("gpt-4o-mini", &["partial"], Duration::from_millis(10), None).cut()
    });
    let gw = gateway(&upstream, "");
    let mut conn = ResponseReader::connect(gw.addr());
    conn.send(&build_post(gw.addr(), "/v1/chat/completions", STREAM, &[]));
    let (r, _) = conn.read_response_allow_truncated();
    assert_eq!(r.status, 200);
    assert!(r.truncated, "the client must see the cut: {}", r.body_str());
    assert!(r.body_str().contains("partial"));
    assert!(
        conn.is_closed(),
        "the connection is closed after a cut stream"
    );
}

#[test]
fn response_streaming_always_turns_streaming_on() {
    let upstream = RecordingUpstream::start(|_| {
        Reply::openai_sse("gpt-4o-mini", &["x"], Duration::ZERO, None)
    });
    let gw = gateway(&upstream, "      response_streaming: always\n");
    let body = r#"{"model":"fast","stream":false,"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post_json(gw.addr(), "/", body, &[]);
    assert_eq!(r.status, 200);
    let seen = upstream.wait_for_requests(1, WAIT);
    assert_eq!(
        seen[0].body_str(),
        r#"{"stream_options":{"include_usage":true},"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
    );
}

#[test]
fn usage_event_is_requested_and_hidden_unless_the_client_asked_for_it() {
    let upstream = RecordingUpstream::start(|req| {
        // Like OpenAI: the usage-only event comes only when the request asks for it.
        let asked = req.body_str().contains(r#""include_usage":true"#);
        let usage = asked.then_some((11, 3));
        Reply::openai_sse("gpt-4o-mini", &["a", "b", "c"], Duration::ZERO, usage)
    });
    let gw = gateway(&upstream, "");

    // The client did not ask: llmux asks upstream, counts, and hides the event.
    let r = post_json(gw.addr(), "/", STREAM, &[]);
    assert_eq!(r.status, 200);
    let seen = upstream.wait_for_requests(1, WAIT);
    assert!(
        seen[0]
            .body_str()
            .starts_with(r#"{"stream_options":{"include_usage":true},"#),
        "{}",
        seen[0].body_str()
    );
    let data = r.sse_data();
    assert!(
        data.iter().all(|d| !d.contains("\"choices\":[]")),
        "usage event leaked: {data:?}"
    );
    assert!(
        data.iter().all(|d| !d.contains("\"prompt_tokens\"")),
        "{data:?}"
    );
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));

    // The client asked: it gets the event, byte for byte as the provider sent it.
    let asked = r#"{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post_json(gw.addr(), "/", asked, &[]);
    let seen = upstream.wait_for_requests(2, WAIT);
    assert_eq!(
        seen[1].body_str(),
        asked.replace("\"fast\"", "\"gpt-4o-mini\"")
    );
    let data = r.sse_data();
    assert!(
        data.iter()
            .any(|d| d.contains("\"choices\":[]") && d.contains("\"prompt_tokens\":11")),
        "{data:?}"
    );
}
