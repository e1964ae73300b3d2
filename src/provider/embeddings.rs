//! `llm/v1/embeddings` for providers whose embeddings API is not OpenAI's: Gemini
//! (`:batchEmbedContents`), Cohere (`/v2/embed`) and Ollama (`/api/embed`).
//!
//! The OpenAI request (`input`: a string or an array of strings; `dimensions`) is written in the
//! provider's shape, and the answer comes back as OpenAI's `{"object":"list","data":[{"object":
//! "embedding","index":i,"embedding":[...]}],"model":...,"usage":{...}}`, each vector copied
//! as the provider wrote it (no float is parsed or reformatted). Token inputs (arrays of
//! integers) and `encoding_format: base64` are refused: these providers take text and return
//! floats. Usage: Cohere's billed input tokens, Ollama's `prompt_eval_count`; Gemini reports
//! none, so the tokenizer counts the input.

use super::chat::json::Obj;
use super::chat::{bad, TranslateError};
use super::translate::{Outcome, ReplyCtx};
use crate::usage::Usage;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
pub struct EmbeddingsRequest<'a> {
    /// A string or an array of strings, raw.
    #[serde(borrow)]
    pub input: &'a RawValue,
    #[serde(borrow, default)]
    pub dimensions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub encoding_format: Option<Cow<'a, str>>,
}

impl<'a> EmbeddingsRequest<'a> {
    pub fn parse(body: &'a [u8], provider: &str) -> Result<EmbeddingsRequest<'a>, TranslateError> {
        let req: EmbeddingsRequest<'a> = serde_json::from_slice(body)
            .map_err(|e| bad(format!("invalid embeddings request: {e}")))?;
        if req.encoding_format.as_deref().is_some_and(|f| f != "float") {
            return Err(bad(format!(
                "encoding_format must be float for provider {provider}"
            )));
        }
        Ok(req)
    }

    /// The inputs as raw string tokens.
    pub fn texts(&self) -> Result<Vec<&'a RawValue>, TranslateError> {
        let raw = self.input.get();
        let texts = match raw.as_bytes().first() {
            Some(b'"') => vec![self.input],
            Some(b'[') => serde_json::from_str::<Vec<&RawValue>>(raw)
                .map_err(|e| bad(format!("invalid input: {e}")))?,
            _ => return Err(bad("input must be a string or an array of strings")),
        };
        if texts.is_empty() || texts.iter().any(|t| !t.get().starts_with('"')) {
            return Err(bad(
                "input must be a non-empty string or array of strings (token arrays are not supported for this provider)",
            ));
        }
        Ok(texts)
    }
}

/// Gemini `batchEmbedContents`: one request per input, each naming the model.
pub fn gemini_request(
    req: &EmbeddingsRequest<'_>,
    model: &str,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    let texts = req.texts()?;
    let model_ref = format!("models/{model}");
    let mut o = Obj::new(out);
    let mut requests = o.arr("requests");
    for t in texts {
        let mut r = requests.obj();
        r.str("model", &model_ref);
        {
            let mut content = r.obj("content");
            let mut parts = content.arr("parts");
            parts.obj().token("text", t).end();
            parts.end();
            content.end();
        }
        if let Some(d) = req.dimensions.filter(|d| d.get() != "null") {
            r.token("outputDimensionality", d);
        }
        r.end();
    }
    requests.end();
    o.end();
    Ok(())
}

/// Cohere `/v2/embed`: float embeddings of `texts`, `input_type` from the target's options (else
/// `search_document`, the type for text to be stored and searched).
pub fn cohere_request(
    req: &EmbeddingsRequest<'_>,
    model: &str,
    input_type: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    let texts = req.texts()?;
    let mut o = Obj::new(out);
    o.str("model", model);
    let mut arr = o.arr("texts");
    for t in texts {
        arr.raw(t.get());
    }
    arr.end();
    o.str("input_type", input_type.unwrap_or("search_document"));
    o.raw("embedding_types", r#"["float"]"#);
    if let Some(d) = req.dimensions.filter(|d| d.get() != "null") {
        o.token("output_dimension", d);
    }
    o.end();
    Ok(())
}

/// Ollama `/api/embed`: `input` as sent.
pub fn ollama_request(
    req: &EmbeddingsRequest<'_>,
    model: &str,
    out: &mut Vec<u8>,
) -> Result<(), TranslateError> {
    req.texts()?;
    let mut o = Obj::new(out);
    o.str("model", model).token("input", req.input);
    if let Some(d) = req.dimensions.filter(|d| d.get() != "null") {
        o.token("dimensions", d);
    }
    o.end();
    Ok(())
}

/// OpenAI's list of embeddings from raw vectors.
fn write_list(out: &mut Vec<u8>, vectors: &[&RawValue], model: &str, usage: Option<Usage>) {
    let mut o = Obj::new(out);
    o.str("object", "list");
    {
        let mut data = o.arr("data");
        for (i, v) in vectors.iter().enumerate() {
            let mut e = data.obj();
            e.str("object", "embedding")
                .num("index", i as u64)
                .token("embedding", v);
            e.end();
        }
        data.end();
    }
    o.str("model", model);
    let u = usage.unwrap_or_default();
    let mut uo = o.obj("usage");
    uo.num("prompt_tokens", u.prompt)
        .num("total_tokens", u.prompt);
    uo.end();
    o.end();
}

fn input_usage(tokens: Option<u64>) -> Option<Usage> {
    tokens.map(|n| Usage {
        prompt: n,
        completion: 0,
        total: n,
    })
}

#[derive(Deserialize)]
struct GeminiEmbeddings<'a> {
    #[serde(borrow)]
    embeddings: Vec<GeminiValues<'a>>,
}

#[derive(Deserialize)]
struct GeminiValues<'a> {
    #[serde(borrow)]
    values: &'a RawValue,
}

pub fn gemini_response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let r: GeminiEmbeddings<'_> = serde_json::from_slice(body)
        .map_err(|e| format!("not a Gemini embeddings response: {e}"))?;
    let vectors: Vec<&RawValue> = r.embeddings.iter().map(|e| e.values).collect();
    write_list(out, &vectors, &ctx.model, None);
    Ok(Outcome::default())
}

#[derive(Deserialize)]
struct CohereEmbeddings<'a> {
    #[serde(borrow)]
    embeddings: CohereByType<'a>,
    #[serde(default)]
    meta: Option<CohereMeta>,
}

#[derive(Deserialize)]
struct CohereByType<'a> {
    #[serde(borrow)]
    float: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct CohereMeta {
    #[serde(default)]
    billed_units: Option<CohereBilled>,
}

#[derive(Deserialize)]
struct CohereBilled {
    #[serde(default)]
    input_tokens: Option<f64>,
}

pub fn cohere_response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let r: CohereEmbeddings<'_> =
        serde_json::from_slice(body).map_err(|e| format!("not a Cohere embed response: {e}"))?;
    let tokens = r
        .meta
        .and_then(|m| m.billed_units)
        .and_then(|b| b.input_tokens)
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n as u64);
    let usage = input_usage(tokens);
    write_list(out, &r.embeddings.float, &ctx.model, usage);
    Ok(Outcome {
        usage,
        text: String::new(),
    })
}

#[derive(Deserialize)]
struct OllamaEmbeddings<'a> {
    #[serde(borrow)]
    embeddings: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
}

pub fn ollama_response(body: &[u8], ctx: &ReplyCtx, out: &mut Vec<u8>) -> Result<Outcome, String> {
    let r: OllamaEmbeddings<'_> =
        serde_json::from_slice(body).map_err(|e| format!("not an Ollama embed response: {e}"))?;
    let usage = input_usage(r.prompt_eval_count);
    write_list(
        out,
        &r.embeddings,
        r.model.as_deref().unwrap_or(&ctx.model),
        usage,
    );
    Ok(Outcome {
        usage,
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn written(
        f: impl FnOnce(&EmbeddingsRequest<'_>, &mut Vec<u8>) -> Result<(), TranslateError>,
        body: &str,
    ) -> Value {
        let req = EmbeddingsRequest::parse(body.as_bytes(), "p").unwrap();
        let mut out = Vec::new();
        f(&req, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn requests_in_each_shape() {
        let body = r#"{"model":"e","input":["a","b\n"],"dimensions":256}"#;
        assert_eq!(
            written(|r, o| gemini_request(r, "text-embedding-004", o), body),
            json!({"requests":[
                {"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]},"outputDimensionality":256},
                {"model":"models/text-embedding-004","content":{"parts":[{"text":"b\n"}]},"outputDimensionality":256}]})
        );
        assert_eq!(
            written(
                |r, o| cohere_request(r, "embed-v4.0", Some("search_query"), o),
                body
            ),
            json!({"model":"embed-v4.0","texts":["a","b\n"],"input_type":"search_query","embedding_types":["float"],"output_dimension":256})
        );
        assert_eq!(
            written(
                |r, o| ollama_request(r, "all-minilm", o),
                r#"{"input":"one"}"#
            ),
            json!({"model":"all-minilm","input":"one"})
        );
        for bad_body in [r#"{"input":[1,2,3]}"#, r#"{"input":[]}"#, r#"{"input":3}"#] {
            let req = EmbeddingsRequest::parse(bad_body.as_bytes(), "p").unwrap();
            assert!(req.texts().is_err(), "{bad_body}");
        }
        assert!(
            EmbeddingsRequest::parse(br#"{"input":"a","encoding_format":"base64"}"#, "p").is_err()
        );
    }

    #[test]
    fn responses_become_openai_lists() {
        let ctx = ReplyCtx {
            model: "m".into(),
            ..ReplyCtx::default()
        };
        let mut out = Vec::new();
        let o = cohere_response(
            br#"{"id":"x","embeddings":{"float":[[0.016296387,-0.008354187],[1e-3,2.5]]},"texts":["a","b"],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":2}}}"#,
            &ctx,
            &mut out,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][0]["object"], "embedding");
        // Vectors are copied as written.
        assert!(String::from_utf8_lossy(&out).contains("[0.016296387,-0.008354187]"));
        assert_eq!(v["usage"], json!({"prompt_tokens":2,"total_tokens":2}));
        assert_eq!(o.usage.map(|u| u.prompt), Some(2));
        out.clear();
        let o =
            gemini_response(br#"{"embeddings":[{"values":[0.1,0.2]}]}"#, &ctx, &mut out).unwrap();
        assert!(o.usage.is_none());
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"][0]["embedding"], json!([0.1, 0.2]));
        out.clear();
        ollama_response(
            br#"{"model":"all-minilm","embeddings":[[0.5]],"prompt_eval_count":8}"#,
            &ctx,
            &mut out,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (v["model"].as_str(), v["usage"]["prompt_tokens"].as_u64()),
            (Some("all-minilm"), Some(8))
        );
    }
}
