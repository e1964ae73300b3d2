use super::*;

fn u(prompt: u64, completion: u64, total: u64) -> Usage {
    Usage {
        prompt,
        completion,
        total,
    }
}

const CHAT: &str = r#"{
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "gpt-4.1-2025-04-14",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": "Hello! How can I assist you today?",
        "refusal": null,
        "annotations": []
      },
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "service_tier": "default"
}"#;

#[test]
fn chat_completion() {
    assert_eq!(usage_from_json(CHAT.as_bytes()), Some(u(19, 10, 29)));
    assert_eq!(
        completion_text_from_json(CHAT.as_bytes()).as_deref(),
        Some("Hello! How can I assist you today?")
    );
}

#[test]
fn text_completion() {
    let body = r#"{"id":"cmpl-1","object":"text_completion","created":1,"model":"gpt-3.5-turbo-instruct",
        "choices":[{"text":"\n\nThis is indeed a test","index":0,"logprobs":null,"finish_reason":"length"},
                   {"text":" and another","index":1}],
        "usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#;
    assert_eq!(usage_from_json(body.as_bytes()), Some(u(5, 7, 12)));
    assert_eq!(
        completion_text_from_json(body.as_bytes()).as_deref(),
        Some("\n\nThis is indeed a test and another")
    );
}

#[test]
fn embeddings_have_no_completion() {
    let body = r#"{"object":"list","data":[{"object":"embedding","embedding":[0.0023064255,-0.009327292,-0.0028842222],"index":0}],
        "model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}"#;
    let got = usage_from_json(body.as_bytes());
    assert_eq!(got, Some(u(8, 0, 8)));
    assert_eq!(got.map(|u| u.total_tokens()), Some(8));
    assert_eq!(completion_text_from_json(body.as_bytes()), None);
}

#[test]
fn usage_missing_null_or_not_an_object() {
    for body in [
        r#"{"choices":[]}"#,
        r#"{"choices":[],"usage":null}"#,
        r#"{"usage":[1,2,3]}"#,
        r#"{"usage":"19"}"#,
        r#"{"usage":{}}"#,
        r#"{"usage":{"prompt_tokens":"19","completion_tokens":null,"cached":3}}"#,
    ] {
        assert_eq!(usage_from_json(body.as_bytes()), None, "{body}");
    }
}

#[test]
fn nested_usage_is_not_taken() {
    let body = r#"{"choices":[{"message":{"role":"assistant","content":"x",
        "usage":{"prompt_tokens":999,"completion_tokens":999,"total_tokens":1998}},
        "tool_calls":[{"function":{"arguments":"{\"usage\":{\"prompt_tokens\":5}}"}}]}],
        "metadata":{"usage":{"prompt_tokens":1}}}"#;
    assert_eq!(usage_from_json(body.as_bytes()), None);
    // Top-level usage after a nested one.
    let body = r#"{"choices":[{"message":{"usage":{"prompt_tokens":999}}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#;
    assert_eq!(usage_from_json(body.as_bytes()), Some(u(3, 4, 7)));
}

#[test]
fn usage_first_in_the_body_and_duplicates() {
    let body =
        r#"{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"choices":[]}"#;
    assert_eq!(usage_from_json(body.as_bytes()), Some(u(1, 2, 3)));
    // Last duplicate wins, as in the body scanner.
    let body = r#"{"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2}}"#;
    assert_eq!(usage_from_json(body.as_bytes()), Some(u(2, 0, 0)));
    let body = r#"{"usage":{"prompt_tokens":1,"prompt_tokens":5}}"#;
    assert_eq!(usage_from_json(body.as_bytes()), Some(u(5, 0, 0)));
}

#[test]
fn malformed_truncated_or_not_an_object() {
    let truncated: Vec<&[u8]> = (0..CHAT.len()).map(|n| &CHAT.as_bytes()[..n]).collect();
    for body in truncated {
        // Every strict prefix is invalid JSON.
        assert_eq!(usage_from_json(body), None);
        assert_eq!(completion_text_from_json(body), None);
    }
    for body in [
        &b""[..],
        b"   ",
        b"null",
        b"[{\"usage\":{\"prompt_tokens\":1}}]",
        b"\"usage\"",
        b"42",
        b"{\"usage\":{\"prompt_tokens\":1}} trailing",
        b"{\"usage\":{\"prompt_tokens\":1},}",
        b"\xff\xfe{}",
        b"{\"usage\":{\"prompt_tokens\":1}, \"x\":\"\xc3\x28\"}",
    ] {
        assert_eq!(
            usage_from_json(body),
            None,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn huge_negative_and_fractional_numbers() {
    let max = u64::MAX;
    let body = format!(
        r#"{{"usage":{{"prompt_tokens":{max},"completion_tokens":{max},"total_tokens":{max}}}}}"#
    );
    let got = usage_from_json(body.as_bytes());
    assert_eq!(got, Some(u(max, max, max)));
    assert_eq!(got.map(|u| u.total_tokens()), Some(max));
    // Floats that are whole numbers are counts; 1e300 saturates.
    let body = r#"{"usage":{"prompt_tokens":12.0,"completion_tokens":1e300,"total_tokens":3.5}}"#;
    assert_eq!(usage_from_json(body.as_bytes()), Some(u(12, u64::MAX, 0)));
    // Negative counts are ignored; a field-less result is None.
    let body = r#"{"usage":{"prompt_tokens":-5,"completion_tokens":7}}"#;
    assert_eq!(usage_from_json(body.as_bytes()), Some(u(0, 7, 0)));
    assert_eq!(usage_from_json(br#"{"usage":{"prompt_tokens":-5}}"#), None);
    // Beyond u64 / f64: simd-json refuses the document, so usage is unknown (and the tokenizer
    // fallback counts) rather than wrong.
    for n in [
        "18446744073709551616",
        "123456789012345678901234567890",
        "1e400",
    ] {
        let body = format!(r#"{{"usage":{{"prompt_tokens":{n},"completion_tokens":1}}}}"#);
        assert_eq!(usage_from_json(body.as_bytes()), None, "{n}");
    }
}

#[test]
fn parser_is_reusable_and_original_untouched() {
    let mut p = UsageParser::new();
    let escaped = br#"{"choices":[{"message":{"content":"a\"b\u00e9\n"}}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
    let before = escaped.to_vec();
    for _ in 0..3 {
        assert_eq!(p.parse(escaped), Some(u(1, 2, 3)));
        assert_eq!(p.parse(b"{not json"), None);
        assert_eq!(p.completion_text(escaped).as_deref(), Some("a\"b\u{e9}\n"));
        assert_eq!(p.parse(CHAT.as_bytes()), Some(u(19, 10, 29)));
    }
    assert_eq!(&escaped[..], &before[..]);
}

#[test]
fn big_bodies_parse_and_release_buffers() {
    let mut body = String::from(r#"{"object":"list","data":["#);
    let item = r#"{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,-0.0028842222,0.01]},"#;
    while body.len() < RETAIN_LIMIT + 1000 {
        body.push_str(item);
    }
    body.pop();
    body.push_str(r#"],"usage":{"prompt_tokens":4000,"total_tokens":4000}}"#);
    let mut p = UsageParser::new();
    assert_eq!(p.parse(body.as_bytes()), Some(u(4000, 0, 4000)));
    assert_eq!(p.scratch.capacity(), 0);
    assert_eq!(p.parse(CHAT.as_bytes()), Some(u(19, 10, 29)));
}

#[test]
fn completion_text_variants() {
    let body = r#"{"choices":[
        {"message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}},
        {"message":{"content":[{"type":"text","text":"part one"},{"type":"image_url"},{"type":"text","text":" two"}]}},
        {"message":{"content":null,"refusal":"I can't help with that."}}]}"#;
    assert_eq!(
        completion_text_from_json(body.as_bytes()).as_deref(),
        Some("{\"city\":\"Paris\"}part one twoI can't help with that.")
    );
    assert_eq!(
        completion_text_from_json(br#"{"choices":[]}"#).as_deref(),
        Some("")
    );
    assert_eq!(completion_text_from_json(br#"{"choices":{}}"#), None);
}

#[test]
fn completion_text_is_capped_on_a_char_boundary() {
    let long = "é".repeat(MAX_COMPLETION_TEXT); // 2 bytes each
    let body = format!(r#"{{"choices":[{{"message":{{"content":"{long}"}}}},{{"text":"more"}}]}}"#);
    let text = completion_text_from_json(body.as_bytes()).unwrap_or_default();
    assert_eq!(text.len(), MAX_COMPLETION_TEXT);
    let mut s = String::from("abc");
    push_capped(&mut s, "€€", 5); // '€' is 3 bytes: only whole characters fit
    assert_eq!(s, "abc");
    push_capped(&mut s, "de", 5);
    assert_eq!(s, "abcde");
    push_capped(&mut s, "f", 5);
    assert_eq!(s, "abcde");
}
