//! The wire formats of the providers llmux translates to, for fake upstreams: configs naming
//! those providers ([`ProviderTarget`], [`providers_yaml`]), stream framings (named SSE events,
//! Gemini's CRLF SSE, NDJSON, AWS event-stream frames) and the Bedrock fake's signature check.
//! Fixture bodies live in the tests, written from each provider's API reference.

use super::{sigv4, Recorded, Reply};
use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use std::time::Duration;

/// The AWS keys the Bedrock fakes verify signatures with.
pub const AWS_ACCESS_KEY_ID: &str = "AKIDLLMUXTEST";
pub const AWS_SECRET_ACCESS_KEY: &str = "llmux/test/secret+key";

/// One `ai-proxy-advanced` target of any provider.
#[derive(Debug, Clone)]
pub struct ProviderTarget {
    pub provider: &'static str,
    pub alias: Option<&'static str>,
    pub name: Option<&'static str>,
    pub url: String,
    /// `auth:` mapping lines, indented by 10 spaces (may be empty).
    pub auth: String,
    /// Extra `model.options` lines, indented by 12 spaces.
    pub options: String,
    pub route_type: &'static str,
    pub weight: Option<u32>,
}

impl ProviderTarget {
    pub fn new(
        provider: &'static str,
        alias: &'static str,
        name: &'static str,
        url: String,
    ) -> Self {
        ProviderTarget {
            provider,
            alias: Some(alias),
            name: Some(name),
            url,
            auth: String::new(),
            options: String::new(),
            route_type: "llm/v1/chat",
            weight: None,
        }
    }

    /// Auth by header (`x-api-key`, `Authorization`, `x-goog-api-key`...).
    pub fn header_auth(mut self, name: &str, value: &str) -> Self {
        self.auth = format!("          header_name: {name}\n          header_value: '{value}'\n");
        self
    }

    /// Bedrock's keys in `auth`, the region in `model.options.bedrock`.
    pub fn aws(mut self, region: &str) -> Self {
        self.auth = format!(
            "          aws_access_key_id: {AWS_ACCESS_KEY_ID}\n          aws_secret_access_key: '{AWS_SECRET_ACCESS_KEY}'\n"
        );
        self.options.push_str(&format!(
            "            bedrock:\n              aws_region: {region}\n"
        ));
        self
    }

    pub fn option(mut self, line: &str) -> Self {
        self.options.push_str(&format!("            {line}\n"));
        self
    }

    pub fn route_type(mut self, route_type: &'static str) -> Self {
        self.route_type = route_type;
        self
    }
}

/// A global `ai-proxy-advanced` over `targets`, with extra plugin `config` lines (indented by 6).
pub fn providers_yaml(targets: &[ProviderTarget], config_extra: &str) -> String {
    let mut y = String::from(
        "_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy-advanced\n    config:\n",
    );
    y.push_str(config_extra);
    if !config_extra.is_empty() && !config_extra.ends_with('\n') {
        y.push('\n');
    }
    y.push_str("      targets:\n");
    for t in targets {
        y.push_str(&format!("      - route_type: {}\n", t.route_type));
        if let Some(w) = t.weight {
            y.push_str(&format!("        weight: {w}\n"));
        }
        if !t.auth.is_empty() {
            y.push_str("        auth:\n");
            y.push_str(&t.auth);
        }
        y.push_str(&format!(
            "        model:\n          provider: {}\n",
            t.provider
        ));
        if let Some(n) = t.name {
            y.push_str(&format!("          name: '{n}'\n"));
        }
        if let Some(a) = t.alias {
            y.push_str(&format!("          model_alias: {a}\n"));
        }
        y.push_str(&format!(
            "          options:\n            upstream_url: '{}'\n",
            t.url
        ));
        y.push_str(&t.options);
    }
    y
}

/// SSE with named events, as Anthropic and Cohere send them: `event: NAME\ndata: JSON\n\n`.
pub fn named_sse(events: &[(&str, &str)]) -> Reply {
    Reply::sse(
        events
            .iter()
            .map(|(name, data)| (Duration::ZERO, format!("event: {name}\ndata: {data}\n\n")))
            .collect(),
    )
}

/// SSE as Gemini sends it with `alt=sse`: `data: JSON\r\n\r\n`, no end marker.
pub fn crlf_sse(events: &[&str]) -> Reply {
    Reply::sse(
        events
            .iter()
            .map(|data| (Duration::ZERO, format!("data: {data}\r\n\r\n")))
            .collect(),
    )
}

/// Newline-delimited JSON, as Ollama streams: one object per line, one chunk per line.
pub fn ndjson(lines: &[&str]) -> Reply {
    Reply::sse(
        lines
            .iter()
            .map(|l| (Duration::ZERO, format!("{l}\n")))
            .collect(),
    )
    .header("Content-Type", "application/x-ndjson")
}

/// One AWS event-stream frame (`:message-type: event`), encoded by AWS's own encoder.
pub fn event_frame(event_type: &str, payload: &str) -> Vec<u8> {
    frame(
        &[
            (":message-type", "event"),
            (":event-type", event_type),
            (":content-type", "application/json"),
        ],
        payload,
    )
}

/// An exception frame (`:message-type: exception`).
pub fn exception_frame(exception_type: &str, payload: &str) -> Vec<u8> {
    frame(
        &[
            (":message-type", "exception"),
            (":exception-type", exception_type),
            (":content-type", "application/json"),
        ],
        payload,
    )
}

fn frame(headers: &[(&str, &str)], payload: &str) -> Vec<u8> {
    let mut message = Message::new(payload.as_bytes().to_vec());
    for (name, value) in headers {
        message = message.add_header(Header::new(
            name.to_string(),
            HeaderValue::String(value.to_string().into()),
        ));
    }
    let mut out = Vec::new();
    write_message_to(&message, &mut out).expect("encoding an event-stream frame");
    out
}

/// A ConverseStream reply: the frames as chunks, each frame split in two so the decoder sees
/// frames cut anywhere.
pub fn eventstream(frames: Vec<Vec<u8>>) -> Reply {
    let mut pieces = Vec::new();
    for f in frames {
        let (a, b) = f.split_at(f.len() / 3);
        pieces.push((Duration::ZERO, a.to_vec()));
        pieces.push((Duration::ZERO, b.to_vec()));
    }
    Reply::chunks("application/vnd.amazon.eventstream", pieces)
}

/// Bedrock's answer to a request whose signature does not verify.
pub fn bedrock_signature_error(why: &str) -> Reply {
    Reply::json(
        403,
        &format!(
            r#"{{"message":{}}}"#,
            super::json_string(&format!("The request signature we calculated does not match the signature you provided. {why}"))
        ),
    )
    .header("x-amzn-ErrorType", "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/")
}

/// Runs the Bedrock fake's signature check: `Some(403 reply)` when it fails.
pub fn check_bedrock_signature(req: &Recorded) -> Option<Reply> {
    match sigv4::verify(req, AWS_SECRET_ACCESS_KEY) {
        Ok(claim) if claim.service == "bedrock" && claim.access_key_id == AWS_ACCESS_KEY_ID => None,
        Ok(claim) => Some(bedrock_signature_error(&format!("wrong scope {claim:?}"))),
        Err(e) => Some(bedrock_signature_error(&e)),
    }
}

/// GETs `path` on the admin listener until `ready` accepts the body (usage reaches `/status`
/// through the merge, a tick or two after the response).
pub fn admin_get_until(
    addr: std::net::SocketAddr,
    path: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + super::WAIT;
    loop {
        let mut conn = super::ResponseReader::connect(addr);
        conn.send(&super::build_request(
            "GET",
            addr,
            path,
            b"",
            &[("Connection", "close")],
        ));
        let body = conn.read_response().body_str();
        if ready(&body) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never became ready: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `/status` shows a target with exactly these token counts.
pub fn wait_for_usage(gw: &super::Gateway, prompt: u64, completion: u64) -> String {
    let needle = format!(
        "\"prompt_tokens\":{prompt},\"completion_tokens\":{completion},\"total_tokens\":{}",
        prompt + completion
    );
    admin_get_until(gw.admin_addr(), "/status", |b| b.contains(&needle))
}

/// `data:` payloads of an SSE body parsed as JSON, and whether it ended with `[DONE]`.
pub fn openai_chunks(body: &str) -> (Vec<serde_json::Value>, bool) {
    let data = super::sse_data(body);
    let done = data.last().map(String::as_str) == Some("[DONE]");
    let chunks = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect();
    (chunks, done)
}

/// The concatenated `delta.content` of OpenAI chunks.
pub fn chunk_text(chunks: &[serde_json::Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}
