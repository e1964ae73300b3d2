//! What the provider receives: the client's body byte for byte, except the model value.

mod support;
use support::*;

fn setup() -> (RecordingUpstream, Gateway) {
    let upstream = RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "ok", 1, 1));
    let yaml = plugin_yaml(
        &[T::new(
            "fast",
            "gpt-4o-mini",
            upstream.url("/v1/chat/completions"),
        )],
        "",
    );
    (upstream, Gateway::start(&yaml))
}

/// Sends `body` and returns what the upstream got.
fn forwarded(upstream: &RecordingUpstream, gw: &Gateway, body: &str) -> Vec<u8> {
    let before = upstream.request_count();
    let r = post_json(gw.addr(), "/v1/chat/completions", body, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let seen = upstream.wait_for_requests(before + 1, WAIT);
    let got = seen[before].clone();
    assert_eq!(
        got.header("Content-Length")
            .and_then(|v| v.parse::<usize>().ok()),
        Some(got.body.len()),
        "Content-Length matches the rewritten body"
    );
    got.body
}

#[test]
fn only_the_model_value_changes() {
    let (upstream, gw) = setup();
    let cases = [
        // escapes in other strings, unicode, a nested "model" key, odd whitespace
        r#"{"model":"fast","messages":[{"role":"user","content":"say \"hi\"\\n\u00e9 \ud83d\ude00 日本語 ✓"}]}"#,
        r#"{ "messages" : [ {"role":"user","content":"x","model":"nested-not-this"} ] ,
            "metadata": {"model": "also-not-this"}, "model" :	"fast" , "user":"u1" }"#,
        r#"{"messages":[{"role":"user","content":"the key \"model\":\"fast\" in text"}],"model":"fast"}"#,
    ];
    for body in cases {
        let got = forwarded(&upstream, &gw, body);
        let expected = body.replacen("\"fast\"", "\"gpt-4o-mini\"", 1);
        // The third case has "fast" inside a string first; the real value is the last one.
        let expected = if body.contains("in text") {
            body.replace(r#""model":"fast"}"#, r#""model":"gpt-4o-mini"}"#)
        } else {
            expected
        };
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }
}

#[test]
fn an_escaped_alias_is_matched_by_its_value_and_replaced_whole() {
    let (upstream, gw) = setup();
    // "f\u0061st" is "fast" once unescaped.
    let body = r#"{"model":"f\u0061st","messages":[{"role":"user","content":"hi"}]}"#;
    let got = forwarded(&upstream, &gw, body);
    assert_eq!(
        String::from_utf8_lossy(&got),
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#
    );
}

#[test]
fn model_first_and_last_in_a_100_kb_body() {
    let (upstream, gw) = setup();
    let filler: String = (0..2000)
        .map(|i| format!(r#"{{"role":"user","content":"message {i} with some text é"}},"#))
        .collect();
    let messages = format!("[{}{{\"role\":\"user\",\"content\":\"end\"}}]", filler);
    assert!(messages.len() > 100_000);
    let first = format!(r#"{{"model":"fast","messages":{messages}}}"#);
    let last = format!(r#"{{"messages":{messages},"model":"fast"}}"#);
    for body in [first, last] {
        let got = forwarded(&upstream, &gw, &body);
        assert_eq!(
            got,
            body.replace(r#""model":"fast""#, r#""model":"gpt-4o-mini""#)
                .into_bytes()
        );
    }
}
