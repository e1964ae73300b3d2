//! Kong's `09-streaming_integration_spec.lua`, the cases on providers with their own wire
//! formats: Cohere, Anthropic, Gemini and Bedrock streams translated to OpenAI chunks, and
//! Gemini and Bedrock streams passed through to native-format clients. The event chunks are
//! the spec's (written inline there, here as constants; Bedrock's are Kong's fixture files).
//!
//! llmux derives a streaming URL from the plain one (Gemini `:generateContent` →
//! `:streamGenerateContent?alt=sse`, Bedrock `/converse` → `/converse-stream`), so the Gemini
//! and Bedrock targets here name the mock with those API paths where Kong's name a bare
//! location, and the Gemini mock answers with Server-Sent Events (what `alt=sse` asks for)
//! where Kong's answers with the JSON-array stream; the candidate it sends is Kong's.

use crate::support::kong::*;
use crate::support::{build_request, RecordingUpstream, Reply, Response, ResponseReader};
use serde_json::{json, Value};
use std::time::Duration;

/// Kong's Anthropic events, `data:` payloads included (with the spaces Kong's have).
const ANTHROPIC_EVENTS: [(&str, &str); 11] = [
    (
        "message_start",
        r#"{"type":"message_start","message":{"id":"msg_013NVLwA2ypoPDJAxqC3G7wg","type":"message","role":"assistant","model":"claude-2.1","stop_sequence":null,"usage":{"input_tokens":15,"output_tokens":1},"content":[],"stop_reason":null}          }"#,
    ),
    (
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}    }"#,
    ),
    ("ping", r#"{"type": "ping"}"#),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"1"}       }"#,
    ),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" +"}               }"#,
    ),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" 1"}               }"#,
    ),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" ="}               }"#,
    ),
    (
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" 2"}               }"#,
    ),
    (
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0           }"#,
    ),
    (
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}"#,
    ),
    ("message_stop", r#"{"type":"message_stop"}"#),
];

/// The texts of Kong's Cohere `text-generation` events, in order.
const COHERE_TEXTS: [&str; 15] = [
    "1",
    " +",
    " 1",
    " =",
    " 2",
    ".",
    " This",
    " is",
    " the",
    " most",
    " basic",
    " example",
    " of",
    " addition",
    ".",
];

/// Kong's Gemini candidate (its JSON-array stream's one element, CRLFs and all).
const GEMINI_CANDIDATE: &str = "{\r\n  \"candidates\": [\r\n    {\r\n      \"content\": {\r\n        \"role\": \"model\",\r\n        \"parts\": [\r\n          {\r\n            \"functionCall\": {\r\n              \"name\": \"add\",\r\n              \"args\": {\r\n                \"a\": 2,\r\n                \"b\": 12\r\n              }\r\n            }\r\n          }\r\n        ]\r\n      },\r\n      \"finishReason\": \"STOP\",\r\n      \"safetyRatings\": [\r\n        {\r\n          \"category\": \"HARM_CATEGORY_HATE_SPEECH\",\r\n          \"probability\": \"NEGLIGIBLE\",\r\n          \"probabilityScore\": 0.10498047,\r\n          \"severity\": \"HARM_SEVERITY_NEGLIGIBLE\",\r\n          \"severityScore\": 0.09423828\r\n        }\r\n      ]\r\n    }\r\n  ],\r\n  \"usageMetadata\": {\r\n    \"promptTokenCount\": 47,\r\n    \"candidatesTokenCount\": 3,\r\n    \"totalTokenCount\": 50\r\n  },\r\n  \"modelVersion\": \"gemini-1.5-pro-001\",\r\n  \"createTime\": \"2025-02-20T21:58:56.381597Z\",\r\n  \"responseId\": \"oKW3Z52lF4762PgP4P6i4Ak\"\r\n}";

const GEMINI_PATH: &str = "/gemini/llm/v1/chat/functions/good/models/gemini-1.5-flash";
const BEDROCK_PATH: &str = "/bedrock/llm/v1/chat/functions/good/model/aws-titan-v1%3A0";

/// Standard base64 (Kong's Bedrock chunk files), padding and line breaks allowed.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for group in sextets.chunks(4) {
        let mut n = 0u32;
        for (i, s) in group.iter().enumerate() {
            n |= u32::from(*s) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

/// The SSE body of one Cohere v2 stream carrying Kong's texts (Kong's mock writes Cohere's v1
/// events; llmux speaks v2, see `cohere.rs`), with Kong's usage (57 billed in, 123 out).
fn cohere_v2_stream() -> Reply {
    let mut events = vec![(
        "message-start".to_owned(),
        json!({"type": "message-start", "id": "3f41d0ea-0d9c-4ecd-990a-88ba46ede663",
               "delta": {"message": {"role": "assistant", "content": []}}}),
    )];
    events.push((
        "content-start".into(),
        json!({"type": "content-start", "index": 0,
               "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
    ));
    for t in COHERE_TEXTS {
        events.push((
            "content-delta".into(),
            json!({"type": "content-delta", "index": 0,
                   "delta": {"message": {"content": {"text": t}}}}),
        ));
    }
    events.push((
        "content-end".into(),
        json!({"type": "content-end", "index": 0}),
    ));
    events.push((
        "message-end".into(),
        json!({"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": {
            "billed_units": {"input_tokens": 57, "output_tokens": 123},
            "tokens": {"input_tokens": 68, "output_tokens": 123}}}}),
    ));
    let body: String = events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    Reply::body(200, "text/event-stream", body)
}

fn mock() -> RecordingUpstream {
    RecordingUpstream::start(|rec| {
        let unauthorized = || {
            Reply::json(
                401,
                &fixture("openai/llm-v1-chat/responses/unauthorized.json"),
            )
        };
        let path = rec.path.as_str();
        if path == "/cohere/llm/v1/chat/good" {
            if rec.header("authorization") != Some("Bearer cohere-key") {
                return unauthorized();
            }
            return cohere_v2_stream();
        }
        if path == "/anthropic/llm/v1/chat/good" {
            if rec.header("api-key") != Some("anthropic-key") {
                return unauthorized();
            }
            let body: String = ANTHROPIC_EVENTS
                .iter()
                .map(|(event, data)| format!("event: {event}\ndata: {data}\n\n"))
                .collect();
            return Reply::body(200, "text/event-stream", body);
        }
        if path.starts_with("/gemini/") && path.contains(":streamGenerateContent") {
            let data: Value = serde_json::from_str(GEMINI_CANDIDATE).unwrap();
            return Reply::body(200, "text/event-stream", format!("data: {data}\r\n\r\n"));
        }
        if path.starts_with("/bedrock/") && path.ends_with("/converse-stream") {
            let pieces = (1..=3)
                .map(|i| {
                    let text = fixture(&format!("bedrock/chunks/chunk-{i}.txt"));
                    (Duration::from_millis(5), base64_decode(&text))
                })
                .collect();
            return Reply::chunks("application/vnd.amazon.eventstream", pieces);
        }
        Reply::json(404, r#"{"error":{"message":"no such mock location"}}"#)
    })
}

fn start() -> (KongGateway, RecordingUpstream) {
    let mock = mock();
    let costs = |extra: Value| {
        let mut o = json!({"input_cost": 10.0, "output_cost": 10.0});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };
    let gemini = |llm_format: &str| {
        let mut c = ai_proxy(
            "llm/v1/chat",
            "gemini",
            Some("gemini-1.5-flash"),
            json!({"header_name": "x-goog-api-key", "header_value": "123", "allow_override": false}),
            json!({"max_tokens": 512, "temperature": 0.6, "input_cost": 20.0, "output_cost": 20.0,
                   "upstream_url": mock.url(&format!("{GEMINI_PATH}:generateContent"))}),
        );
        c["llm_format"] = json!(llm_format);
        c["logging"] = json!({"log_payloads": false, "log_statistics": true});
        c
    };
    let bedrock = |llm_format: &str| {
        let mut c = ai_proxy(
            "llm/v1/chat",
            "bedrock",
            Some("aws-titan-v1:0"),
            json!({"allow_override": false, "aws_access_key_id": "mock-key",
                   "aws_secret_access_key": "mock-secret"}),
            json!({"max_tokens": 512, "temperature": 0.6, "input_cost": 20.0, "output_cost": 20.0,
                   "upstream_url": mock.url(&format!("{BEDROCK_PATH}/converse"))}),
        );
        c["llm_format"] = json!(llm_format);
        c["logging"] = json!({"log_payloads": false, "log_statistics": true});
        c
    };
    let routes = vec![
        route(
            "/cohere/llm/v1/chat/good",
            ai_proxy(
                "llm/v1/chat",
                "cohere",
                Some("command"),
                header_auth("Authorization", "Bearer cohere-key", None),
                options(mock.url("/cohere/llm/v1/chat/good"), costs(json!({}))),
            ),
        ),
        route(
            "/anthropic/llm/v1/chat/good",
            ai_proxy(
                "llm/v1/chat",
                "anthropic",
                Some("claude-2.1"),
                header_auth("api-key", "anthropic-key", None),
                options(
                    mock.url("/anthropic/llm/v1/chat/good"),
                    costs(json!({"anthropic_version": "2023-06-01"})),
                ),
            ),
        ),
        route("/gemini/llm/v1/chat/functions/good", gemini("openai")),
        route("/bedrock/llm/v1/chat/functions/good", bedrock("openai")),
        route(
            "/gemini-native/llm/v1/chat/functions/good",
            gemini("gemini"),
        ),
        route(
            "/bedrock-native/llm/v1/chat/functions/good",
            bedrock("bedrock"),
        ),
    ];
    let k = KongGateway::start_with_env(&deck_config(&routes), &[("AWS_REGION", "us-east-1")]);
    (k, mock)
}

/// The spec's reader: the body's non-empty lines, and each line with its first six bytes
/// (`data: `) cut, decoded where it is JSON.
fn read_events(k: &KongGateway, path: &str, body: &str) -> (Response, Vec<String>, Vec<Value>) {
    let addr = k.gw.addr();
    let mut reader = ResponseReader::connect(addr);
    reader.send(&build_request(
        "POST",
        addr,
        path,
        body.as_bytes(),
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("Connection", "close"),
        ],
    ));
    let r = reader.read_response();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let lines: Vec<String> = text
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let decoded = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l.get(6..)?).ok())
        .collect();
    (r, lines, decoded)
}

fn content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// Kong counts 17 lines: its chunks for the 15 texts, a last one and `[DONE]`. llmux's are the
/// role chunk `message-start` becomes, the 15 texts, the `finish_reason` chunk `message-end`
/// becomes and `[DONE]`: 18.
#[test]
fn stream_chat_good_stream_request_cohere() {
    let (k, mock) = start();
    let (r, lines, chunks) = read_events(
        &k,
        "/cohere/llm/v1/chat/good",
        &fixture("cohere/llm-v1-chat/requests/good-stream.json"),
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(lines.len(), 18, "{lines:#?}");
    assert_eq!(lines.last().map(String::as_str), Some("data: [DONE]"));
    assert_eq!(
        content(&chunks),
        "1 + 1 = 2. This is the most basic example of addition."
    );
    assert_eq!(mock.requests()[0].body_json_serde()["stream"], true);
}

#[test]
fn stream_chat_good_stream_request_anthropic() {
    let (k, mock) = start();
    let (r, lines, chunks) = read_events(
        &k,
        "/anthropic/llm/v1/chat/good",
        &fixture("anthropic/llm-v1-chat/requests/good-stream.json"),
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(lines.len(), 8, "{lines:#?}");
    assert_eq!(content(&chunks), "1 + 1 = 2");
    let sent = &mock.requests()[0];
    assert_eq!(sent.header_all("api-key"), vec!["anthropic-key"]);
    assert_eq!(sent.body_json_serde()["stream"], true);
}

#[test]
fn stream_chat_good_stream_request_gemini_with_function_calls() {
    let (k, mock) = start();
    let (r, _lines, chunks) = read_events(
        &k,
        "/gemini/llm/v1/chat/functions/good",
        &fixture("openai/llm-v1-chat/requests/good-stream-with-functions.json"),
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    // The spec keeps the last chunk's function: Gemini sends each call whole, in one chunk.
    let call = chunks
        .iter()
        .map(|c| &c["choices"][0]["delta"]["tool_calls"][0]["function"])
        .rfind(|f| f.is_object())
        .unwrap_or_else(|| panic!("no tool call in {}", r.body_str()));
    assert_eq!(call["name"], "add");
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        (args["a"].clone(), args["b"].clone()),
        (json!(2), json!(12))
    );
    let sent = &mock.requests()[0];
    assert_eq!(
        sent.path,
        format!("{GEMINI_PATH}:streamGenerateContent?alt=sse")
    );
    assert_eq!(sent.header_all("x-goog-api-key"), vec!["123"]);
}

#[test]
fn stream_chat_good_stream_request_bedrock_with_function_calls() {
    let (k, mock) = start();
    let (r, _lines, chunks) = read_events(
        &k,
        "/bedrock/llm/v1/chat/functions/good",
        &fixture("openai/llm-v1-chat/requests/good-stream-with-functions.json"),
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let functions: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["delta"]["tool_calls"][0]["function"])
        .filter(|f| f.is_object())
        .collect();
    let name = functions.iter().find_map(|f| f["name"].as_str());
    assert_eq!(name, Some("add"), "{}", r.body_str());
    let arguments: String = functions
        .iter()
        .filter_map(|f| f["arguments"].as_str())
        .collect();
    let args: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(
        (args["a"].clone(), args["b"].clone()),
        (json!(2), json!(12))
    );
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, format!("{BEDROCK_PATH}/converse-stream"));
    let auth = sent.header("authorization").unwrap_or_default();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=mock-key/")
            && auth.contains("/us-east-1/bedrock/aws4_request"),
        "{auth}"
    );
}

/// The client speaks Gemini's API (`llm_format: gemini`) and names the model and method in the
/// path; the answer reaches it untranslated (`safetyRatings`, which OpenAI's chunks lack).
#[test]
fn stream_chat_good_stream_request_gemini_with_function_calls_and_native_format() {
    let (k, mock) = start();
    let body = fixture("native/gemini/request/with-functions-and-chatter.json");
    let (r, lines, _) = read_events(
        &k,
        "/gemini-native/llm/v1/chat/functions/good/models/gemini-1.5-flash:streamGenerateContent",
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(
        r.header("X-Kong-LLM-Model"),
        Some("gemini/gemini-1.5-flash")
    );
    assert!(
        lines.iter().any(|l| l.contains("safetyRatings")),
        "{lines:#?}"
    );
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, format!("{GEMINI_PATH}:streamGenerateContent"));
    assert_eq!(sent.body_str(), body, "the native body passes through");
}

/// The client speaks Bedrock's Converse API (`llm_format: bedrock`); the event stream reaches
/// it untranslated (`contentBlockIndex`, which OpenAI's chunks lack).
#[test]
fn stream_chat_good_stream_request_bedrock_with_function_calls_and_native_format() {
    let (k, mock) = start();
    let body = fixture("native/bedrock/request/with-functions-and-chatter.json");
    let (r, _, _) = read_events(
        &k,
        "/bedrock-native/llm/v1/chat/functions/good/model/aws-titan-v1:0/converse-stream",
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.header("X-Kong-LLM-Model"), Some("bedrock/aws-titan-v1:0"));
    let expected: Vec<u8> = (1..=3)
        .flat_map(|i| base64_decode(&fixture(&format!("bedrock/chunks/chunk-{i}.txt"))))
        .collect();
    assert_eq!(r.body, expected, "the event stream passes through");
    assert!(String::from_utf8_lossy(&r.body).contains("contentBlockIndex"));
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, format!("{BEDROCK_PATH}/converse-stream"));
    assert_eq!(sent.body_str(), body, "the native body passes through");
}
