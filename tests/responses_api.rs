//! `route_type: llm/v1/responses` (OpenAI's Responses API, for openai, azure and xai): routed by
//! `model`, spliced and passed through like chat, streamed, and counted from the `usage` of the
//! body or of the final `response.completed` event.

mod support;
use support::*;

const RESPONSE: &str = r#"{"id":"resp_67ccd2bed1ec8190","object":"response","created_at":1741476542,"status":"completed","model":"gpt-4.1-2025-04-14","output":[{"type":"message","id":"msg_67ccd2bf","status":"completed","role":"assistant","content":[{"type":"output_text","text":"In a peaceful grove beneath a silver moon...","annotations":[]}]}],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}"#;

fn gateway(upstream: &RecordingUpstream) -> Gateway {
    let t = ProviderTarget::new("openai", "writer", "gpt-4.1", upstream.url("/v1/responses"))
        .header_auth("Authorization", "Bearer sk-target")
        .route_type("llm/v1/responses");
    Gateway::start(&providers_yaml(&[t], ""))
}

#[test]
fn responses_are_routed_by_model_and_counted() {
    let upstream = RecordingUpstream::start(|_| Reply::json(200, RESPONSE));
    let gw = gateway(&upstream);
    let body =
        r#"{"model":"writer","input":"Tell me a three sentence bedtime story about a unicorn."}"#;
    let r = post_json(gw.addr(), "/v1/responses", body, &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), RESPONSE);
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(req.path, "/v1/responses");
    // No stream_options: the Responses API has none.
    assert_eq!(req.body_str(), body.replace("\"writer\"", "\"gpt-4.1\""));
    wait_for_usage(&gw, 36, 87);
}

#[test]
fn streamed_responses_are_counted_from_response_completed() {
    let events = [
        (
            "response.created",
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}}"#,
        ),
        (
            "response.output_text.delta",
            r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#,
        ),
        (
            "response.completed",
            r#"{"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","status":"completed","output":[],"usage":{"input_tokens":11,"output_tokens":4,"total_tokens":15}}}"#,
        ),
    ];
    let upstream = RecordingUpstream::start(move |_| named_sse(&events));
    let gw = gateway(&upstream);
    let body = r#"{"model":"writer","input":"hi","stream":true}"#;
    let r = post_json(gw.addr(), "/v1/responses", body, &[]);
    assert_eq!(r.status, 200);
    let expected: String = events
        .iter()
        .map(|(n, d)| format!("event: {n}\ndata: {d}\n\n"))
        .collect();
    assert_eq!(r.body_str(), expected);
    assert_eq!(
        upstream.wait_for_requests(1, WAIT)[0].body_str(),
        r#"{"model":"gpt-4.1","input":"hi","stream":true}"#
    );
    wait_for_usage(&gw, 11, 4);
}

#[test]
fn max_tokens_default_is_max_output_tokens() {
    let upstream = RecordingUpstream::start(|_| Reply::json(200, RESPONSE));
    let t = ProviderTarget::new("openai", "writer", "gpt-4.1", upstream.url("/v1/responses"))
        .route_type("llm/v1/responses")
        .option("max_tokens: 300");
    let gw = Gateway::start(&providers_yaml(&[t], ""));
    let r = post_json(
        gw.addr(),
        "/v1/responses",
        r#"{"model":"writer","input":"hi"}"#,
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        upstream.wait_for_requests(1, WAIT)[0].body_str(),
        r#"{"max_output_tokens":300,"model":"gpt-4.1","input":"hi"}"#
    );
}

#[test]
fn a_responses_request_needs_input() {
    let upstream = RecordingUpstream::start(|_| Reply::json(200, RESPONSE));
    let gw = gateway(&upstream);
    let r = post_json(gw.addr(), "/v1/responses", r#"{"model":"writer"}"#, &[]);
    assert_eq!(r.status, 400);
    assert_eq!(upstream.request_count(), 0);
}
