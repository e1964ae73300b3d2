//! `llm/v1/embeddings` with an OpenAI client on Gemini (`batchEmbedContents`), Cohere
//! (`/v2/embed`) and Ollama (`/api/embed`): the request each fake receives and the OpenAI list
//! the client gets, with usage where the provider reports it.

mod support;
use serde_json::{json, Value};
use support::*;

#[test]
fn embeddings_on_gemini_cohere_and_ollama() {
    let upstream = RecordingUpstream::start(|req| {
        if req.path.ends_with(":batchEmbedContents") {
            Reply::json(
                200,
                r#"{"embeddings":[{"values":[0.013168523,-0.008711934]},{"values":[0.5,0.25]}]}"#,
            )
        } else if req.path == "/v2/embed" {
            Reply::json(
                200,
                r#"{"id":"da6e531f","embeddings":{"float":[[0.016296387,-0.008354187],[-0.04699707,-0.0287323]]},"texts":["hello","goodbye"],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":2}},"response_type":"embeddings_by_type"}"#,
            )
        } else {
            Reply::json(
                200,
                r#"{"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862],[-0.0098027075,0.06042469]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#,
            )
        }
    });
    let targets = [
        ProviderTarget::new(
            "gemini",
            "g-embed",
            "text-embedding-004",
            upstream.url("/v1beta/models/text-embedding-004:batchEmbedContents"),
        )
        .route_type("llm/v1/embeddings"),
        ProviderTarget::new("cohere", "c-embed", "embed-v4.0", upstream.url("/v2/embed"))
            .route_type("llm/v1/embeddings")
            .option("cohere:")
            .option("  embedding_input_type: search_query"),
        ProviderTarget::new(
            "ollama",
            "o-embed",
            "all-minilm",
            upstream.url("/api/embed"),
        )
        .route_type("llm/v1/embeddings"),
    ];
    let gw = Gateway::start(&providers_yaml(&targets, ""));
    for alias in ["g-embed", "c-embed", "o-embed"] {
        let r = post_json(
            gw.addr(),
            "/v1/embeddings",
            &format!(r#"{{"model":"{alias}","input":["hello","goodbye"]}}"#),
            &[],
        );
        assert_eq!(r.status, 200, "{alias}: {}", r.body_str());
        let v: Value = serde_json::from_str(&r.body_str()).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][0]["object"], "embedding");
        assert!(v["data"][0]["embedding"][0].is_f64());
    }
    let seen = upstream.wait_for_requests(3, WAIT);
    let body = |i: usize| serde_json::from_slice::<Value>(&seen[i].body).unwrap();
    assert_eq!(
        body(0),
        json!({"requests":[
            {"model":"models/text-embedding-004","content":{"parts":[{"text":"hello"}]}},
            {"model":"models/text-embedding-004","content":{"parts":[{"text":"goodbye"}]}}]})
    );
    assert_eq!(
        body(1),
        json!({"model":"embed-v4.0","texts":["hello","goodbye"],"input_type":"search_query","embedding_types":["float"]})
    );
    assert_eq!(
        body(2),
        json!({"model":"all-minilm","input":["hello","goodbye"]})
    );
    // Cohere's 2 billed tokens and Ollama's 8 are counted (Gemini reports none).
    wait_for_usage(&gw, 2, 0);
    wait_for_usage(&gw, 8, 0);

    let r = post_json(
        gw.addr(),
        "/v1/embeddings",
        r#"{"model":"c-embed","input":[[1,2,3]]}"#,
        &[],
    );
    assert_eq!(r.status, 400);
}
