//! Kong's open-source ai-proxy spec (`spec/03-plugins/38-ai-proxy/` in the Kong repository)
//! ported to llmux: the same requests, fixtures (`tests/fixtures/kong/`), mock-provider rules
//! and expected status, headers, body and statistics-log fields. One module per spec file;
//! `docs/kong-spec.md` maps every Kong case to its test here or says why it does not apply.

mod support;

#[path = "kong_ai_proxy/openai.rs"]
mod openai;
