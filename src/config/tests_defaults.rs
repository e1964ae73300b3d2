//! The Kong defaults the schema tables declare (and the Admin API shows) against the ones the
//! loader builds with.

use crate::config::error::Diag;
use crate::config::kong_schema::{plugin_config, AI_PROXY_ADVANCED};
use crate::config::plugin::{build_plugin, PluginMeta, AI_PROXY_ADVANCED_NAME};
use crate::config::schema::{Dflt, Ty, F};
use serde_yaml_ng::{Mapping, Value};

/// The record table of key `name` in `fields` (a record, or a list of records).
fn rec(fields: &'static [F], name: &str) -> &'static [F] {
    let f = fields.iter().find(|f| f.name == name).expect("the key");
    match f.ty {
        Ty::Rec(r) => r,
        Ty::List(Ty::Rec(r)) => r,
        _ => panic!("{name} is not a record"),
    }
}

/// A record holding every default of `fields`.
fn defaults_of(fields: &[F]) -> Value {
    let mut m = Mapping::new();
    for field in fields {
        if !matches!(field.default, Dflt::None | Dflt::Null) {
            m.insert(field.name.into(), field.default.value());
        }
    }
    Value::Mapping(m)
}

/// The defaults the Admin API shows are the ones the gateway runs with: a plugin that spells
/// out every default of the tables behaves as one that leaves them unset.
#[test]
fn shown_defaults_are_the_loaders() {
    let target = "{route_type: llm/v1/chat, model: {provider: openai, name: m}}";
    let bare: Value = serde_yaml_ng::from_str(&format!("targets: [{target}]")).unwrap();
    let mut spelled = defaults_of(AI_PROXY_ADVANCED);
    let mut t: Value = serde_yaml_ng::from_str(target).unwrap();
    let Value::Mapping(tm) = &mut t else { panic!() };
    let target_fields = rec(AI_PROXY_ADVANCED, "targets");
    for (k, v) in defaults_of(target_fields).as_mapping().unwrap() {
        tm.insert(k.clone(), v.clone());
    }
    tm.insert("logging".into(), defaults_of(rec(target_fields, "logging")));
    tm.insert("auth".into(), defaults_of(rec(target_fields, "auth")));
    let Value::Mapping(m) = &mut spelled else {
        panic!()
    };
    m.insert("targets".into(), Value::Sequence(vec![t]));
    m.insert(
        "balancer".into(),
        defaults_of(rec(AI_PROXY_ADVANCED, "balancer")),
    );
    let build = |cfg: &Value| {
        let mut d = Diag::default();
        let meta = PluginMeta {
            id: "p".into(),
            plugin_name: AI_PROXY_ADVANCED_NAME,
            scope: "global".into(),
        };
        let p = build_plugin(
            Some(cfg),
            "config",
            meta,
            &super::env::AwsEnv::default(),
            &mut d,
        );
        assert!(
            d.errors.is_empty() && d.warnings.is_empty(),
            "{:?}",
            d.errors
        );
        p.unwrap()
    };
    let (a, b) = (build(&bare), build(&spelled));
    assert_eq!(a.balancer, b.balancer);
    assert_eq!(a.balancer, crate::config::BalancerConfig::default());
    assert_eq!(a.max_request_body_size, b.max_request_body_size);
    assert_eq!(a.model_name_header, b.model_name_header);
    assert_eq!(a.response_streaming, b.response_streaming);
    assert_eq!(a.targets[0].weight, b.targets[0].weight);
    assert_eq!(a.targets[0].auth, b.targets[0].auth);
    assert_eq!(
        (a.log_statistics, a.log_payloads),
        (b.log_statistics, b.log_payloads)
    );
}

#[test]
fn plugins_by_name() {
    assert!(plugin_config("ai-proxy-advanced").is_some());
    assert!(plugin_config("ai-proxy").is_some());
    assert!(plugin_config("rate-limiting").is_some());
    assert!(plugin_config("rate-limiting-advanced").is_none());
}
