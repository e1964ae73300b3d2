//! decK's `${{ env "NAME" }}` substitution, done on the parsed YAML tree so that every error
//! carries the exact YAML path of the string that used the variable.
//!
//! Every string value (not keys) is scanned; a string may hold several references and the text
//! around them is kept. Unlike decK, names are not required to start with `DECK_`. The result is
//! always a string: a reference cannot turn into a number or a boolean.

use super::error::Diag;
use super::value::{index, join};
use serde_yaml_ng::Value;

/// The AWS settings of the process environment, read once per load (never per request) for
/// Bedrock targets that do not name their own region or keys, as the AWS SDKs do.
#[derive(Default, Clone)]
pub(crate) struct AwsEnv {
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

impl AwsEnv {
    pub(crate) fn read(env: &dyn Fn(&str) -> Option<String>) -> AwsEnv {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        AwsEnv {
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
        }
    }
}

const OPEN: &str = "${{";
const CLOSE: &str = "}}";

/// Replace every reference in every string of `v`. Unset variables and malformed templates are
/// reported (by variable name and path, never by value) and leave the string unchanged.
pub(crate) fn substitute(
    v: &mut Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    d: &mut Diag,
) {
    match v {
        Value::String(s) => {
            if let Some(new) = substitute_str(s, path, env, d) {
                *s = new;
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute(item, &index(path, i), env, d);
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                let key = k.as_str().unwrap_or("<non-string key>");
                substitute(item, &join(path, key), env, d);
            }
        }
        Value::Tagged(t) => substitute(&mut t.value, path, env, d),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `Some(new)` when `s` held at least one template and all of them resolved.
fn substitute_str(
    s: &str,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    d: &mut Diag,
) -> Option<String> {
    if !s.contains(OPEN) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut ok = true;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(CLOSE) else {
            d.err(
                path,
                "unterminated `${{` template (expected `${{ env \"NAME\" }}`)",
            );
            return None;
        };
        match parse_env_ref(&after[..end]) {
            Some(name) => match env(name) {
                Some(value) => out.push_str(&value),
                None => {
                    d.err(path, format!("environment variable {name} is not set"));
                    ok = false;
                }
            },
            None => {
                d.err(
                    path,
                    "unsupported template: only `${{ env \"NAME\" }}` is supported",
                );
                ok = false;
            }
        }
        rest = &after[end + CLOSE.len()..];
    }
    out.push_str(rest);
    ok.then_some(out)
}

/// The variable name in ` env "NAME" `, if that is what the template says.
fn parse_env_ref(inner: &str) -> Option<&str> {
    let rest = inner.trim().strip_prefix("env")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let name = rest.trim().strip_prefix('"')?.strip_suffix('"')?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DECK_KEY" => Some("sk-secret".into()),
            "HOST" => Some("example.com".into()),
            _ => None,
        }
    }

    fn run(yaml: &str) -> (Value, Diag) {
        let mut v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut d = Diag::default();
        substitute(&mut v, "", &env, &mut d);
        (v, d)
    }

    #[test]
    fn replaces_several_references_and_keeps_text() {
        let (v, d) = run(
            r#"a: { b: [ 'Bearer ${{ env "DECK_KEY" }}', 'https://${{env "HOST"}}/${{ env "HOST" }}' ] }"#,
        );
        assert!(d.errors.is_empty());
        let b = &v["a"]["b"];
        assert_eq!(b[0].as_str(), Some("Bearer sk-secret"));
        assert_eq!(b[1].as_str(), Some("https://example.com/example.com"));
    }

    #[test]
    fn unset_variable_names_variable_and_path() {
        let (v, d) = run(r#"plugins: [ { config: { x: 'Bearer ${{ env "DECK_MISSING" }}' } } ]"#);
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].path, "plugins[0].config.x");
        assert_eq!(
            d.errors[0].message,
            "environment variable DECK_MISSING is not set"
        );
        // left unchanged
        assert!(v["plugins"][0]["config"]["x"]
            .as_str()
            .unwrap()
            .contains("DECK_MISSING"));
    }

    #[test]
    fn malformed_templates_are_errors() {
        let (_, d) = run(r#"a: '${{ env "X" '"#);
        assert_eq!(d.errors.len(), 1);
        let (_, d) = run(r#"a: '${{ envx "X" }}'"#);
        assert_eq!(d.errors.len(), 1);
        let (_, d) = run(r#"a: '${{ env "1X" }}'"#);
        assert_eq!(d.errors.len(), 1);
        let (v, d) = run(r#"a: 'no template $ {{ here }}'"#);
        assert!(d.errors.is_empty());
        assert_eq!(v["a"].as_str(), Some("no template $ {{ here }}"));
    }
}
