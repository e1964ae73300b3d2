//! Kong's ai-proxy spec as llmux runs it: Kong's fixture files (copied under
//! `tests/fixtures/kong/ai-proxy/`), the mock provider Kong's specs define in nginx+Lua (here a
//! [`RecordingUpstream`] handler with the same rules), decK configs built the way the specs
//! build theirs (one service, one route per case, an `ai-proxy` plugin on each), and the
//! statistics-log reader the specs call `wait_for_json_log_entry`.

use super::{
    build_request, Gateway, GatewayOpts, Recorded, RecordingUpstream, Reply, Response,
    ResponseReader, TempFile, WAIT,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;

/// The plugin id Kong's specs give the route whose statistics they check.
pub const KONG_PLUGIN_ID: &str = "6e7c40f6-ce96-48e4-a366-d109c169e444";

/// A fixture file from Kong's `spec/fixtures/ai-proxy/`, by its path under that directory.
pub fn fixture(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kong/ai-proxy")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// Which provider's mock Kong's spec starts: the header it checks and the key it accepts.
#[derive(Clone, Copy, Debug)]
pub struct MockAuth {
    pub header: &'static str,
    pub value: &'static str,
    /// Also accepted as the `apikey` query parameter or body member (OpenAI's mock only).
    pub param: Option<&'static str>,
}

pub const OPENAI_AUTH: MockAuth = MockAuth {
    header: "authorization",
    value: "Bearer openai-key",
    param: Some("openai-key"),
};
pub const AZURE_AUTH: MockAuth = MockAuth {
    header: "api-key",
    value: "azure-key",
    param: None,
};
pub const MISTRAL_AUTH: MockAuth = MockAuth {
    header: "authorization",
    value: "Bearer mistral-key",
    param: None,
};

/// The body as the Lua mocks decode it (cjson: the last of duplicate keys wins, as in Python,
/// Go and JavaScript: the parsers a credential in the body must not be smuggled past).
pub fn lua_decode(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

fn query_param<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let (_, q) = path.split_once('?')?;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .next_back()
}

fn authorized(rec: &Recorded, auth: MockAuth) -> bool {
    if rec.header(auth.header) == Some(auth.value) {
        return true;
    }
    let Some(key) = auth.param else {
        return false;
    };
    query_param(&rec.path, "apikey") == Some(key)
        || lua_decode(&rec.body).is_some_and(|b| b["apikey"] == key)
}

/// Kong's mock provider (the `location` blocks of `02-openai`, `05-azure` and `06-mistral`):
/// `<prefix>/llm/v1/{chat,completions,embeddings}/<case>` and Mistral's `/v1/...` paths.
pub fn kong_mock(auth: MockAuth) -> RecordingUpstream {
    RecordingUpstream::start(move |rec| {
        let path = rec.path.split('?').next().unwrap_or("");
        let ok = authorized(rec, auth);
        let body = lua_decode(&rec.body);
        let json = |status: u16, file: &str| Reply::json(status, &fixture(file));
        let chat_401 = || json(401, "openai/llm-v1-chat/responses/unauthorized.json");
        let bad_chat = || json(400, "openai/llm-v1-chat/responses/bad_request.json");
        match path {
            "/llm/v1/chat/good" if !ok => chat_401(),
            "/llm/v1/chat/good" => match body {
                Some(b) if !b["messages"].is_null() => {
                    json(200, "openai/llm-v1-chat/responses/good.json")
                }
                _ => bad_chat(),
            },
            "/llm/v1/chat/bad_upstream_response" if rec.header(auth.header) != Some(auth.value) => {
                chat_401()
            }
            "/llm/v1/chat/bad_upstream_response" => json(
                200,
                "openai/llm-v1-chat/responses/bad_upstream_response.json",
            ),
            "/llm/v1/chat/bad_request" => bad_chat(),
            "/llm/v1/chat/internal_server_error" => Reply::body(
                500,
                "text/html",
                fixture("openai/llm-v1-chat/responses/internal_server_error.html"),
            ),
            "/llm/v1/completions/good" if !ok => {
                json(401, "openai/llm-v1-completions/responses/unauthorized.json")
            }
            "/llm/v1/completions/good" => match body {
                Some(_) => json(200, "openai/llm-v1-completions/responses/good.json"),
                None => json(400, "openai/llm-v1-completions/responses/bad_request.json"),
            },
            "/llm/v1/completions/bad_request" => {
                json(400, "openai/llm-v1-completions/responses/bad_request.json")
            }
            "/llm/v1/embeddings/good" if !ok => chat_401(),
            "/llm/v1/embeddings/good" => match body {
                Some(b)
                    if b["input"] == "The food was delicious and the waiter"
                        && b["model"] == "text-embedding-ada-002" =>
                {
                    json(200, "openai/llm-v1-embeddings/responses/good.json")
                }
                _ => bad_chat(),
            },
            "/v1/chat/completions" if !ok => chat_401(),
            "/v1/chat/completions" => match body {
                Some(b) if !b["messages"].is_null() => {
                    json(200, "mistral/llm-v1-chat/responses/good.json")
                }
                _ => bad_chat(),
            },
            "/v1/completions" if !ok => {
                json(401, "openai/llm-v1-completions/responses/unauthorized.json")
            }
            "/v1/completions" => match body {
                Some(b) if !b["prompt"].is_null() => {
                    json(200, "mistral/llm-v1-completions/responses/good.json")
                }
                _ => json(400, "openai/llm-v1-completions/responses/bad_request.json"),
            },
            _ => Reply::json(404, r#"{"error":{"message":"no such mock location"}}"#),
        }
    })
}

/// One route of a Kong spec: its path and its `ai-proxy` plugin's `config` (and `id`).
pub struct KongRoute {
    pub path: &'static str,
    pub plugin_id: Option<&'static str>,
    pub config: Value,
}

/// A route whose plugin config is `config`.
pub fn route(path: &'static str, config: Value) -> KongRoute {
    KongRoute {
        path,
        plugin_id: None,
        config,
    }
}

/// The decK document Kong's specs insert with `bp.services`/`bp.routes`/`bp.plugins`: an
/// `empty_service`, one route per case (`strip_path`, http and https), an `ai-proxy` on each.
/// JSON is YAML, so the document is written with serde_json.
pub fn deck_config(routes: &[KongRoute]) -> String {
    let routes: Vec<Value> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut plugin = json!({"name": "ai-proxy", "config": r.config});
            if let Some(id) = r.plugin_id {
                plugin["id"] = json!(id);
            }
            json!({
                "name": format!("route-{i}"),
                "paths": [r.path],
                "protocols": ["http", "https"],
                "strip_path": true,
                "plugins": [plugin],
            })
        })
        .collect();
    let doc = json!({
        "_format_version": "3.0",
        "services": [{
            "name": "empty_service",
            "host": "localhost",
            "port": 8080,
            "path": "/",
            "routes": routes,
        }],
    });
    serde_json::to_string_pretty(&doc).expect("config serialises")
}

/// A gateway on `config` whose statistics log goes to a fresh file.
pub struct KongGateway {
    pub gw: Gateway,
    pub log: TempFile,
}

impl KongGateway {
    pub fn start(config: &str) -> KongGateway {
        KongGateway::start_with_env(config, &[])
    }

    /// [`KongGateway::start`] with environment variables (Kong's `helpers.setenv`).
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> KongGateway {
        let log = TempFile::with_contents("stats", "log", "");
        let gw = Gateway::start_with(
            config,
            GatewayOpts {
                args: vec!["--access-log".into(), log.path_str().into()],
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..GatewayOpts::default()
            },
        );
        KongGateway { gw, log }
    }

    /// `client:get(path, {headers, body})` as Kong's specs send it: a GET with a JSON body,
    /// `Content-Type` and `Accept: application/json`, then `headers`.
    pub fn get(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, body, headers)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        let addr = self.gw.addr();
        let mut all = vec![("Accept", "application/json"), ("Connection", "close")];
        all.extend_from_slice(headers);
        let mut reader = ResponseReader::connect(addr);
        reader.send(&build_request(method, addr, path, body.as_bytes(), &all));
        reader.read_response()
    }

    /// The statistics-log lines written so far, parsed.
    pub fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log.path())
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}")))
            .collect()
    }

    /// Kong's `wait_for_json_log_entry`: the `n`th (1-based) line once it has been written.
    pub fn wait_log_line(&self, n: usize) -> Value {
        let started = Instant::now();
        loop {
            let lines = self.log_lines();
            if lines.len() >= n {
                return lines[n - 1].clone();
            }
            if started.elapsed() > WAIT {
                panic!(
                    "statistics log has {} lines, waited for {n}\n--- stderr ---\n{}",
                    lines.len(),
                    self.gw.stderr()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Kong's `ai-proxy` config for an OpenAI-format target (the specs' common shape).
pub fn ai_proxy(
    route_type: &str,
    provider: &str,
    name: Option<&str>,
    auth: Value,
    options: Value,
) -> Value {
    let mut model = json!({"provider": provider, "options": options});
    if let Some(name) = name {
        model["name"] = json!(name);
    }
    json!({"route_type": route_type, "auth": auth, "model": model})
}

/// The specs' `options` block: `max_tokens: 256`, `temperature: 1.0`, the mock's URL, plus
/// `extra` members.
pub fn options(url: String, extra: Value) -> Value {
    let mut o = json!({"max_tokens": 256, "temperature": 1.0, "upstream_url": url});
    if let (Some(o), Some(extra)) = (o.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            o.insert(k.clone(), v.clone());
        }
    }
    o
}

/// `auth` with a header.
pub fn header_auth(name: &str, value: &str, allow_override: Option<bool>) -> Value {
    let mut a = json!({"header_name": name, "header_value": value});
    if let Some(v) = allow_override {
        a["allow_override"] = json!(v);
    }
    a
}

/// `auth` with a query or body parameter.
pub fn param_auth(location: &str, value: &str, allow_override: bool) -> Value {
    json!({
        "param_name": "apikey",
        "param_value": value,
        "param_location": location,
        "allow_override": allow_override,
    })
}

/// `logging` for a config.
pub fn with_logging(mut config: Value, statistics: bool, payloads: bool) -> Value {
    config["logging"] = json!({"log_statistics": statistics, "log_payloads": payloads});
    config
}

/// The response body as JSON (panics with the body when it is not).
pub fn body_json(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {}", r.body_str()))
}

/// Kong's checks on a good chat answer (`chatcmpl-8T6Y...`, `gpt-3.5-turbo-0613`).
pub fn assert_good_chat(r: &Response, model: &str) {
    assert_eq!(r.status, 200, "{}", r.body_str());
    let json = body_json(r);
    assert_eq!(json["id"], "chatcmpl-8T6YwgvjQVVnGbJ2w8hpOA17SeNy2");
    assert_eq!(json["model"], model);
    assert_eq!(json["object"], "chat.completion");
    assert_eq!(
        json["choices"][0]["message"],
        json!({"content": "The sum of 1 + 1 is 2.", "role": "assistant"})
    );
}

/// Kong's checks on a good completions answer.
pub fn assert_good_completion(r: &Response, model: &str) {
    assert_eq!(r.status, 200, "{}", r.body_str());
    let json = body_json(r);
    assert_eq!(json["id"], "cmpl-8TBeaJVQIhE9kHEJbk1RnKzgFxIqN");
    assert_eq!(json["model"], model);
    assert_eq!(json["object"], "text_completion");
    assert_eq!(
        json["choices"][0]["text"],
        "\n\nI am a language model AI created by OpenAI. I can answer questions"
    );
}

/// Kong's check on the provider's 401 passed through.
pub fn assert_invalid_api_key(r: &Response) {
    assert_eq!(r.status, 401, "{}", r.body_str());
    assert_eq!(body_json(r)["error"]["code"], "invalid_api_key");
}

/// Kong's check on its own 400 for a body without prompts.
pub fn assert_no_prompts(r: &Response) {
    assert_eq!(r.status, 400, "{}", r.body_str());
    assert_eq!(
        body_json(r)["error"]["message"],
        "request body doesn't contain valid prompts"
    );
}

/// The members Kong's `ai.proxy.meta` has, and the ones llmux adds (docs/decisions.md).
pub const KONG_META_KEYS: &[&str] = &[
    "plugin_id",
    "provider_name",
    "request_model",
    "response_model",
    "llm_latency",
];
pub const LLMUX_META_EXTRAS: &[&str] = &["request_mode", "tried_targets"];
pub const KONG_USAGE_KEYS: &[&str] = &[
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "time_per_token",
    "cost",
];
pub const LLMUX_USAGE_EXTRAS: &[&str] = &["time_to_first_token"];

/// Kong's statistics assertion: `meta` and `usage` equal the expected values once
/// `llm_latency` and `time_per_token` are set to 1, `time_per_token` is `llm_latency /
/// completion_tokens` to 3 decimals, and the only other members are llmux's documented extras.
pub fn assert_kong_stats(line: &Value, expected_meta: Value, expected_usage: Value) {
    assert_eq!(line["client_ip"], "127.0.0.1", "{line}");
    assert!(line["request"]["size"].is_u64(), "{line}");
    assert!(
        line["response"]["size"].as_u64().is_some_and(|n| n > 0),
        "{line}"
    );
    let stats = &line["ai"]["proxy"];
    let mut meta = stats["meta"].clone();
    let mut usage = stats["usage"].clone();
    let latency = meta["llm_latency"]
        .as_u64()
        .expect("llm_latency is whole ms");
    let per_token = usage["time_per_token"].as_f64().expect("time_per_token");
    let completion = usage["completion_tokens"]
        .as_u64()
        .expect("completion_tokens");
    assert_eq!(
        format!("{per_token:.3}"),
        format!("{:.3}", latency as f64 / completion as f64)
    );
    meta["llm_latency"] = json!(1);
    usage["time_per_token"] = json!(1);
    for (obj, kong, extras) in [
        (&mut meta, KONG_META_KEYS, LLMUX_META_EXTRAS),
        (&mut usage, KONG_USAGE_KEYS, LLMUX_USAGE_EXTRAS),
    ] {
        let shown = obj.to_string();
        let map = obj.as_object_mut().expect("an object");
        let mut keys: Vec<String> = map.keys().cloned().collect();
        keys.sort_unstable();
        let mut want: Vec<String> = kong.iter().chain(extras).map(|k| k.to_string()).collect();
        want.sort_unstable();
        assert_eq!(keys, want, "members of {shown}");
        for k in extras.iter() {
            map.remove(*k);
        }
    }
    assert_eq!(meta, expected_meta);
    assert_eq!(usage, expected_usage);
}

/// `llmux validate` on a decK document with one route whose plugin config is `config`: whether
/// it loads, and what llmux printed.
pub fn validate_route(path: &'static str, config: Value) -> (bool, String) {
    let file = TempFile::with_contents("kong-config", "yaml", deck_config(&[route(path, config)]));
    let (status, out, err) = super::run_cli(&["validate", "--config", file.path_str()], &[]);
    (status.success(), format!("{out}{err}"))
}

/// Kong's `llm/v1/completions` cases on a provider llmux translates: llmux does not translate
/// the legacy completions API for any provider with its own wire format, so the route is
/// refused when the configuration loads, naming the route type (docs/decisions.md,
/// "Completions on translated providers").
pub fn assert_completions_refused_at_load(path: &'static str, config: Value) {
    let (ok, out) = validate_route(path, config);
    assert!(!ok, "{out}");
    assert!(
        out.contains("llm/v1/completions") && out.contains("not supported"),
        "{out}"
    );
}
