//! Kong's open-source ai-proxy spec (`spec/03-plugins/38-ai-proxy/` in the Kong repository)
//! ported to llmux: the same requests, fixtures (`tests/fixtures/kong/`), mock-provider rules
//! and expected status, headers, body and statistics-log fields. One module per spec file;
//! `docs/kong-spec.md` maps every Kong case to its test here or says why it does not apply.

mod support;

#[path = "kong_ai_proxy/anthropic.rs"]
mod anthropic;
#[path = "kong_ai_proxy/azure.rs"]
mod azure;
#[path = "kong_ai_proxy/cohere.rs"]
mod cohere;
#[path = "kong_ai_proxy/config.rs"]
mod config;
#[path = "kong_ai_proxy/encoding.rs"]
mod encoding;
#[path = "kong_ai_proxy/formats.rs"]
mod formats;
#[path = "kong_ai_proxy/formats_providers.rs"]
mod formats_providers;
#[path = "kong_ai_proxy/gemini.rs"]
mod gemini;
#[path = "kong_ai_proxy/huggingface.rs"]
mod huggingface;
#[path = "kong_ai_proxy/llama2.rs"]
mod llama2;
#[path = "kong_ai_proxy/mistral.rs"]
mod mistral;
#[path = "kong_ai_proxy/native.rs"]
mod native;
#[path = "kong_ai_proxy/openai.rs"]
mod openai;
#[path = "kong_ai_proxy/streaming.rs"]
mod streaming;
#[path = "kong_ai_proxy/streaming_providers.rs"]
mod streaming_providers;
#[path = "kong_ai_proxy/translations.rs"]
mod translations;
