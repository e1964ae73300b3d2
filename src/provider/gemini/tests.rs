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

#[test]
fn request_roles_parts_config_and_tools() {
    let v = translate(
        r#"{"messages":[
            {"role":"system","content":"Be terse."},
            {"role":"system","content":"Use metric units."},
            {"role":"user","content":[{"type":"text","text":"What is in this picture, and the weather?"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},{"type":"image_url","image_url":{"url":"gs://bucket/cat.png"}}]},
            {"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":21}"},
            {"role":"tool","tool_call_id":"call_2","content":"noon"}],
          "max_tokens":100,"temperature":0.1,"top_p":0.8,"stop":"END","seed":7,
          "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
          "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}}}],
          "tool_choice":{"type":"function","function":{"name":"get_weather"}}}"#,
        RequestCtx {
            model: "gemini-2.0-flash",
            top_k: Some(20),
            ..RequestCtx::default()
        },
    );
    assert_eq!(
        v,
        json!({
            "contents": [
                {"role":"user","parts":[
                    {"text":"What is in this picture, and the weather?"},
                    {"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}},
                    {"fileData":{"mimeType":"image/png","fileUri":"gs://bucket/cat.png"}}]},
                {"role":"model","parts":[
                    {"text":"Checking."},
                    {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
                    {"functionCall":{"name":"get_time","args":{}}}]},
                {"role":"user","parts":[
                    {"functionResponse":{"name":"get_weather","response":{"temp":21}}},
                    {"functionResponse":{"name":"get_time","response":{"content":"noon"}}}]}
            ],
            "systemInstruction": {"parts":[{"text":"Be terse."},{"text":"Use metric units."}]},
            "generationConfig": {
                "maxOutputTokens":100,"temperature":0.1,"topP":0.8,"topK":20,
                "stopSequences":["END"],"seed":7,
                "responseMimeType":"application/json","responseJsonSchema":{"type":"object"}
            },
            "tools": [{"functionDeclarations":[{"name":"get_weather","description":"Weather","parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}}]}],
            "toolConfig": {"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}
        })
    );
}

#[test]
fn a_tool_result_must_answer_a_known_call() {
    let req = ChatRequest::parse(
        br#"{"messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}"#,
    )
    .unwrap();
    let err = request(&req, &RequestCtx::default(), &mut Vec::new()).unwrap_err();
    assert!(err.0.contains("answers no tool call"), "{err}");
}

fn reply() -> ReplyCtx {
    ReplyCtx {
        model: "gemini-2.0-flash".into(),
        created: 1,
        include_usage: true,
    }
}

#[test]
fn response_text_calls_reasons_and_usage() {
    let body = br#"{"candidates":[{"content":{"parts":[{"text":"Thinking...","thought":true},{"text":"It is "},{"text":"sunny."},{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":3,"totalTokenCount":18},"modelVersion":"gemini-2.5-flash","responseId":"resp-1"}"#;
    let mut out = Vec::new();
    let outcome = response(body, &reply(), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["id"], "resp-1");
    assert_eq!(v["model"], "gemini-2.5-flash");
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "It is sunny.");
    assert_eq!(m["reasoning_content"], "Thinking...");
    assert_eq!(m["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Paris"}"#
    );
    assert!(m["tool_calls"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("call_"));
    // Gemini says STOP for function calls.
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        outcome.usage.map(|u| (u.prompt, u.completion, u.total)),
        Some((10, 8, 18))
    );
    for (reason, finish) in [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("STOP", "stop"),
    ] {
        let body = format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"x"}}]}},"finishReason":"{reason}"}}]}}"#
        );
        let mut out = Vec::new();
        response(body.as_bytes(), &reply(), &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], finish, "{reason}");
    }
    let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}}"#;
    let mut out = Vec::new();
    response(blocked, &reply(), &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
}

#[test]
fn stream_usage_is_the_last_not_the_sum() {
    let events = [
        r#"{"candidates":[{"content":{"parts":[{"text":"The"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1,"totalTokenCount":10},"modelVersion":"gemini-2.0-flash","responseId":"r"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":" sky is blue"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4,"totalTokenCount":13},"modelVersion":"gemini-2.0-flash","responseId":"r"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,"totalTokenCount":14},"modelVersion":"gemini-2.0-flash","responseId":"r"}"#,
    ];
    let input: String = events
        .iter()
        .map(|e| format!("data: {e}\r\n\r\n"))
        .collect();
    for piece in [1, 5, 33, input.len()] {
        let mut t = EventStream::sse(GeminiStream::new(reply()));
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(piece) {
            t.feed(c, &mut out);
        }
        t.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        let chunks: Vec<Value> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let content: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(content, "The sky is blue.");
        assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 5);
        assert_eq!(chunks.last().unwrap()["usage"]["prompt_tokens"], 9);
        assert_eq!(t.usage().map(|u| u.total), Some(14));
    }
}

#[test]
fn errors_keep_googles_status_as_code() {
    let mut out = Vec::new();
    error(
        br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#,
        400,
        None,
        &mut out,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v["error"]["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(v["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    out.clear();
    error(
        br#"[{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}]"#,
        429,
        None,
        &mut out,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["error"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(v["error"]["type"], "rate_limit_error");
}
