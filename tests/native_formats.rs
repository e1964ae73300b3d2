//! Native formats (`llm_format` other than `openai`): clients that speak a provider's own API
//! (the Anthropic SDK, Claude Code, the Gemini SDK, AWS SDKs) reach a target of that provider
//! with only `model` and credentials changed, get the provider's answer byte for byte, and
//! llmux still counts the usage.

mod support;
use serde_json::Value;
use support::*;

fn anthropic_gateway(upstream: &RecordingUpstream) -> Gateway {
    let t = ProviderTarget::new(
        "anthropic",
        "claude-fast",
        "claude-haiku-4-5",
        upstream.url("/v1/messages"),
    )
    .header_auth("x-api-key", "sk-ant-target");
    Gateway::start(&providers_yaml(&[t], "      llm_format: anthropic\n"))
}

const THINKING_MESSAGE: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"thinking","thinking":"Let me add.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},{"type":"text","text":"2"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":0,"output_tokens":30}}"#;

#[test]
fn anthropic_messages_pass_through_with_only_the_model_and_key_changed() {
    let upstream = RecordingUpstream::start(|_| Reply::json(200, THINKING_MESSAGE));
    let gw = anthropic_gateway(&upstream);
    let body = r#"{"model":"claude-fast","max_tokens":1024,"thinking":{"type":"enabled","budget_tokens":512},"system":[{"type":"text","text":"Long prompt","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"1+1?"}]}"#;
    let r = post_json(
        gw.addr(),
        "/v1/messages",
        body,
        &[
            ("x-api-key", "client-key-for-the-gateway"),
            ("anthropic-version", "2023-06-01"),
            (
                "anthropic-beta",
                "interleaved-thinking-2025-05-14,prompt-caching-2024-07-31",
            ),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    // Byte for byte, thinking signature included.
    assert_eq!(r.body_str(), THINKING_MESSAGE);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(
        req.body_str(),
        body.replace("\"claude-fast\"", "\"claude-haiku-4-5\"")
    );
    assert_eq!(req.header_all("x-api-key"), ["sk-ant-target"]);
    assert_eq!(
        req.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14,prompt-caching-2024-07-31")
    );
    assert_eq!(req.header_all("anthropic-version"), ["2023-06-01"]);
    // Cache writes count as prompt tokens.
    wait_for_usage(&gw, 112, 30);
}

#[test]
fn anthropic_stream_passes_through_and_is_counted() {
    let events = [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ];
    let upstream = RecordingUpstream::start(move |_| named_sse(&events));
    let gw = anthropic_gateway(&upstream);
    let r = post_json(
        gw.addr(),
        "/v1/messages",
        r#"{"model":"claude-fast","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        &[("anthropic-version", "2023-06-01")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    let expected: String = events
        .iter()
        .map(|(n, d)| format!("event: {n}\ndata: {d}\n\n"))
        .collect();
    assert_eq!(r.body_str(), expected);
    wait_for_usage(&gw, 25, 15);
}

#[test]
fn anthropic_count_tokens_and_errors_pass_through() {
    let upstream = RecordingUpstream::start(|req| {
        if req.path.ends_with("/count_tokens") {
            Reply::json(200, r#"{"input_tokens":14}"#)
        } else {
            Reply::json(
                429,
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
            )
        }
    });
    let gw = anthropic_gateway(&upstream);
    let r = post_json(
        gw.addr(),
        "/v1/messages/count_tokens",
        r#"{"model":"claude-fast","messages":[{"role":"user","content":"hi"}]}"#,
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), r#"{"input_tokens":14}"#);
    assert_eq!(
        upstream.wait_for_requests(1, WAIT)[0].path,
        "/v1/messages/count_tokens"
    );
    let r = post_json(
        gw.addr(),
        "/v1/messages",
        r#"{"model":"claude-fast","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
        &[],
    );
    assert_eq!(r.status, 429);
    // Native clients get the provider's own error shape.
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["type"], "error");
}

fn gemini_gateway(upstream: &RecordingUpstream) -> Gateway {
    let t = ProviderTarget::new(
        "gemini",
        "flash",
        "gemini-2.0-flash",
        upstream.url("/v1beta/models/gemini-2.0-flash:generateContent"),
    )
    .header_auth("x-goog-api-key", "AIza-target");
    Gateway::start(&providers_yaml(&[t], "      llm_format: gemini\n"))
}

#[test]
fn gemini_routes_by_the_model_in_the_path() {
    let events = [
        r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3},"modelVersion":"gemini-2.0-flash"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5},"modelVersion":"gemini-2.0-flash"}"#,
    ];
    let upstream = RecordingUpstream::start(move |req| {
        if req.path.contains(":streamGenerateContent") {
            crlf_sse(&events)
        } else {
            Reply::json(
                200,
                r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"totalTokenCount":5}}"#,
            )
        }
    });
    let gw = gemini_gateway(&upstream);
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"Hello"}]}],"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}}"#;
    let r = post_json(
        gw.addr(),
        "/v1beta/models/flash:generateContent?key=client-key",
        body,
        &[("x-goog-api-key", "client-key")],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(r.body_str().contains(r#""text":"Hi""#));
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    // The alias in the path became the real model; the client's key went nowhere.
    assert_eq!(req.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(req.header_all("x-goog-api-key"), ["AIza-target"]);
    assert_eq!(req.body_str(), body);
    wait_for_usage(&gw, 4, 1);

    let r = post_json(
        gw.addr(),
        "/v1beta/models/flash:streamGenerateContent?alt=sse",
        body,
        &[],
    );
    assert_eq!(r.status, 200);
    let expected: String = events
        .iter()
        .map(|e| format!("data: {e}\r\n\r\n"))
        .collect();
    assert_eq!(r.body_str(), expected);
    assert_eq!(
        upstream.wait_for_requests(2, WAIT)[1].path,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );

    let r = post_json(
        gw.addr(),
        "/v1beta/models/unknown:generateContent",
        body,
        &[],
    );
    assert_eq!(r.status, 400);
    let r = post_json(gw.addr(), "/v1/chat/completions", body, &[]);
    assert_eq!(r.status, 400);
    assert!(
        r.body_str().contains("needs the model in the path"),
        "{}",
        r.body_str()
    );
}

#[test]
fn cohere_and_hugging_face_native_bodies_pass_through() {
    let upstream = RecordingUpstream::start(|req| {
        if req.path == "/v2/chat" {
            Reply::json(
                200,
                r#"{"id":"c1","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"Hi"}]},"usage":{"billed_units":{"input_tokens":3,"output_tokens":2},"tokens":{"input_tokens":60,"output_tokens":2}}}"#,
            )
        } else {
            Reply::json(200, r#"[{"generated_text":"Hello there"}]"#)
        }
    });
    let cohere = ProviderTarget::new(
        "cohere",
        "command",
        "command-a-03-2025",
        upstream.url("/v2/chat"),
    )
    .header_auth("Authorization", "Bearer co-target");
    let gw = Gateway::start(&providers_yaml(&[cohere], "      llm_format: cohere\n"));
    let body = r#"{"model":"command","messages":[{"role":"user","content":"hello"}],"safety_mode":"OFF","citation_options":{"mode":"FAST"}}"#;
    let r = post_json(
        gw.addr(),
        "/v2/chat",
        body,
        &[("Authorization", "Bearer client")],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert!(r.body_str().contains(r#""billed_units""#));
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(
        req.body_str(),
        body.replace("\"command\"", "\"command-a-03-2025\"")
    );
    assert_eq!(req.header_all("Authorization"), ["Bearer co-target"]);
    wait_for_usage(&gw, 3, 2);

    let hf = ProviderTarget::new("huggingface", "hf", "gpt2", upstream.url("/models/gpt2"))
        .header_auth("Authorization", "Bearer hf-target");
    let gw = Gateway::start(&providers_yaml(&[hf], "      llm_format: huggingface\n"));
    // Text-generation bodies carry no model and get none.
    let body = r#"{"inputs":"Hello","parameters":{"max_new_tokens":5}}"#;
    let r = post_json(gw.addr(), "/models/gpt2", body, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), r#"[{"generated_text":"Hello there"}]"#);
    assert_eq!(upstream.wait_for_requests(2, WAIT)[1].body_str(), body);
}
