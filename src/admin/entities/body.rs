//! Request bodies of the entity calls as Kong reads them, by `Content-Type`: a JSON object, or
//! Kong's form keys (`application/x-www-form-urlencoded`, `multipart/form-data`) typed by the
//! entity's schema. Other or missing types are read as JSON, as llmux always has (Kong ignores
//! such bodies); so is a "form" that is a JSON object, which `curl -d '{...}'` sends.

use super::form;
use super::infer;
use super::json::parse_body;
use super::model::{ApiResponse, Call};
use super::response::message;
use crate::config::F;
use serde_yaml_ng::Mapping;

/// Whose schema types a form's values.
pub(super) enum Schema<'a> {
    /// A plugin: the plugin entity, and `config` by the named plugin's schema (`name` in the
    /// body, else the stored plugin's name).
    Plugin(Option<&'a str>),
    Entity(&'static [F]),
}

/// The body of `cx` as a mapping; a 400 with Kong's `{"message"}` when it cannot be read.
pub(super) fn read(cx: &Call, schema: Schema) -> Result<Mapping, ApiResponse> {
    let bad = |why: String| message(400, &why);
    let Some(pairs) = form_pairs(cx.content_type, cx.body) else {
        return parse_body(cx.body).map_err(bad);
    };
    let mut m = pairs.and_then(form::decode).map_err(bad)?;
    match schema {
        Schema::Plugin(stored) => infer::plugin(&mut m, stored),
        Schema::Entity(fields) => infer::record(&mut m, fields),
    }
    Ok(m)
}

/// Kong's `POST /config` body: the raw text of a JSON or YAML body, or the `config` field of a
/// form (`curl -F config=@kong.yml`, `--data-urlencode config@kong.yml`).
pub(crate) fn declarative_text(content_type: &str, body: &[u8]) -> Result<String, String> {
    match form_pairs(content_type, body) {
        None => std::str::from_utf8(body)
            .map(str::to_string)
            .map_err(|_| "the config must be UTF-8 YAML or JSON".to_string()),
        Some(pairs) => pairs?
            .into_iter()
            .find(|(name, _)| name == "config")
            .and_then(|(_, v)| v.as_str().map(str::to_string))
            .ok_or_else(|| {
                "expected a declarative configuration in the form's `config` field".into()
            }),
    }
}

fn is_form(content_type: &str, body: &[u8]) -> bool {
    let ct = content_type.trim_start().to_ascii_lowercase();
    let json_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    (ct.starts_with("application/x-www-form-urlencoded") && !json_object)
        || ct.starts_with("multipart/form-data")
}

/// The pairs of a form body; `None` for a body read as JSON.
fn form_pairs(content_type: &str, body: &[u8]) -> Option<Result<form::Pairs, String>> {
    if !is_form(content_type, body) {
        return None;
    }
    let ct = content_type.trim_start();
    if ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        Some(form::multipart(ct, body))
    } else {
        Some(form::urlencoded(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_bodies() {
        assert_eq!(
            declarative_text("application/json", b"{\"_format_version\":\"3.0\"}").unwrap(),
            "{\"_format_version\":\"3.0\"}"
        );
        assert_eq!(
            declarative_text(
                "application/x-www-form-urlencoded",
                b"config=_format_version%3A+%223.0%22%0A"
            )
            .unwrap(),
            "_format_version: \"3.0\"\n"
        );
        let multipart = b"--b\r\nContent-Disposition: form-data; name=\"config\"; filename=\"kong.yml\"\r\n\
                          Content-Type: application/octet-stream\r\n\r\n_format_version: \"3.0\"\n\r\n--b--\r\n";
        assert_eq!(
            declarative_text("multipart/form-data; boundary=b", multipart).unwrap(),
            "_format_version: \"3.0\"\n"
        );
        assert!(declarative_text("application/x-www-form-urlencoded", b"x=1").is_err());
        assert!(declarative_text("text/yaml", b"\xff").is_err());
    }

    #[test]
    fn which_bodies_are_forms() {
        let form = "application/x-www-form-urlencoded; charset=utf-8";
        assert!(is_form(form, b"name=x"));
        assert!(!is_form(form, b"  {\"name\":\"x\"}"));
        assert!(is_form("Multipart/Form-Data; boundary=x", b"--x--"));
        assert!(!is_form("application/json", b"name=x"));
        assert!(!is_form("", b"name=x"));
    }
}
