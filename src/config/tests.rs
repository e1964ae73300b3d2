//! Whole-file loading: the seeds, errors, warnings, secrets.

use super::*;

const KEY: &str = "sk-test-123";

pub(super) fn env(name: &str) -> Option<String> {
    (name == "DECK_OPENAI_API_KEY").then(|| KEY.to_string())
}

pub(super) fn load(yaml: &str) -> Result<Loaded, ConfigErrors> {
    load_str(yaml, "t.yaml", &env)
}

/// `path: message` of every error.
pub(super) fn errors(yaml: &str) -> Vec<String> {
    match load(yaml) {
        Ok(_) => vec![],
        Err(e) => {
            e.0.iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect()
        }
    }
}

/// A global plugin around the given `targets` list and extra config lines.
pub(super) fn plugin(config: &str) -> String {
    format!("_format_version: \"3.0\"\nplugins:\n- name: ai-proxy-advanced\n  config:\n{config}")
}

const TARGET: &str =
    "    targets:\n    - route_type: llm/v1/chat\n      model: {provider: openai, name: gpt-4o}\n";

#[test]
fn seed_route_by_model_alias_loads() {
    let l = load(include_str!("../../config/route-by-model-alias.yaml")).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = &l.config;
    assert!(c.catch_all.is_none());
    assert_eq!(c.routes.len(), 1);
    let RouteMatch::Plugin {
        route: Some(r),
        plugin,
    } = c.match_route("POST", "/anything")
    else {
        panic!("no match");
    };
    assert_eq!(
        (r.name.as_str(), r.service.as_deref()),
        ("example-route", Some("example-service"))
    );
    let aliases: Vec<_> = plugin
        .targets
        .iter()
        .map(|t| t.model_alias.as_deref())
        .collect();
    assert_eq!(aliases, [Some("powerful"), Some("fast")]);
    let t = &plugin.targets[1];
    assert_eq!(t.model_name.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        t.auth.header,
        Some(("Authorization".into(), format!("Bearer {KEY}")))
    );
    assert_eq!(
        (t.upstream.host.as_str(), t.upstream.port, t.upstream.tls),
        ("api.openai.com", 443, true)
    );
    assert_eq!(t.upstream.path_and_query, "/v1/chat/completions");
    assert!(matches!(
        c.match_route("POST", "/other"),
        RouteMatch::NoRoute
    ));
}

/// The tutorial's two decK blocks, byte for byte, each loaded on its own.
#[test]
fn seed_route_by_model_alias_blocks_load_unchanged() {
    let entities = "\n_format_version: \"3.0\"\nservices:\n  - name: example-service\n    url: http://httpbin.konghq.com/anything\nroutes:\n  - name: example-route\n    paths:\n    - \"/anything\"\n    service:\n      name: example-service\n    protocols:\n    - http\n    - https\n";
    let l = load(entities).unwrap();
    assert!(matches!(
        l.config.match_route("POST", "/anything"),
        RouteMatch::NoPlugin { .. }
    ));
    assert_eq!(l.warnings.len(), 1, "no AI plugin: {:?}", l.warnings);
    let plugin_block = "\n_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy-advanced\n    config:\n      targets:\n      - route_type: llm/v1/chat\n        auth:\n          header_name: Authorization\n          header_value: Bearer ${{ env \"DECK_OPENAI_API_KEY\" }}\n        model:\n          provider: openai\n          name: gpt-4o\n          model_alias: powerful\n      - route_type: llm/v1/chat\n        auth:\n          header_name: Authorization\n          header_value: Bearer ${{ env \"DECK_OPENAI_API_KEY\" }}\n        model:\n          provider: openai\n          name: gpt-4o-mini\n          model_alias: fast\n";
    let l = load(plugin_block).unwrap();
    assert!(l.warnings.is_empty());
    assert!(matches!(
        l.config.match_route("POST", "/anything"),
        RouteMatch::Plugin { route: None, .. }
    ));
}

#[test]
fn seed_lowest_usage_loads_as_catch_all() {
    let l = load(include_str!("../../config/lowest-usage-balancing.yaml")).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let RouteMatch::Plugin {
        route: None,
        plugin,
    } = l.config.match_route("POST", "/v1/chat/completions")
    else {
        panic!("catch-all expected");
    };
    assert_eq!(plugin.balancer.algorithm, Algorithm::LowestUsage);
    assert_eq!(
        plugin.balancer.tokens_count_strategy,
        TokensCountStrategy::PromptTokens
    );
    assert_eq!(plugin.balancer.retries, 5);
    let defaults: Vec<(&str, &str)> = plugin.targets[0]
        .defaults
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    assert_eq!(defaults, [("max_tokens", "512"), ("temperature", "1.0")]);
    assert_eq!(plugin.id, "ai-proxy-advanced@global");
}

#[test]
fn seed_lowest_usage_scoped_variants() {
    let file = include_str!("../../config/lowest-usage-balancing.yaml");
    let scoped = |line: &str| {
        file.replace(
            "- name: ai-proxy-advanced\n",
            &format!("- name: ai-proxy-advanced\n  {line}\n"),
        )
    };
    assert_eq!(
        errors(&scoped("service: serviceName|Id")),
        ["plugins[0].service: service `serviceName|Id` is not defined in this file"]
    );
    let with_service = scoped("service: svc").replace(
        "plugins:",
        "services:\n- name: svc\n  url: http://x\n  routes:\n  - paths: [/v1]\nplugins:",
    );
    let l = load(&with_service).unwrap();
    assert!(matches!(
        l.config.match_route("POST", "/v1/chat"),
        RouteMatch::Plugin { route: Some(_), .. }
    ));
    assert_eq!(
        errors(&scoped("consumer: consumerName|Id")),
        ["plugins[0].consumer: consumer `consumerName|Id` is not defined in this file"]
    );
    let with_consumer =
        scoped("consumer: alice").replace("plugins:", "consumers:\n- username: alice\nplugins:");
    assert_eq!(
        errors(&with_consumer),
        ["plugins[0].consumer: an AI proxy plugin scoped to a consumer is not supported yet by llmux"]
    );
    assert_eq!(
        errors(&scoped("consumer_group: consumerGroupName|Id")),
        ["plugins[0].consumer_group: consumer groups are not supported yet by llmux"]
    );
}

#[test]
fn unknown_key_path() {
    let yaml = plugin("    targets:\n    - route_type: llm/v1/chat\n      model: {provider: openai}\n    - route_type: llm/v1/chat\n      model: {provider: openai, nmae: gpt-4o}\n");
    assert_eq!(
        errors(&yaml),
        ["plugins[0].config.targets[1].model.nmae: unknown field"]
    );
    let shown = load(&yaml).unwrap_err().to_string();
    assert_eq!(
        shown,
        "t.yaml: plugins[0].config.targets[1].model.nmae: unknown field"
    );
}

#[test]
fn several_errors_reported_together() {
    let yaml = "_format_version: \"3.0\"\nservicez: []\nroutes:\n- name: r\n  paths: [v1]\n  service: nope\nplugins:\n- name: ai-proxy-advanced\n  config:\n    balancer: {algorithm: semantic, retries: -1}\n    targets:\n    - route_type: llm/v1/chat\n      weight: 0\n      auth: {header_name: Authorization, header_value: 'Bearer ${{ env \"DECK_NOPE\" }}'}\n      model: {provider: anthropic, nmae: x}\n";
    assert_eq!(
        errors(yaml),
        [
            "plugins[0].config.targets[0].auth.header_value: environment variable DECK_NOPE is not set",
            "servicez: unknown field",
            "routes[0].service: service `nope` is not defined in this file",
            "plugins[0].config.balancer.algorithm: `semantic` is not supported yet by llmux",
            "plugins[0].config.balancer.retries: must be between 0 and 32767",
            "plugins[0].config.targets[0].weight: must be between 1 and 65535",
            "plugins[0].config.targets[0].model.nmae: unknown field",
            "routes[0].paths[0]: must start with `/` (prefix) or `~` (regular expression)",
        ]
    );
}

#[test]
fn env_substitution() {
    let yaml = plugin(&format!("{TARGET}      auth: {{header_name: X-Key, header_value: 'a${{{{ env \"DECK_OPENAI_API_KEY\" }}}}b${{{{ env \"DECK_OPENAI_API_KEY\" }}}}'}}\n"));
    let l = load(&yaml).unwrap();
    let p = l.config.catch_all.unwrap();
    assert_eq!(
        p.targets[0].auth.header.as_ref().unwrap().1,
        format!("a{KEY}b{KEY}")
    );
    let none = |_: &str| None;
    let e = load_str(
        include_str!("../../config/lowest-usage-balancing.yaml"),
        "lu.yaml",
        &none,
    )
    .unwrap_err();
    let lines: Vec<String> = e.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "lu.yaml: plugins[0].config.targets[0].auth.header_value: environment variable DECK_OPENAI_API_KEY is not set",
            "lu.yaml: plugins[0].config.targets[1].auth.header_value: environment variable DECK_OPENAI_API_KEY is not set",
        ]
    );
}

#[test]
fn secrets_never_shown() {
    let l = load(include_str!("../../config/route-by-model-alias.yaml")).unwrap();
    let debug = format!("{l:?}");
    assert!(
        debug.contains("<redacted>") && !debug.contains(KEY),
        "{debug}"
    );
    let summary = l.config.summary();
    assert!(!summary.contains(KEY), "{summary}");
    assert!(
        summary.contains("example-route")
            && summary.contains("openai/gpt-4o-mini alias fast weight 100"),
        "{summary}"
    );
    let q = plugin(&format!(
        "{TARGET}      auth: {{param_name: key, param_value: '{KEY}', param_location: query}}\n"
    ));
    let l = load(&q).unwrap();
    assert!(!format!("{l:?}").contains(KEY) && !l.config.summary().contains(KEY));
    assert!(l.config.catch_all.unwrap().targets[0]
        .upstream
        .path_and_query
        .ends_with(&format!("?key={KEY}")));
    let bad = plugin(&format!(
        "{TARGET}      auth: {{header_name: 'Bad Name', header_value: \"{KEY}\\r\\n\"}}\n"
    ));
    let shown = load(&bad).unwrap_err().to_string();
    assert!(
        !shown.contains(KEY) && shown.lines().count() == 2,
        "{shown}"
    );
}

#[test]
fn warnings_for_ignored_keys() {
    let yaml = format!(
        "_info: {{select_tags: [a]}}\n{}      metadata: {{a: 1}}\n      auth: {{aws_access_key_id: x}}\n      logging: {{log_payloads: true}}\n- name: request-transformer\n  config: {{add: {{}}}}\n- name: key-auth\n  enabled: false\n",
        plugin(&TARGET.replace("gpt-4o}", "gpt-4o, options: {top_k: 5, bedrock: {aws_region: x}}}"))
    );
    let l = load(&yaml).unwrap();
    assert_eq!(
        l.warnings,
        [
            "t.yaml: _info: is not implemented by llmux and is ignored",
            "t.yaml: plugins[0].config.targets[0].metadata: is not implemented by llmux and is ignored",
            "t.yaml: plugins[0].config.targets[0].model.options.top_k: has no effect for provider openai and is ignored",
            "t.yaml: plugins[0].config.targets[0].model.options.bedrock: has no effect for provider openai and is ignored",
            "t.yaml: plugins[0].config.targets[0].auth.aws_access_key_id: has no effect for provider openai and is ignored",
            "t.yaml: plugins[1]: plugin `request-transformer` is not implemented by llmux and is ignored",
        ]
    );
    assert!(l.config.catch_all.unwrap().log_payloads);
}

#[test]
fn refused_settings() {
    let e = errors(&plugin(&format!("    vectordb: {{strategy: redis}}\n    acls: {{deny: []}}\n    llm_format: gemini\n    genai_category: audio/speech\n{TARGET}")));
    assert_eq!(
        e,
        [
            "plugins[0].config.vectordb: `vectordb` is not supported yet by llmux",
            "plugins[0].config.acls: `acls` is not supported yet by llmux",
            "plugins[0].config.genai_category: `audio/speech` is not supported yet by llmux",
            "plugins[0].config.targets[0].model.provider: must be gemini when llm_format is gemini: native formats pass through to their own provider (translating gemini to openai is not supported yet by llmux)",
        ]
    );
    let e = errors(&format!(
        "{}- name: basic-auth\n  route: r\nroutes:\n- name: r\n  paths: [/]\n  hosts: [a.example]\n",
        plugin(TARGET)
    ));
    assert_eq!(
        e,
        [
            "routes[0].hosts: routing by `hosts` is not supported yet by llmux",
            "plugins[1]: plugin `basic-auth` is not supported yet by llmux: it authenticates clients, and llmux would serve requests it rejects",
        ]
    );
    let e = errors(&plugin(
        &TARGET
            .replace("gpt-4o}", "gpt-4o, options: {upstream_path: /x}}")
            .replace("chat\n", "assistants\n"),
    ));
    assert_eq!(
        e,
        [
            "plugins[0].config.targets[0].route_type: `llm/v1/assistants` is not supported yet by llmux",
            "plugins[0].config.targets[0].model.options.upstream_path: `upstream_path` is not supported yet by llmux",
        ]
    );
}

#[test]
fn cost_strategy_needs_costs_and_statistics() {
    let base = "    balancer: {tokens_count_strategy: cost}\n    targets:\n    - route_type: llm/v1/chat\n      model: {provider: openai, options: {input_cost: 2.5, output_cost: 10}}\n      logging: {log_statistics: true}\n    - route_type: llm/v1/chat\n      model: {provider: openai, options: {input_cost: 1}}\n";
    assert_eq!(
        errors(&plugin(base)),
        [
            "plugins[0].config.targets[1].model.options.output_cost: is required when balancer.tokens_count_strategy is cost",
            "plugins[0].config.targets[1].logging.log_statistics: must be true when balancer.tokens_count_strategy is cost",
        ]
    );
    let ok = base.replace(
        "{input_cost: 1}}\n",
        "{input_cost: 1, output_cost: 2}}\n      logging: {log_statistics: true}\n",
    );
    let p = load(&plugin(&ok)).unwrap().config.catch_all.unwrap();
    assert_eq!(
        (p.targets[0].input_cost, p.targets[0].output_cost),
        (Some(2.5), Some(10.0))
    );
    assert!(p.log_statistics);
}

#[test]
fn upstream_urls() {
    let azure = plugin("    targets:\n    - route_type: llm/v1/chat\n      model: {provider: azure, name: gpt-4o, options: {azure_instance: my-inst, azure_deployment_id: dep1}}\n    - route_type: llm/v1/embeddings\n      model: {provider: azure, options: {azure_instance: my-inst, azure_deployment_id: emb, azure_api_version: '2024-02-01'}}\n");
    let p = load(&azure).unwrap().config.catch_all.unwrap();
    assert_eq!(p.targets[0].upstream.host, "my-inst.openai.azure.com");
    assert_eq!(
        p.targets[0].upstream.path_and_query,
        "/openai/deployments/dep1/chat/completions?api-version=2023-05-15"
    );
    assert_eq!(
        p.targets[1].upstream.path_and_query,
        "/openai/deployments/emb/embeddings?api-version=2024-02-01"
    );
    assert_eq!(
        errors(&plugin("    targets:\n    - route_type: llm/v1/chat\n      model: {provider: azure}\n")),
        [
            "plugins[0].config.targets[0].model.options.azure_instance: is required for provider azure",
            "plugins[0].config.targets[0].model.options.azure_deployment_id: is required for provider azure",
        ]
    );
    let vllm = plugin("    targets:\n    - route_type: llm/v1/completions\n      model: {provider: vllm, options: {upstream_url: 'http://gpu-1:8000/v1/completions?tenant=a'}}\n");
    let u = load(&vllm).unwrap().config.catch_all.unwrap().targets[0]
        .upstream
        .clone();
    assert_eq!((u.tls, u.host.as_str(), u.port), (false, "gpu-1", 8000));
    assert_eq!(
        (u.path_and_query.as_str(), u.host_header.as_str()),
        ("/v1/completions?tenant=a", "gpu-1:8000")
    );
    assert_eq!(
        errors(&vllm.replace("http://gpu-1", "ftp://gpu-1")),
        ["plugins[0].config.targets[0].model.options.upstream_url: scheme must be http or https"]
    );
}

#[test]
fn document_level_errors() {
    assert_eq!(
        errors("plugins: []"),
        ["_format_version: is required and must be \"3.0\""]
    );
    assert_eq!(
        errors("_format_version: \"1.1\""),
        ["_format_version: must be \"3.0\""]
    );
    let e = errors("_format_version: \"3.0\"\nplugins: [\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with(": invalid YAML"), "{e:?}");
    assert_eq!(
        errors("- a\n- b"),
        [": expected a mapping at the top of the file, found a list"]
    );
    assert_eq!(
        errors(""),
        [": expected a mapping at the top of the file, found null"]
    );
}

/// No input makes the loader panic: every prefix of a realistic file, and odd shapes.
#[test]
fn never_panics() {
    let text = format!(
        "{}\n{}",
        include_str!("../../config/route-by-model-alias.yaml"),
        "  - name: ai-proxy\n    route: example-route\n    config: {route_type: llm/v1/chat, model: {provider: vllm, options: {upstream_url: 'http://[::1]:1/x'}}}\n"
    );
    let mut cut = 0;
    while cut < text.len() {
        let _ = load(&text[..cut]);
        cut += 1;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
    }
    for odd in [
        "_format_version: 3.0\nservices: 5\nroutes: {a: 1}\nplugins: [1, null, [], {name: 7}]",
        "_format_version: '3.0'\nplugins: [{name: ai-proxy-advanced, config: []}, {name: ai-proxy, config: 3}]",
        "_format_version: '3.0'\nservices: [{name: s, url: u, routes: [{paths: 1, methods: [get]}], plugins: {}}]",
        "_format_version: '3.0'\nplugins: [{name: ai-proxy-advanced, config: {targets: [null, 3, {model: null, route_type: 4}]}}]",
        "_format_version: '3.0'\nroutes: [{paths: ['~(']}, {paths: ['/a%']}, {methods: ['']}]\n? [a]\n: b",
    ] {
        assert!(load(odd).is_err(), "{odd}");
    }
}
