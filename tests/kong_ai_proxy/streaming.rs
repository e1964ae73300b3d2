//! Kong's `09-streaming_integration_spec.lua`, the OpenAI cases. The mock's event chunks are
//! Kong's, extracted into `tests/fixtures/kong/spec-inline/09-streaming-openai-chunks.json`.

use crate::support::kong::*;
use crate::support::{RecordingUpstream, Reply, ResponseReader};
use serde_json::{json, Value};

const GOOD_STREAM: &str = "openai/llm-v1-chat/requests/good-stream.json";

fn chunks(which: &str) -> Vec<String> {
    let all: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/kong/spec-inline/09-streaming-openai-chunks.json"),
        )
        .unwrap(),
    )
    .unwrap();
    all[which]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// What the Lua mock prints: each chunk followed by a blank line, except a chunk the next one
/// continues (the "partial" case), in one chunked `text/event-stream` response.
fn stream_reply(chunks: &[String]) -> Reply {
    let mut body = String::new();
    for (i, c) in chunks.iter().enumerate() {
        body.push_str(c);
        if chunks
            .get(i + 1)
            .is_none_or(|next| next.starts_with("data:"))
        {
            body.push_str("\n\n");
        }
    }
    let mut raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend_from_slice(format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).as_bytes());
    Reply::raw(raw)
}

fn mock() -> RecordingUpstream {
    RecordingUpstream::start(|rec| {
        if rec.header("authorization") != Some("Bearer openai-key") {
            return Reply::json(
                401,
                &fixture("openai/llm-v1-chat/responses/unauthorized.json"),
            );
        }
        match rec.path.as_str() {
            "/openai/llm/v1/chat/good" => stream_reply(&chunks("good")),
            "/openai/llm/v1/chat/partial" => stream_reply(&chunks("partial")),
            "/openai/llm/v1/chat/bad" => Reply::json(
                400,
                "{\"error\": { \"message\": \"failure of some kind\" }}\n",
            ),
            _ => Reply::json(404, "{}"),
        }
    })
}

fn start() -> (KongGateway, RecordingUpstream) {
    let mock = mock();
    let chat = |location: &str| {
        let mut c = ai_proxy(
            "llm/v1/chat",
            "openai",
            Some("gpt-3.5-turbo"),
            header_auth("Authorization", "Bearer openai-key", None),
            options(
                mock.url(location),
                json!({"input_cost": 10.0, "output_cost": 10.0}),
            ),
        );
        c["logging"] = json!({"log_payloads": true, "log_statistics": true});
        c
    };
    let routes = vec![
        route("/openai/llm/v1/chat/good", chat("/openai/llm/v1/chat/good")),
        KongRoute {
            path: "/openai/llm/v1/chat/partial",
            plugin_id: Some(KONG_PLUGIN_ID),
            config: chat("/openai/llm/v1/chat/partial"),
        },
        route("/openai/llm/v1/chat/bad", chat("/openai/llm/v1/chat/bad")),
    ];
    (KongGateway::start(&deck_config(&routes)), mock)
}

/// The spec's reader: every non-empty line is an event; `data: ` is cut and the rest decoded
/// for `choices[1].delta.content`.
fn events(k: &KongGateway, path: &str) -> (crate::support::Response, Vec<String>, String) {
    let addr = k.gw.addr();
    let mut reader = ResponseReader::connect(addr);
    reader.send(&crate::support::build_request(
        "POST",
        addr,
        path,
        fixture(GOOD_STREAM).as_bytes(),
        &[("Accept", "application/json"), ("Connection", "close")],
    ));
    let r = reader.read_response();
    let text = r.body_str();
    let lines: Vec<String> = text
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let content: String = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l.get(6..)?).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    (r, lines, content)
}

#[test]
fn stream_chat_good_stream_request_openai() {
    let (k, _mock) = start();
    let (r, lines, content) = events(&k, "/openai/llm/v1/chat/good");
    assert_eq!(r.status, 200);
    assert_eq!(lines.len(), 8, "{lines:#?}");
    assert_eq!(content, "The answer to 1 + 1 is 2.");
}

/// The mock reports no usage, so the counts are the tokenizer's. Kong estimates by words
/// (18 prompt, 13 completion tokens); llmux counts with tiktoken, the model's own tokenizer,
/// and logs that count once it is known (docs/kong-spec.md).
#[test]
fn stream_chat_good_stream_request_openai_with_partial_split_chunks() {
    let (k, _mock) = start();
    let (r, lines, content) = events(&k, "/openai/llm/v1/chat/partial");
    assert_eq!(r.status, 200);
    assert_eq!(lines.len(), 8, "{lines:#?}");
    assert_eq!(content, "The answer to 1 + 1 is 2.");

    let line = k.wait_log_line(1);
    let bpe = tiktoken_rs::cl100k_base().unwrap();
    let prompt = llmux::usage::prompt_from_request(fixture(GOOD_STREAM).as_bytes());
    let prompt_tokens = llmux::usage::count(&bpe, &prompt.text) + prompt.overhead;
    let completion_tokens = llmux::usage::count(&bpe, "The answer to 1 + 1 is 2.");
    let total = prompt_tokens + completion_tokens;
    let mut stats = line.clone();
    let payload = stats["ai"]["proxy"]["payload"].take();
    stats["ai"]["proxy"]
        .as_object_mut()
        .unwrap()
        .remove("payload");
    assert_kong_stats(
        &stats,
        json!({
            "plugin_id": KONG_PLUGIN_ID,
            "provider_name": "openai",
            "request_model": "gpt-3.5-turbo",
            "response_model": "gpt-3.5-turbo",
            "llm_latency": 1,
        }),
        json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": total,
            "time_per_token": 1,
            "cost": (prompt_tokens as f64 * 10.0 + completion_tokens as f64 * 10.0) / 1e6,
        }),
    );
    let request = payload["request"].as_str().unwrap();
    assert!(
        request.contains("content") && request.contains("What is 1 + 1"),
        "{request}"
    );
    let response = payload["response"].as_str().unwrap();
    assert!(response.contains("The answer"), "{response}");
}

#[test]
fn stream_chat_bad_request_is_returned_to_the_client_not_streamed() {
    let (k, _mock) = start();
    let (r, lines, _) = events(&k, "/openai/llm/v1/chat/bad");
    assert_eq!(r.status, 400);
    assert_eq!(lines.len(), 1, "{lines:#?}");
}
