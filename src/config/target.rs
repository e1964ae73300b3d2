//! Building one `TargetConfig` (and its `Auth` and upstream URL) from a `config.targets[]` entry
//! whose types the schema walk has already checked. Missing required keys and Kong's entity checks
//! are reported here; values of the wrong type were reported by the walk and are skipped quietly.

use super::env::AwsEnv;
use super::error::Diag;
use super::provider_url::{model_path_prefix, provider_url, stream_path, Azure, UrlParts, Vertex};
use super::target_id::TargetId;
use super::target_provider::{aws_signing, check_route_type, warn_irrelevant, wire};
use super::types::{Auth, Provider, ProviderOptions, RouteType, TargetConfig};
use super::upstream_url::{build, parse_url, ParsedUrl};
use super::value::{get, get_bool, get_int, get_num, get_str, join};
use serde_yaml_ng::Value;
use std::sync::Arc;

const AZURE_API_VERSION: &str = "2023-05-15";
/// Anthropic's API version when `model.options.anthropic_version` is not set (Kong's default).
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `t` is a target mapping (for `ai-proxy`, the plugin's `config` itself).
pub(crate) fn build_target(
    t: &Value,
    path: &str,
    index: usize,
    plugin_id: &str,
    aws_env: &AwsEnv,
    d: &mut Diag,
) -> Option<TargetConfig> {
    let route_type = match get(t, "route_type") {
        None => {
            d.err(&join(path, "route_type"), "is required");
            None
        }
        Some(v) => v.as_str().and_then(RouteType::parse),
    };
    let model_path = join(path, "model");
    let Some(model) = get(t, "model") else {
        d.err(&model_path, "is required");
        return None;
    };
    let provider = match get(model, "provider") {
        None => {
            d.err(&join(&model_path, "provider"), "is required");
            None
        }
        Some(v) => v.as_str().and_then(Provider::parse),
    };
    let options = get(model, "options");
    let options_path = join(&model_path, "options");
    let opt_num = |k: &str| options.and_then(|o| get_num(o, k));

    let mut defaults = Vec::new();
    if let Some(n) = options.and_then(|o| get_int(o, "max_tokens")) {
        defaults.push(("max_tokens", n.to_string()));
    }
    for key in ["temperature", "top_p"] {
        if let Some(x) = opt_num(key) {
            // Debug keeps a fraction (`1.0`) and is valid JSON for every finite value.
            defaults.push((key, format!("{x:?}")));
        }
    }

    let auth_path = join(path, "auth");
    let (auth, query_param) = build_auth(get(t, "auth"), &auth_path, d);

    let model_name = get_str(model, "name").map(str::to_string);
    let wire = provider.and_then(|p| wire(p, options, &options_path, d));
    let aws = match provider {
        Some(Provider::Bedrock) => aws_signing(
            get(t, "auth"),
            &auth_path,
            options,
            &options_path,
            aws_env,
            d,
        ),
        _ => None,
    };
    let url = upstream(
        provider,
        route_type,
        model_name.as_deref(),
        aws.as_ref().map(|a| a.region.as_str()),
        options,
        &options_path,
        &model_path,
        d,
    );
    let logging = get(t, "logging");
    let upstream = build(
        url?,
        query_param.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let provider = provider?;
    if let (Some(w), Some(rt)) = (wire, route_type) {
        check_route_type(provider, w, rt, &join(path, "route_type"), d);
    }
    if let Some(w) = wire {
        warn_irrelevant(
            provider,
            w,
            options,
            &options_path,
            get(t, "auth"),
            &auth_path,
            d,
        );
    }
    let opt_bool = |rec: &str, k: &str| {
        options
            .and_then(|o| get(o, rec))
            .and_then(|r| get_bool(r, k))
    };
    let provider_options = ProviderOptions {
        top_k: options.and_then(|o| get_int(o, "top_k")),
        anthropic_version: options
            .and_then(|o| get_str(o, "anthropic_version"))
            .unwrap_or(ANTHROPIC_VERSION)
            .to_string(),
        stream_path: stream_path(provider, &upstream.path_and_query),
        model_path_prefix: model_path_prefix(provider, &upstream.path_and_query),
        aws,
        bedrock_latency: options
            .and_then(|o| get(o, "bedrock"))
            .and_then(|b| get_str(b, "performance_config_latency"))
            .map(str::to_string),
        hf_use_cache: opt_bool("huggingface", "use_cache"),
        hf_wait_for_model: opt_bool("huggingface", "wait_for_model"),
        embedding_input_type: options
            .and_then(|o| get(o, "cohere"))
            .and_then(|c| get_str(c, "embedding_input_type"))
            .map(str::to_string),
    };
    let model_alias = get_str(model, "model_alias").map(str::to_string);
    let key = Arc::new(TargetId {
        plugin: plugin_id.to_string(),
        provider,
        model: model_name.clone().unwrap_or_default(),
        alias: model_alias.clone().unwrap_or_default(),
        upstream: upstream.display.clone(),
        occurrence: 1,
    });
    let target = TargetConfig {
        index,
        key,
        route_type: route_type?,
        provider,
        model_name,
        model_alias,
        weight: get_int(t, "weight")
            .and_then(|w| u32::try_from(w).ok())
            .unwrap_or(100),
        defaults,
        input_cost: opt_num("input_cost"),
        output_cost: opt_num("output_cost"),
        upstream,
        auth: auth?,
        wire: wire?,
        options: provider_options,
        description: get_str(t, "description").map(str::to_string),
        log_statistics: logging
            .and_then(|l| get_bool(l, "log_statistics"))
            .unwrap_or(false),
        log_payloads: logging
            .and_then(|l| get_bool(l, "log_payloads"))
            .unwrap_or(false),
    };
    Some(target)
}

/// `model.options.upstream_url` verbatim, else the provider's own URL. `options_path` is the YAML
/// path of `model.options`, `model_path` that of `model`.
#[allow(clippy::too_many_arguments)]
fn upstream(
    provider: Option<Provider>,
    route_type: Option<RouteType>,
    model_name: Option<&str>,
    aws_region: Option<&str>,
    options: Option<&Value>,
    options_path: &str,
    model_path: &str,
    d: &mut Diag,
) -> Option<ParsedUrl> {
    let opt = |k: &str| options.and_then(|o| get_str(o, k));
    let rec = |r: &str, k: &str| options.and_then(|o| get(o, r)).and_then(|r| get_str(r, k));
    let url_path = join(options_path, "upstream_url");
    if provider == Some(Provider::Azure) {
        for key in ["azure_instance", "azure_deployment_id"] {
            if options.and_then(|o| get(o, key)).is_none() {
                d.err(&join(options_path, key), "is required for provider azure");
            }
        }
    }
    if let Some(u) = opt("upstream_url") {
        return parse_url(u).map_err(|m| d.err(&url_path, m)).ok();
    }
    let provider = provider?;
    let azure = match (opt("azure_instance"), opt("azure_deployment_id")) {
        (Some(instance), Some(deployment_id)) => Some(Azure {
            instance,
            deployment_id,
            api_version: opt("azure_api_version").unwrap_or(AZURE_API_VERSION),
        }),
        // Missing azure keys were reported above.
        _ if provider == Provider::Azure => return None,
        _ => None,
    };
    let vertex = match (
        rec("gemini", "api_endpoint"),
        rec("gemini", "project_id"),
        rec("gemini", "location_id"),
    ) {
        (None, None, None) => None,
        (Some(api_endpoint), Some(project_id), Some(location_id)) => Some(Vertex {
            api_endpoint,
            project_id,
            location_id,
        }),
        _ => {
            d.err(
                &join(options_path, "gemini"),
                "all or none of `api_endpoint`, `project_id`, `location_id` must be set (Vertex AI)",
            );
            return None;
        }
    };
    if provider == Provider::Bedrock && aws_region.is_none() {
        // Reported where the signing settings were resolved.
        return None;
    }
    let parts = UrlParts {
        azure,
        model: model_name,
        vertex,
        aws_region,
        dashscope_international: options
            .and_then(|o| get(o, "dashscope"))
            .and_then(|r| get_bool(r, "international")),
        databricks_instance: rec("databricks", "workspace_instance_id"),
    };
    match provider_url(provider, route_type?, &parts) {
        Ok(u) => parse_url(&u).map_err(|m| d.err(&url_path, m)).ok(),
        Err(e) if e.key == "name" => {
            d.err(&join(model_path, "name"), e.message);
            None
        }
        Err(e) => {
            d.err(&join(options_path, e.key), e.message);
            None
        }
    }
}

/// `(auth, query parameter)`. Enforces Kong's "all or none" groups and refuses what llmux cannot
/// do (managed identities, vault references, values that are not valid HTTP).
fn build_auth(
    a: Option<&Value>,
    path: &str,
    d: &mut Diag,
) -> (Option<Auth>, Option<(String, String)>) {
    let Some(a) = a else {
        return (Some(Auth::default()), None);
    };
    let before = d.error_count();
    for key in ["azure_use_managed_identity", "gcp_use_service_account"] {
        if get_bool(a, key) == Some(true) {
            d.unsupported(&join(path, key), &format!("`{key}: true`"));
        }
    }
    for key in [
        "header_name",
        "header_value",
        "param_name",
        "param_value",
        "aws_access_key_id",
        "aws_secret_access_key",
    ] {
        if get_str(a, key).is_some_and(|s| s.trim_start().starts_with("{vault://")) {
            d.err(
                &join(path, key),
                "vault references are not supported yet by llmux; use ${{ env \"NAME\" }}",
            );
        }
    }
    all_or_none(a, path, &["header_name", "header_value"], d);
    all_or_none(a, path, &["param_name", "param_value", "param_location"], d);

    let header = match (get_str(a, "header_name"), get_str(a, "header_value")) {
        (Some(name), Some(value)) => {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                d.err(
                    &join(path, "header_name"),
                    "is not a valid HTTP header name",
                );
            }
            check_header_value(value, &join(path, "header_value"), d);
            Some((name.to_string(), value.to_string()))
        }
        _ => None,
    };
    let param = match (get_str(a, "param_name"), get_str(a, "param_value")) {
        (Some(n), Some(v)) => Some((n.to_string(), v.to_string())),
        _ => None,
    };
    let (body_param, query_param) = match get_str(a, "param_location") {
        // Quoted once here, so a request inserts the member without formatting anything.
        Some("body") => (param.map(|(n, v)| (n, crate::body::quoted(&v))), None),
        Some("query") => (None, param),
        _ => (None, None),
    };
    if d.error_count() > before {
        return (None, None);
    }
    let auth = Auth {
        header,
        allow_override: get_bool(a, "allow_override").unwrap_or(false),
        body_param,
        query_param_name: query_param.as_ref().map(|(n, _)| n.clone()),
    };
    (Some(auth), query_param)
}

/// Kong's `mutually_required`: set all of `keys` or none.
fn all_or_none(a: &Value, path: &str, keys: &[&str], d: &mut Diag) {
    let set = keys.iter().filter(|k| get(a, k).is_some()).count();
    if set != 0 && set != keys.len() {
        let all: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        d.err(
            path,
            format!("all or none of {} must be set", all.join(", ")),
        );
    }
}

/// The value itself is never printed: it is a secret.
fn check_header_value(value: &str, path: &str, d: &mut Diag) {
    if value.contains(['\r', '\n']) {
        d.err(
            path,
            "contains a line break (check the environment variable it came from)",
        );
    } else if http::HeaderValue::from_bytes(value.as_bytes()).is_err() {
        d.err(
            path,
            "is not a valid HTTP header value (control characters)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(yaml: &str) -> (Option<TargetConfig>, Vec<String>) {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut d = Diag::default();
        let t = build_target(&v, "t", 0, "plugin", &AwsEnv::default(), &mut d);
        (
            t,
            d.errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_json_literals() {
        let (t, errs) = target(
            "route_type: llm/v1/chat\nmodel: {provider: openai, name: gpt-4, options: {max_tokens: 512, temperature: 1, top_p: 0.9}}",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let t = t.unwrap();
        let want = [
            ("max_tokens", "512"),
            ("temperature", "1.0"),
            ("top_p", "0.9"),
        ];
        let got: Vec<(&str, &str)> = t.defaults.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(got, want);
        assert_eq!(
            (t.weight, t.upstream.host.as_str()),
            (100, "api.openai.com")
        );
    }

    #[test]
    fn auth_groups_and_secrets() {
        let (_, errs) = target(
            "route_type: llm/v1/chat\nmodel: {provider: openai}\nauth: {header_value: 'sk-secret', param_name: key}",
        );
        assert_eq!(
            errs,
            vec![
                "t.auth: all or none of `header_name`, `header_value` must be set",
                "t.auth: all or none of `param_name`, `param_value`, `param_location` must be set",
            ]
        );
        let (_, errs) = target(
            "route_type: llm/v1/chat\nmodel: {provider: openai}\nauth: {header_name: Authorization, header_value: \"Bearer sk-x\\n\"}",
        );
        assert_eq!(errs.len(), 1);
        assert!(!errs[0].contains("sk-x"), "{errs:?}");
    }

    #[test]
    fn query_param_goes_into_url() {
        let (t, errs) = target(
            "route_type: llm/v1/embeddings\nmodel: {provider: mistral}\nauth: {param_name: key, param_value: 'a b', param_location: query}",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let t = t.unwrap();
        assert_eq!(t.upstream.path_and_query, "/v1/embeddings?key=a%20b");
        assert_eq!(t.auth.query_param_name.as_deref(), Some("key"));
        assert!(t.auth.body_param.is_none());
    }

    #[test]
    fn required_keys() {
        let (_, errs) = target("model: {provider: azure}");
        assert_eq!(
            errs,
            vec![
                "t.route_type: is required",
                "t.model.options.azure_instance: is required for provider azure",
                "t.model.options.azure_deployment_id: is required for provider azure",
            ]
        );
        let (_, errs) = target("route_type: llm/v1/chat\nmodel: {provider: vllm}");
        assert_eq!(
            errs,
            vec!["t.model.options.upstream_url: is required for provider vllm (a self-hosted server)"]
        );
    }
}
