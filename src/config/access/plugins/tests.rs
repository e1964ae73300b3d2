use super::*;

fn build(name: &str, yaml: &str) -> (Option<AccessPlugin>, Vec<String>, Vec<String>) {
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let mut d = Diag::default();
    let find = |s: &str| (s == "anon").then_some(7);
    let cx = BuildCx {
        id: "p".into(),
        find_consumer: &find,
        consumer_scoped: false,
    };
    let built = build_access_plugin(name, Some(&v), "plugins[0].config", &cx, &mut d);
    let lines = |v: &[crate::config::ConfigError]| {
        v.iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    };
    (built, lines(&d.errors), lines(&d.warnings))
}

#[test]
fn key_auth_defaults_and_anonymous() {
    let (p, errors, _) = build(KEY_AUTH, "anonymous: anon\nrealm: llm");
    assert!(errors.is_empty(), "{errors:?}");
    let Some(AccessPlugin::KeyAuth(k)) = p else {
        panic!()
    };
    assert_eq!(k.key_names, vec!["apikey"]);
    assert!(k.in_header && k.in_query && !k.in_body && k.run_on_preflight);
    assert_eq!(k.anonymous, Some(7));
    assert_eq!(k.www_authenticate, "Key realm=\"llm\"");
    let (_, errors, warnings) = build(
        KEY_AUTH,
        "anonymous: nobody\nkey_names: [a b, model]\nkey_in_body: true\nhide_credentials: false",
    );
    assert_eq!(
        errors,
        vec![
            "plugins[0].config.key_names[0]: may only contain letters, digits, `-` and `_`",
            "plugins[0].config.key_names[1]: `model` cannot be a key name with key_in_body: llmux rewrites that member",
            "plugins[0].config.anonymous: consumer `nobody` is not defined in this file",
        ]
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn acl_verdicts_follow_kong() {
    let consumers = vec![vec![], vec!["gold".to_string()], vec!["bronze".to_string()]];
    let (
        Some(AccessPlugin::Acl {
            mut acl,
            deny,
            groups,
        }),
        _,
        _,
    ) = build(ACL, "allow: [gold]")
    else {
        panic!()
    };
    acl.decide(deny, &groups, &consumers);
    assert_eq!(
        acl.verdicts,
        vec![AclVerdict::NoGroups, AclVerdict::Allow, AclVerdict::Forbid]
    );
    let (
        Some(AccessPlugin::Acl {
            mut acl,
            deny,
            groups,
        }),
        _,
        _,
    ) = build(ACL, "deny: [gold]")
    else {
        panic!()
    };
    acl.decide(deny, &groups, &consumers);
    assert_eq!(
        acl.verdicts,
        vec![AclVerdict::Allow, AclVerdict::Forbid, AclVerdict::Allow]
    );
    assert_eq!(acl.verdict(None), AclVerdict::NoGroups);
    let (_, errors, _) = build(ACL, "allow: [a]\ndeny: [b]");
    assert_eq!(
        errors,
        vec!["plugins[0].config: only one of `allow` or `deny` may be set"]
    );
}

#[test]
fn rate_limiting_checks() {
    let (p, errors, _) = build(RATE_LIMITING, "minute: 5\nsecond: 1\nlimit_by: ip");
    assert!(errors.is_empty(), "{errors:?}");
    let Some(AccessPlugin::RequestLimit(r)) = p else {
        panic!()
    };
    assert_eq!(r.limits, vec![(Period::Second, 1.0), (Period::Minute, 5.0)]);
    assert_eq!(
        (r.limit_by, r.error_code, r.error_message.as_str()),
        (LimitBy::Ip, 429, "API rate limit exceeded")
    );
    let (_, errors, _) = build(
        RATE_LIMITING,
        "second: 10\nhour: 5\nlimit_by: header\nsync_rate: 1\npolicy: cluster",
    );
    assert_eq!(
        errors,
        vec![
            "plugins[0].config.policy: `cluster` is not supported yet by llmux",
            "plugins[0].config.hour: The limit for hour(5.0) cannot be lower than the limit for second(10.0)",
            "plugins[0].config.sync_rate: sync_rate can only be used with the redis policy",
            "plugins[0].config.header_name: is required when limit_by is header",
        ]
    );
    let (_, errors, _) = build(RATE_LIMITING, "limit_by: ip");
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn token_limit_headers_and_defaults() {
    let (p, errors, warnings) = build(
        AI_RATE_LIMITING_ADVANCED,
        "llm_providers: [{name: openai, limit: [100, 1000], window_size: [60, 3600]}, {name: cohere, limit: [5], window_size: [60]}]",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert!(warnings.is_empty(), "{warnings:?}");
    let Some(AccessPlugin::TokenLimit(t)) = p else {
        panic!()
    };
    assert_eq!(t.providers[1].provider, Some(Provider::Cohere));
    assert_eq!(t.window_type, WindowType::Sliding);
    assert_eq!(t.count, TokenCount::TotalTokens);
    assert_eq!(t.identifier, LimitBy::Consumer);
    assert_eq!(t.providers[0].provider, Some(Provider::OpenAi));
    assert_eq!(
        t.providers[0].windows[1].remaining_header,
        "X-AI-RateLimit-Remaining-3600-openai"
    );
    let (_, errors, _) = build(
        AI_RATE_LIMITING_ADVANCED,
        "llm_providers: [{name: openai, limit: [1, 2], window_size: [60]}]\npolicies: []",
    );
    assert_eq!(
        errors,
        vec![
            "plugins[0].config.policies: `policies` is not supported yet by llmux",
            "plugins[0].config.llm_providers[0]: `limit` and `window_size` must have the same number of entries",
        ]
    );
}
