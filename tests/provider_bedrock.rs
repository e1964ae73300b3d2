//! OpenAI clients against Amazon Bedrock's Converse API: every request the fake receives must
//! carry a SigV4 signature the fake recomputes from the bytes it got (with its own verifier);
//! answers come back whole or from ConverseStream's binary event stream, with tools, errors and
//! usage. Fixtures follow the Bedrock Runtime API reference.

mod support;
use serde_json::{json, Value};
use support::*;

const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const PATH: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse";

fn gateway(upstream: &RecordingUpstream) -> Gateway {
    let t = ProviderTarget::new("bedrock", "haiku", MODEL, upstream.url(PATH)).aws("us-east-1");
    Gateway::start(&providers_yaml(&[t], ""))
}

/// A fake that refuses any request whose signature does not verify.
fn signed(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> RecordingUpstream {
    RecordingUpstream::start(move |req| {
        check_bedrock_signature(req).unwrap_or_else(|| handler(req))
    })
}

const ANSWER: &str = r#"{"output":{"message":{"role":"assistant","content":[{"text":"Bonjour! Comment puis-je vous aider?"}]}},"stopReason":"end_turn","usage":{"inputTokens":12,"outputTokens":9,"totalTokens":21},"metrics":{"latencyMs":468}}"#;

#[test]
fn chat_is_signed_and_translated_both_ways() {
    let upstream = signed(|_| Reply::json(200, ANSWER).header("x-amzn-RequestId", "req-1"));
    let gw = gateway(&upstream);
    let r = post_json(
        gw.addr(),
        "/v1/chat/completions",
        r#"{"model":"haiku","messages":[{"role":"system","content":"Answer in French."},{"role":"user","content":"Hello"}],"max_tokens":200}"#,
        &[
            ("Authorization", "Bearer client-key"),
            ("x-amz-date", "20000101T000000Z"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("X-Kong-LLM-Model"),
        Some(format!("bedrock/{MODEL}").as_str())
    );
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Bonjour! Comment puis-je vous aider?"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["model"], MODEL);
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(req.path, PATH);
    let claim = support::sigv4::verify(req, AWS_SECRET_ACCESS_KEY).expect("valid SigV4");
    assert_eq!(
        (
            claim.region.as_str(),
            claim.service.as_str(),
            claim.access_key_id.as_str()
        ),
        ("us-east-1", "bedrock", AWS_ACCESS_KEY_ID)
    );
    assert_eq!(claim.signed_headers, ["content-type", "host", "x-amz-date"]);
    // The client's own Authorization and x-amz-date are not forwarded.
    assert_eq!(req.header_all("x-amz-date").len(), 1);
    assert_ne!(req.header("x-amz-date"), Some("20000101T000000Z"));
    assert!(req
        .header("Authorization")
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 "));
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        sent,
        json!({
            "messages":[{"role":"user","content":[{"text":"Hello"}]}],
            "system":[{"text":"Answer in French."}],
            "inferenceConfig":{"maxTokens":200}
        })
    );
    wait_for_usage(&gw, 12, 9);
}

#[test]
fn a_tampered_request_fails_the_fakes_check() {
    // The verifier is only worth something if it rejects: change one signed byte.
    let upstream = RecordingUpstream::start(|_| Reply::json(200, ANSWER));
    let gw = gateway(&upstream);
    post_json(
        gw.addr(),
        "/",
        r#"{"model":"haiku","messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    let mut req = upstream.wait_for_requests(1, WAIT)[0].clone();
    assert!(support::sigv4::verify(&req, AWS_SECRET_ACCESS_KEY).is_ok());
    req.body.push(b' ');
    assert!(support::sigv4::verify(&req, AWS_SECRET_ACCESS_KEY).is_err());
    assert!(support::sigv4::verify(&upstream.requests()[0], "wrong secret").is_err());
}

fn stream_frames() -> Vec<Vec<u8>> {
    vec![
        event_frame("messageStart", r#"{"p":"abcdefghijk","role":"assistant"}"#),
        event_frame(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"Looking up "},"p":"abcd"}"#,
        ),
        event_frame(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"the top song."},"p":"abcd"}"#,
        ),
        event_frame("contentBlockStop", r#"{"contentBlockIndex":0,"p":"abcd"}"#),
        event_frame(
            "contentBlockStart",
            r#"{"contentBlockIndex":1,"start":{"toolUse":{"name":"top_song","toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"}},"p":"abc"}"#,
        ),
        event_frame(
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"sign\":"}},"p":"abc"}"#,
        ),
        event_frame(
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":" \"WZPZ\"}"}},"p":"abc"}"#,
        ),
        event_frame("contentBlockStop", r#"{"contentBlockIndex":1,"p":"abc"}"#),
        event_frame("messageStop", r#"{"p":"abcdefgh","stopReason":"tool_use"}"#),
        event_frame(
            "metadata",
            r#"{"metrics":{"latencyMs":1170},"p":"abcde","usage":{"inputTokens":375,"outputTokens":63,"totalTokens":438}}"#,
        ),
    ]
}

#[test]
fn converse_stream_becomes_sse_chunks() {
    let upstream = signed(|_| eventstream(stream_frames()));
    let gw = gateway(&upstream);
    let r = post_json(
        gw.addr(),
        "/v1/chat/completions",
        r#"{"model":"haiku","stream":true,"messages":[{"role":"user","content":"What is the most popular song on WZPZ?"}],"tools":[{"type":"function","function":{"name":"top_song","description":"Get the most popular song played on a radio station.","parameters":{"type":"object","properties":{"sign":{"type":"string"}},"required":["sign"]}}}]}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    let (chunks, done) = openai_chunks(&r.body_str());
    assert!(done, "{}", r.body_str());
    assert_eq!(chunk_text(&chunks), "Looking up the top song.");
    let start = chunks
        .iter()
        .find_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"].as_str())
        .unwrap();
    assert_eq!(start, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, r#"{"sign": "WZPZ"}"#);
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(
        req.path,
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    );
    assert_eq!(
        req.header("Accept"),
        Some("application/vnd.amazon.eventstream")
    );
    wait_for_usage(&gw, 375, 63);
}

#[test]
fn errors_before_and_during_the_stream() {
    let upstream = signed(|req| {
        if req.path.ends_with("-stream") {
            eventstream(vec![
                event_frame("messageStart", r#"{"role":"assistant"}"#),
                exception_frame(
                    "modelStreamErrorException",
                    r#"{"message":"The model stopped unexpectedly."}"#,
                ),
            ])
        } else {
            Reply::json(
                429,
                r#"{"message":"Too many requests, please wait before trying again."}"#,
            )
            .header(
                "x-amzn-ErrorType",
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
            )
        }
    });
    let gw = gateway(&upstream);
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"haiku","messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 429);
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(
        v["error"]["message"],
        "Too many requests, please wait before trying again."
    );
    assert_eq!(v["error"]["code"], "ThrottlingException");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"haiku","stream":true,"messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 200);
    let (chunks, done) = openai_chunks(&r.body_str());
    assert!(!done);
    assert_eq!(
        chunks.last().unwrap()["error"]["type"],
        "modelStreamErrorException"
    );
}

#[test]
fn keys_and_session_token_from_the_environment() {
    let upstream = RecordingUpstream::start(|req| {
        if req.header("x-amz-security-token") != Some("session-token-1") {
            return Reply::json(403, r#"{"message":"missing session token"}"#);
        }
        check_bedrock_signature(req).unwrap_or_else(|| Reply::json(200, ANSWER))
    });
    let mut t = ProviderTarget::new("bedrock", "haiku", MODEL, upstream.url(PATH));
    t.auth.clear();
    let opts = GatewayOpts {
        env: vec![
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), AWS_ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), AWS_SECRET_ACCESS_KEY.into()),
            ("AWS_SESSION_TOKEN".into(), "session-token-1".into()),
        ],
        ..GatewayOpts::default()
    };
    let gw = Gateway::start_with(&providers_yaml(&[t], ""), opts);
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"haiku","messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let claim = support::sigv4::verify(&upstream.requests()[0], AWS_SECRET_ACCESS_KEY).unwrap();
    assert!(claim
        .signed_headers
        .contains(&"x-amz-security-token".to_string()));
}

#[test]
fn native_converse_is_re_signed_and_passed_through() {
    let upstream = signed(|req| {
        if req.path.ends_with("/converse-stream") {
            eventstream(stream_frames())
        } else {
            Reply::json(200, ANSWER)
        }
    });
    let t = ProviderTarget::new("bedrock", "haiku", MODEL, upstream.url(PATH)).aws("us-east-1");
    let gw = Gateway::start(&providers_yaml(&[t], "      llm_format: bedrock\n"));
    let body = r#"{"messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":100}}"#;
    // What an AWS SDK sends: its own signature, for the gateway's host, which must not survive.
    let r = post_json(
        gw.addr(),
        "/model/haiku/converse",
        body,
        &[
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00"),
            ("X-Amz-Date", "20250101T000000Z"),
            ("amz-sdk-invocation-id", "abc"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), ANSWER);
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(req.path, PATH);
    assert_eq!(req.body_str(), body);
    assert_eq!(req.header("amz-sdk-invocation-id"), None);
    wait_for_usage(&gw, 12, 9);

    let r = post_json(gw.addr(), "/model/haiku/converse-stream", body, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("application/vnd.amazon.eventstream")
    );
    assert_eq!(r.body, stream_frames().concat());
    wait_for_usage(&gw, 12 + 375, 9 + 63);
}
