//! One alias served by targets of different providers: balancing spreads requests over them,
//! each answers in its own wire format and the client always gets OpenAI's, usage and cost are
//! counted per target, a failing provider fails over to another provider, and
//! `X-Kong-LLM-Model` names the provider that answered.

mod support;
use serde_json::Value;
use support::*;

fn anthropic_fake() -> RecordingUpstream {
    RecordingUpstream::start(|_| {
        Reply::json(
            200,
            r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"from anthropic"}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":5}}"#,
        )
    })
}

fn gemini_fake() -> RecordingUpstream {
    RecordingUpstream::start(|_| {
        Reply::json(
            200,
            r#"{"candidates":[{"content":{"parts":[{"text":"from gemini"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":7,"totalTokenCount":27},"modelVersion":"gemini-2.0-flash"}"#,
        )
    })
}

#[test]
fn one_alias_across_providers() {
    let (claude, gemini, openai) = (
        anthropic_fake(),
        gemini_fake(),
        RecordingUpstream::start(|_| Reply::openai_chat("gpt-4o-mini", "from openai", 30, 9)),
    );
    let bedrock = RecordingUpstream::start(|req| {
        check_bedrock_signature(req).unwrap_or_else(|| {
            Reply::json(200, r#"{"output":{"message":{"role":"assistant","content":[{"text":"from bedrock"}]}},"stopReason":"end_turn","usage":{"inputTokens":40,"outputTokens":11,"totalTokens":51}}"#)
        })
    });
    let targets = [
        ProviderTarget::new(
            "anthropic",
            "any",
            "claude-haiku-4-5",
            claude.url("/v1/messages"),
        )
        .option("input_cost: 1.0")
        .option("output_cost: 5.0"),
        ProviderTarget::new(
            "gemini",
            "any",
            "gemini-2.0-flash",
            gemini.url("/v1beta/models/gemini-2.0-flash:generateContent"),
        ),
        ProviderTarget::new(
            "openai",
            "any",
            "gpt-4o-mini",
            openai.url("/v1/chat/completions"),
        ),
        ProviderTarget::new(
            "bedrock",
            "any",
            "amazon.nova-lite-v1:0",
            bedrock.url("/model/amazon.nova-lite-v1%3A0/converse"),
        )
        .aws("us-east-1"),
    ];
    let gw = Gateway::start(&providers_yaml(&targets, ""));
    let mut answered = Vec::new();
    for _ in 0..8 {
        let r = post_json(
            gw.addr(),
            "/v1/chat/completions",
            r#"{"model":"any","messages":[{"role":"user","content":"hi"}]}"#,
            &[],
        );
        assert_eq!(r.status, 200, "{}", r.body_str());
        let v: Value = serde_json::from_str(&r.body_str()).unwrap();
        assert_eq!(v["object"], "chat.completion");
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        let header = r.header("X-Kong-LLM-Model").unwrap().to_string();
        let provider = header.split('/').next().unwrap().to_string();
        assert_eq!(text, format!("from {provider}"));
        answered.push(provider);
    }
    for p in ["anthropic", "gemini", "openai", "bedrock"] {
        assert_eq!(
            answered.iter().filter(|a| *a == p).count(),
            2,
            "{answered:?}"
        );
    }
    // Per-target usage from four wire formats (two requests each), and cost for the priced one.
    let status = admin_get_until(gw.admin_addr(), "/status", |b| {
        b.contains("\"prompt_tokens\":80,\"completion_tokens\":22")
            && b.contains("\"prompt_tokens\":20,\"completion_tokens\":10")
            && b.contains("\"prompt_tokens\":40,\"completion_tokens\":14")
            && b.contains("\"prompt_tokens\":60,\"completion_tokens\":18")
    });
    assert!(status.contains("\"cost\":0.00007"), "{status}");
}

#[test]
fn a_failing_provider_fails_over_to_another() {
    let failing = RecordingUpstream::start(|_| {
        Reply::json(
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
    });
    let gemini = gemini_fake();
    let mut first = ProviderTarget::new(
        "anthropic",
        "any",
        "claude-haiku-4-5",
        failing.url("/v1/messages"),
    );
    first.weight = Some(100);
    let mut second = ProviderTarget::new(
        "gemini",
        "any",
        "gemini-2.0-flash",
        gemini.url("/v1beta/models/gemini-2.0-flash:generateContent"),
    );
    second.weight = Some(10);
    let gw = Gateway::start(&providers_yaml(
        &[first, second],
        "      balancer:\n        algorithm: priority\n        failover_criteria: [error, timeout, http_503, non_idempotent]\n        max_fails: 1\n",
    ));
    // 529 is not a status failover knows: the client gets Anthropic's answer, OpenAI-shaped.
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"any","messages":[{"role":"user","content":"hi"}]}"#,
        &[],
    );
    assert_eq!(r.status, 529);
    assert_eq!(r.json_error_message().as_deref(), Some("Overloaded"));

    let unavailable = RecordingUpstream::start(|_| {
        Reply::json(
            503,
            r#"{"type":"error","error":{"type":"api_error","message":"down"}}"#,
        )
    });
    let mut first = ProviderTarget::new(
        "anthropic",
        "any",
        "claude-haiku-4-5",
        unavailable.url("/v1/messages"),
    );
    first.weight = Some(100);
    let mut second = ProviderTarget::new(
        "gemini",
        "any",
        "gemini-2.0-flash",
        gemini.url("/v1beta/models/gemini-2.0-flash:generateContent"),
    );
    second.weight = Some(10);
    let gw = Gateway::start(&providers_yaml(
        &[first, second],
        "      balancer:\n        algorithm: priority\n        failover_criteria: [error, timeout, http_503, non_idempotent]\n        max_fails: 1\n        fail_timeout: 60000\n",
    ));
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"any","messages":[{"role":"user","content":"hi"}]}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("X-Kong-LLM-Model"),
        Some("gemini/gemini-2.0-flash")
    );
    // The breaker opened on Anthropic: the next request goes straight to Gemini.
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"any","messages":[{"role":"user","content":"hi"}]}"#,
        &[],
    );
    assert_eq!(
        r.header("X-Kong-LLM-Model"),
        Some("gemini/gemini-2.0-flash")
    );
    assert_eq!(unavailable.request_count(), 1);
}
