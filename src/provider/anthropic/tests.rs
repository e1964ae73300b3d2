use super::*;
use crate::provider::chat::{ChatRequest, RequestCtx};
use crate::provider::translate::{EventStream, ReplyCtx, Translate};
use serde_json::{json, Value};

fn translate(body: &str, ctx: RequestCtx<'_>) -> Value {
    let req = ChatRequest::parse(body.as_bytes()).unwrap();
    let mut out = Vec::new();
    request(&req, &ctx, &mut out).unwrap();
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
}

fn ctx() -> RequestCtx<'static> {
    RequestCtx {
        model: "claude-sonnet-4-5",
        ..RequestCtx::default()
    }
}

#[test]
fn request_keeps_every_system_message_and_maps_parameters() {
    let v = translate(
        r#"{"model":"fast","messages":[{"role":"system","content":"one"},{"role":"developer","content":[{"type":"text","text":"two"}]},{"role":"user","content":"hi"},{"role":"system","content":"three"}],"temperature":0.3,"top_p":0.9,"top_k":5,"stop":["x","y"],"user":"u-1","stream":true}"#,
        RequestCtx {
            stream: true,
            ..ctx()
        },
    );
    assert_eq!(
        v,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "system": [{"type":"text","text":"one"},{"type":"text","text":"two"},{"type":"text","text":"three"}],
            "messages": [{"role":"user","content":[{"type":"text","text":"hi"}]}],
            "stream": true,
            "temperature": 0.3,
            "top_p": 0.9,
            "top_k": 5,
            "stop_sequences": ["x","y"],
            "metadata": {"user_id": "u-1"}
        })
    );
}

#[test]
fn max_tokens_from_client_then_options() {
    let v = translate(
        r#"{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":77}"#,
        RequestCtx {
            max_tokens: Some("512"),
            ..ctx()
        },
    );
    assert_eq!(v["max_tokens"], 77);
    let v = translate(
        r#"{"messages":[{"role":"user","content":"hi"}]}"#,
        RequestCtx {
            max_tokens: Some("512"),
            ..ctx()
        },
    );
    assert_eq!(v["max_tokens"], 512);
}

#[test]
fn tools_calls_results_and_images() {
    let v = translate(
        r#"{"messages":[
            {"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"image_url","image_url":{"url":"https://e.x/cat.jpg"}}]},
            {"role":"assistant","content":"checking","tool_calls":[
                {"id":"toolu_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"toolu_2","type":"function","function":{"name":"time","arguments":""}}]},
            {"role":"tool","tool_call_id":"toolu_1","content":"sunny"},
            {"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"noon"}]},
            {"role":"user","content":"thanks"}],
          "tools":[{"type":"function","function":{"name":"weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
                   {"type":"function","function":{"name":"time"}}],
          "tool_choice":"required","parallel_tool_calls":false}"#,
        ctx(),
    );
    assert_eq!(
        v["messages"],
        json!([
            {"role":"user","content":[
                {"type":"text","text":"what is this"},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},
                {"type":"image","source":{"type":"url","url":"https://e.x/cat.jpg"}}]},
            {"role":"assistant","content":[
                {"type":"text","text":"checking"},
                {"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}},
                {"type":"tool_use","id":"toolu_2","name":"time","input":{}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"},
                {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"noon"}]},
                {"type":"text","text":"thanks"}]}
        ])
    );
    assert_eq!(
        v["tools"],
        json!([
            {"name":"weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
            {"name":"time","input_schema":{"type":"object","properties":{}}}
        ])
    );
    assert_eq!(
        v["tool_choice"],
        json!({"type":"any","disable_parallel_tool_use":true})
    );
}

#[test]
fn tool_choice_variants() {
    let with = |choice: &str| {
        translate(
            &format!(r#"{{"messages":[{{"role":"user","content":"x"}}],"tools":[{{"type":"function","function":{{"name":"f"}}}}],"tool_choice":{choice}}}"#),
            ctx(),
        )["tool_choice"]
            .clone()
    };
    assert_eq!(with(r#""auto""#), json!({"type":"auto"}));
    assert_eq!(with(r#""none""#), json!({"type":"none"}));
    assert_eq!(
        with(r#"{"type":"function","function":{"name":"f"}}"#),
        json!({"type":"tool","name":"f"})
    );
}

#[test]
fn refuses_what_anthropic_cannot_take() {
    for body in [
        r#"{"messages":[{"role":"user","content":"x"}],"n":3}"#,
        r#"{"messages":[{"role":"tool","content":"x"}]}"#,
        r#"{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#,
        r#"{"messages":[{"role":"assistant","tool_calls":[{"id":"1","function":{"name":"f","arguments":"nope"}}]}]}"#,
    ] {
        let req = ChatRequest::parse(body.as_bytes()).unwrap();
        let mut out = Vec::new();
        assert!(request(&req, &ctx(), &mut out).is_err(), "{body}");
    }
}

fn reply() -> ReplyCtx {
    ReplyCtx {
        model: "claude".into(),
        created: 1_700_000_000,
        include_usage: true,
    }
}

#[test]
fn response_maps_content_tools_reason_and_usage() {
    let body = br#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"It is "},{"type":"text","text":"sunny."},{"type":"tool_use","id":"toolu_9","name":"weather","input":{"city":"Paris"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":7}}"#;
    let mut out = Vec::new();
    let outcome = response(body, &reply(), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["id"], "msg_01");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "claude-sonnet-4-5-20250929");
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "It is sunny.");
    assert_eq!(m["reasoning_content"], "hmm");
    assert_eq!(m["tool_calls"][0]["id"], "toolu_9");
    assert_eq!(m["tool_calls"][0]["function"]["name"], "weather");
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Paris"}"#
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens":15,"completion_tokens":7,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":3}})
    );
    assert_eq!(
        outcome.usage.map(|u| (u.prompt, u.completion)),
        Some((15, 7))
    );
    for (reason, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
    ] {
        assert_eq!(finish_reason_of(reason), finish);
    }
}

fn finish_reason_of(reason: &str) -> &'static str {
    response::finish_reason(reason).as_str()
}

#[test]
fn errors_become_openai_errors() {
    let mut out = Vec::new();
    error(
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        529,
        None,
        &mut out,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["error"]["message"], "Overloaded");
    assert_eq!(v["error"]["type"], "overloaded_error");
    out.clear();
    error(b"upstream connect error", 503, None, &mut out);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["error"]["message"], "upstream connect error");
    assert_eq!(v["error"]["type"], "server_error");
}

/// The stream of the Messages API reference's tool-use example, fed in awkward pieces.
const STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-opus-4\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, \\\"let's\\\" check\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"SF\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

fn run_stream(
    input: &[u8],
    piece: usize,
    include_usage: bool,
) -> (Vec<Value>, bool, Option<crate::usage::Usage>) {
    let mut t = EventStream::sse(AnthropicStream::new(ReplyCtx {
        include_usage,
        ..reply()
    }));
    let mut out = Vec::new();
    for chunk in input.chunks(piece) {
        t.feed(chunk, &mut out);
    }
    t.finish(&mut out);
    let text = String::from_utf8(out).unwrap();
    let mut events = Vec::new();
    let mut done = false;
    for e in text.split("\n\n").filter(|e| !e.is_empty()) {
        let data = e.strip_prefix("data: ").unwrap();
        if data == "[DONE]" {
            done = true;
        } else {
            events.push(serde_json::from_str(data).unwrap());
        }
    }
    (events, done, t.usage())
}

#[test]
fn stream_translates_text_tools_finish_and_usage() {
    for piece in [1, 7, 64, STREAM.len()] {
        let (events, done, usage) = run_stream(STREAM.as_bytes(), piece, true);
        assert!(done);
        let deltas: Vec<&Value> = events
            .iter()
            .filter_map(|e| e["choices"].get(0).map(|c| &c["delta"]))
            .collect();
        assert_eq!(deltas[0], &json!({"role":"assistant","content":""}));
        assert_eq!(deltas[1], &json!({"content":"Okay, \"let's\" check"}));
        assert_eq!(
            deltas[2],
            &json!({"tool_calls":[{"index":0,"id":"toolu_01T1","type":"function","function":{"name":"get_weather","arguments":""}}]})
        );
        let args: String = deltas[3..]
            .iter()
            .filter_map(|d| d["tool_calls"][0]["function"]["arguments"].as_str())
            .collect();
        assert_eq!(args, r#"{"location": "SF"}"#);
        let finish = events
            .iter()
            .find_map(|e| e["choices"][0]["finish_reason"].as_str())
            .unwrap();
        assert_eq!(finish, "tool_calls");
        let last = events.last().unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"]["prompt_tokens"], 472);
        // Output is cumulative: the last message_delta's count, not 2 + 89.
        assert_eq!(last["usage"]["completion_tokens"], 89);
        assert_eq!(usage.map(|u| (u.prompt, u.completion)), Some((472, 89)));
        assert!(events
            .iter()
            .all(|e| e["id"] == "msg_014p" && e["model"] == "claude-opus-4"));
    }
    let (events, _, _) = run_stream(STREAM.as_bytes(), 3, false);
    assert!(events.iter().all(|e| e.get("usage").is_none()));
}

#[test]
fn stream_error_event_ends_the_stream() {
    let input = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
        "event: error\n",
        "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let (events, done, _) = run_stream(input.as_bytes(), 5, true);
    assert!(!done);
    assert_eq!(events.last().unwrap()["error"]["type"], "overloaded_error");
}
