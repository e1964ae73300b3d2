//! YAML builders for the configs integration tests run the gateway with.

/// One `ai-proxy-advanced` target as the tests describe it.
#[derive(Debug, Clone)]
pub struct T {
    pub alias: Option<&'static str>,
    pub name: Option<&'static str>,
    pub url: String,
    pub key: &'static str,
    pub extra_model_options: &'static str,
    pub weight: Option<u32>,
}

impl T {
    /// A chat target with alias and name, sending `Authorization: Bearer <key>` to `url`.
    pub fn new(alias: &'static str, name: &'static str, url: String) -> T {
        T {
            alias: Some(alias),
            name: Some(name),
            url,
            key: "sk-target-secret",
            extra_model_options: "",
            weight: None,
        }
    }

    pub fn named(name: &'static str, url: String) -> T {
        T {
            alias: None,
            ..T::new("", name, url)
        }
    }
}

/// A global `ai-proxy-advanced` plugin (served on every path) with `targets` and extra
/// plugin-level `config` lines (already indented by 6 spaces, e.g. "      retries: 1").
pub fn plugin_yaml(targets: &[T], config_extra: &str) -> String {
    let mut y = String::from(
        "_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy-advanced\n    config:\n",
    );
    y.push_str(config_extra);
    if !config_extra.is_empty() && !config_extra.ends_with('\n') {
        y.push('\n');
    }
    y.push_str("      targets:\n");
    for t in targets {
        y.push_str("      - route_type: llm/v1/chat\n");
        if let Some(w) = t.weight {
            y.push_str(&format!("        weight: {w}\n"));
        }
        y.push_str(&format!(
            "        auth:\n          header_name: Authorization\n          header_value: Bearer {}\n",
            t.key
        ));
        y.push_str("        model:\n          provider: openai\n");
        if let Some(n) = t.name {
            y.push_str(&format!("          name: {n}\n"));
        }
        if let Some(a) = t.alias {
            y.push_str(&format!("          model_alias: {a}\n"));
        }
        y.push_str(&format!(
            "          options:\n            upstream_url: {}\n",
            t.url
        ));
        y.push_str(t.extra_model_options);
    }
    y
}

/// Consumers alice and bob (keys `alice-key`, `bob-key`), global `key-auth`, then `plugins`
/// (YAML list items, indented 2), then one AI target `fast` sending to `url` with the target's
/// own key: the setting every rate-limit test starts from.
pub fn limited_config(url: &str, plugins: &str) -> String {
    format!(
        r#"_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials: [{{key: alice-key}}]
  - username: bob
    keyauth_credentials: [{{key: bob-key}}]
plugins:
  - name: key-auth
{plugins}  - name: ai-proxy-advanced
    config:
      targets:
        - route_type: llm/v1/chat
          auth: {{header_name: Authorization, header_value: "Bearer sk-target-secret"}}
          model: {{provider: openai, name: gpt-4o-mini, model_alias: fast, options: {{upstream_url: "{url}"}}}}
"#
    )
}
