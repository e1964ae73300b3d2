//! OpenAI clients against the rest of Kong's providers: Cohere (v2 chat), Ollama (`/api/chat`,
//! NDJSON streams; also llama2 and mistral with format `ollama`), llama2 raw prompts, and the
//! OpenAI-compatible Hugging Face, DashScope and Databricks. Fixtures follow each provider's
//! API reference.

mod support;
use serde_json::{json, Value};
use support::*;

fn one(t: ProviderTarget) -> Gateway {
    Gateway::start(&providers_yaml(&[t], ""))
}

#[test]
fn cohere_chat_tools_and_usage() {
    let upstream = RecordingUpstream::start(|req| {
        if req.body_str().contains("\"stream\":true") {
            named_sse(&[
                (
                    "message-start",
                    r#"{"id":"29f14a5a-11de-4cae-9800-25e4747408ea","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}"#,
                ),
                (
                    "tool-plan-delta",
                    r#"{"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I will look up the weather."}}}"#,
                ),
                (
                    "tool-call-start",
                    r#"{"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"get_weather_nsz5zm3w56q3","type":"function","function":{"name":"get_weather","arguments":""}}}}}"#,
                ),
                (
                    "tool-call-delta",
                    r#"{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\n    \"location\""}}}}}"#,
                ),
                (
                    "tool-call-delta",
                    r#"{"type":"tool-call-delta","index":0,"delta":{"message":{"tool_calls":{"function":{"arguments":": \"Toronto\"}"}}}}}"#,
                ),
                ("tool-call-end", r#"{"type":"tool-call-end","index":0}"#),
                (
                    "message-end",
                    r#"{"type":"message-end","delta":{"finish_reason":"TOOL_CALL","usage":{"billed_units":{"input_tokens":37,"output_tokens":28},"tokens":{"input_tokens":1013,"output_tokens":56}}}}"#,
                ),
            ])
        } else {
            Reply::json(
                200,
                r#"{"id":"c14c80c3-18eb-4519-9460-6c92edd8cfb4","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"LLMs are neural networks trained on text."}]},"usage":{"billed_units":{"input_tokens":5,"output_tokens":418},"tokens":{"input_tokens":71,"output_tokens":418}}}"#,
            )
        }
    });
    let gw = one(ProviderTarget::new(
        "cohere",
        "command",
        "command-a-03-2025",
        upstream.url("/v2/chat"),
    )
    .header_auth("Authorization", "Bearer co-key"));
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"command","messages":[{"role":"user","content":"Tell me about LLMs"}],"top_p":0.5,"top_k":10,"stop":"END","max_tokens":500}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "LLMs are neural networks trained on text."
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 5);
    let req = &upstream.wait_for_requests(1, WAIT)[0];
    assert_eq!(req.path, "/v2/chat");
    assert_eq!(req.header("Authorization"), Some("Bearer co-key"));
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        sent,
        json!({"model":"command-a-03-2025","messages":[{"role":"user","content":"Tell me about LLMs"}],"stream":false,"max_tokens":500,"p":0.5,"k":10,"stop_sequences":["END"]})
    );
    wait_for_usage(&gw, 5, 418);

    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"command","stream":true,"messages":[{"role":"user","content":"Weather in Toronto?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}],"tool_choice":"required"}"#,
        &[],
    );
    let (chunks, done) = openai_chunks(&r.body_str());
    assert!(done, "{}", r.body_str());
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"location":"Toronto"})
    );
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"] == "get_weather_nsz5zm3w56q3"));
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["delta"]["reasoning_content"] == "I will look up the weather."));
    let sent: Value = serde_json::from_slice(&upstream.wait_for_requests(2, WAIT)[1].body).unwrap();
    assert_eq!(sent["tool_choice"], "REQUIRED");
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    wait_for_usage(&gw, 5 + 37, 418 + 28);
}

#[test]
fn cohere_errors() {
    let upstream = RecordingUpstream::start(|_| {
        Reply::json(401, r#"{"id":"e1","message":"invalid api token"}"#)
    });
    let gw = one(ProviderTarget::new(
        "cohere",
        "command",
        "command-a-03-2025",
        upstream.url("/v2/chat"),
    ));
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"command","messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 401);
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(v["error"]["message"], "invalid api token");
    assert_eq!(v["error"]["type"], "authentication_error");
}

fn ollama_fake() -> RecordingUpstream {
    RecordingUpstream::start(|req| {
        let body = req.body_str();
        if body.contains("\"nope\"") {
            return Reply::json(404, r#"{"error":"model 'nope' not found"}"#);
        }
        if body.contains("\"stream\":true") {
            ndjson(&[
                r#"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The"},"done":false}"#,
                r#"{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":" sky"},"done":false}"#,
                r#"{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}"#,
            ])
        } else if body.contains("\"tools\"") {
            Reply::json(
                200,
                r#"{"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_current_weather","arguments":{"format":"celsius","location":"Paris, FR"}}}]},"done_reason":"stop","done":true,"total_duration":885095291,"prompt_eval_count":122,"eval_count":23}"#,
            )
        } else {
            Reply::json(
                200,
                r#"{"model":"llama3.2","created_at":"2023-12-12T14:13:43.416799Z","message":{"role":"assistant","content":"Hello! How are you today?"},"done":true,"done_reason":"stop","total_duration":5191566416,"load_duration":2154458,"prompt_eval_count":26,"prompt_eval_duration":383809000,"eval_count":298,"eval_duration":4799921000}"#,
            )
        }
    })
}

#[test]
fn ollama_chat_stream_tools_and_errors() {
    let upstream = ollama_fake();
    let gw = one(
        ProviderTarget::new("ollama", "local", "llama3.2", upstream.url("/api/chat"))
            .option("max_tokens: 128"),
    );
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"local","messages":[{"role":"user","content":"why is the sky blue?"}],"temperature":0.2}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello! How are you today?"
    );
    let sent: Value = serde_json::from_slice(&upstream.wait_for_requests(1, WAIT)[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"model":"llama3.2","messages":[{"role":"user","content":"why is the sky blue?"}],"stream":false,"options":{"num_predict":128,"temperature":0.2}})
    );
    wait_for_usage(&gw, 26, 298);

    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"local","stream":true,"messages":[{"role":"user","content":"why?"}]}"#,
        &[],
    );
    assert_eq!(r.header("Content-Type"), Some("text/event-stream"));
    let (chunks, done) = openai_chunks(&r.body_str());
    assert!(done);
    assert_eq!(chunk_text(&chunks), "The sky");
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "stop"));

    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"local","messages":[{"role":"user","content":"weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_current_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}]}"#,
        &[],
    );
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_current_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        json!({"format":"celsius","location":"Paris, FR"})
    );
    assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
}

#[test]
fn ollama_errors_and_mistral_with_ollama_format() {
    let upstream = ollama_fake();
    let mut t = ProviderTarget::new("mistral", "m", "nope", upstream.url("/api/chat"));
    t = t.option("mistral_format: ollama");
    let gw = one(t);
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json_error_message().as_deref(),
        Some("model 'nope' not found")
    );
    assert_eq!(upstream.wait_for_requests(1, WAIT)[0].path, "/api/chat");
}

#[test]
fn llama2_raw_prompts_and_answers() {
    let upstream = RecordingUpstream::start(|_| {
        Reply::json(
            200,
            r#"[{"generated_text":"Paris is the capital of France."}]"#,
        )
    });
    let t = ProviderTarget::new(
        "llama2",
        "llama",
        "llama-2-7b-chat",
        upstream.url("/generate"),
    )
    .option("llama2_format: raw")
    .option("max_tokens: 64");
    let gw = one(t);
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"llama","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Paris."},{"role":"user","content":"And Italy?"}]}"#,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body_str());
    let v: Value = serde_json::from_str(&r.body_str()).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Paris is the capital of France."
    );
    let sent: Value = serde_json::from_slice(&upstream.wait_for_requests(1, WAIT)[0].body).unwrap();
    assert_eq!(
        sent,
        json!({
            "inputs":"<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nCapital of France? [/INST] Paris. </s><s>[INST] And Italy? [/INST]",
            "parameters":{"max_new_tokens":64,"return_full_text":false}
        })
    );
    let r = post_json(
        gw.addr(),
        "/",
        r#"{"model":"llama","stream":true,"messages":[{"role":"user","content":"x"}]}"#,
        &[],
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json_error_message().as_deref(),
        Some("streaming is not supported for llama2_format raw")
    );
}

#[test]
fn openai_compatible_providers_get_their_paths_and_headers() {
    let upstream = RecordingUpstream::start(|_| Reply::openai_chat("m", "ok", 3, 2));
    let base = upstream.url("");
    let targets = [
        ProviderTarget::new(
            "huggingface",
            "hf",
            "meta-llama/Llama-3.1-8B-Instruct",
            format!("{base}models/meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions"),
        )
        .option("huggingface:")
        .option("  use_cache: false")
        .option("  wait_for_model: true"),
        ProviderTarget::new(
            "dashscope",
            "qwen",
            "qwen-plus",
            format!("{base}compatible-mode/v1/chat/completions"),
        ),
        ProviderTarget::new(
            "databricks",
            "dbx",
            "databricks-gpt-oss-20b",
            format!("{base}serving-endpoints/v1/chat/completions"),
        ),
    ];
    let gw = Gateway::start(&providers_yaml(&targets, ""));
    for (alias, name) in [
        ("hf", "meta-llama/Llama-3.1-8B-Instruct"),
        ("qwen", "qwen-plus"),
        ("dbx", "databricks-gpt-oss-20b"),
    ] {
        let body =
            format!(r#"{{"model":"{alias}","messages":[{{"role":"user","content":"hi"}}]}}"#);
        let r = post_json(gw.addr(), "/", &body, &[]);
        assert_eq!(r.status, 200, "{alias}: {}", r.body_str());
        let provider = match alias {
            "hf" => "huggingface",
            "qwen" => "dashscope",
            _ => "databricks",
        };
        assert_eq!(
            r.header("X-Kong-LLM-Model"),
            Some(format!("{provider}/{name}").as_str())
        );
    }
    let seen = upstream.wait_for_requests(3, WAIT);
    assert_eq!(
        seen[0].path,
        "/models/meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions"
    );
    assert_eq!(seen[0].header("x-use-cache"), Some("false"));
    assert_eq!(seen[0].header("x-wait-for-model"), Some("true"));
    // OpenAI-compatible bodies are spliced, not translated.
    assert_eq!(
        seen[0].body_str(),
        r#"{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"user","content":"hi"}]}"#
    );
    assert_eq!(seen[1].path, "/compatible-mode/v1/chat/completions");
    assert_eq!(seen[2].path, "/serving-endpoints/v1/chat/completions");
}
