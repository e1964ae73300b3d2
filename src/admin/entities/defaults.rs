//! Records as Kong shows them: every key of the schema, Kong's default where the stored record
//! leaves a key unset, `null` where Kong has no default.
//!
//! Kong writes an entity with its defaults filled in and returns it that way; decK fills the same
//! defaults into the file it compares with (go-kong's `FillPluginsDefaults`, from
//! `/schemas/plugins/{name}`). Both follow one rule, which this file applies to the stored decK
//! document, with the same tables `schemas` renders, so what decK computes and what llmux shows
//! agree key for key. The stored document keeps what the user wrote.
//!
//! The rule (Kong's `process_auto_fields` on insert, go-kong's `fillConfigRecord`): a set key is
//! shown as stored, records and lists of records with their own keys filled in; an unset key takes
//! its default, else a required record is shown with its own defaults, else `null`. An explicit
//! `null` stays `null`, unless the key is required (Kong then shows its default, as when reading
//! an entity back).

use crate::config::{Dflt, Ty, F};
use serde_yaml_ng::{Mapping, Value};

/// `stored` (a mapping, or nothing) as Kong shows a record of `fields`: Kong's fields in schema
/// order (decK-only keys left out), then any other stored key as it is.
pub(super) fn record(stored: Option<&Value>, fields: &[F]) -> Value {
    let m = match stored {
        None | Some(Value::Null) => None,
        Some(Value::Mapping(m)) => Some(m),
        // Not a record: the loader never accepts this; shown as stored.
        Some(other) => return other.clone(),
    };
    let mut out = Mapping::with_capacity(fields.len());
    for f in fields.iter().filter(|f| !f.deck_only) {
        out.insert(f.name.into(), field(m.and_then(|m| m.get(f.name)), f));
    }
    for (k, v) in m.into_iter().flatten() {
        let known = k
            .as_str()
            .is_some_and(|k| fields.iter().any(|f| f.name == k));
        if !known {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Mapping(out)
}

/// One key as Kong shows it.
fn field(stored: Option<&Value>, f: &F) -> Value {
    match stored {
        Some(Value::Null) if !f.required => Value::Null,
        Some(v) if !v.is_null() => value(v, f.ty),
        _ => unset(f),
    }
}

/// A set value, with the keys of its records filled in.
fn value(v: &Value, ty: Ty) -> Value {
    match (ty, v) {
        (Ty::Rec(fields), Value::Mapping(_)) => record(Some(v), fields),
        (Ty::List(item) | Ty::Set(item), Value::Sequence(items)) => {
            Value::Sequence(items.iter().map(|x| value(x, *item)).collect())
        }
        (Ty::Map(values), Value::Mapping(m)) => Value::Mapping(
            m.iter()
                .map(|(k, x)| (k.clone(), value(x, *values)))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// An unset key: its default, a required record's own defaults, or `null`.
fn unset(f: &F) -> Value {
    match (f.default, f.ty) {
        (Dflt::None | Dflt::Null, Ty::Rec(fields)) if f.required => record(None, fields),
        (default, _) => default.value(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::plugin_config;

    fn shown(config: &str) -> serde_json::Value {
        let v: Value = serde_yaml_ng::from_str(config).unwrap();
        let fields = plugin_config("ai-proxy-advanced").unwrap();
        let out = record(Some(&v), fields);
        serde_json::to_value(super::super::json::Json(&out)).unwrap()
    }

    #[test]
    fn access_plugins_show_kongs_defaults() {
        let show = |plugin: &str, config: &str| {
            let v: Value = serde_yaml_ng::from_str(config).unwrap();
            let out = record(Some(&v), plugin_config(plugin).unwrap());
            serde_json::to_value(super::super::json::Json(&out)).unwrap()
        };
        let k = show("key-auth", "hide_credentials: true");
        assert_eq!(k["key_names"], serde_json::json!(["apikey"]));
        assert_eq!(k["hide_credentials"], true);
        assert_eq!(
            (
                &k["key_in_header"],
                &k["key_in_body"],
                &k["run_on_preflight"]
            ),
            (&true.into(), &false.into(), &true.into())
        );
        assert_eq!(k["anonymous"], serde_json::Value::Null);
        let r = show("rate-limiting", "minute: 5");
        assert_eq!(
            (&r["limit_by"], &r["policy"]),
            (&"consumer".into(), &"local".into())
        );
        assert_eq!(
            (&r["error_code"], &r["sync_rate"]),
            (&429.into(), &(-1).into())
        );
        assert_eq!(r["redis"]["host"], serde_json::Value::Null);
        let t = show("ai-rate-limiting-advanced", "strategy: redis");
        assert_eq!(t["strategy"], "redis");
        assert_eq!(t["window_type"], "sliding");
        assert_eq!(t["tokens_count_strategy"], "total_tokens");
        assert_eq!(show("acl", "allow: [a]")["hide_groups_header"], false);
    }

    #[test]
    fn kong_defaults_for_what_is_unset() {
        let v = shown(
            "targets:\n- route_type: llm/v1/chat\n  model: {provider: openai, name: m}\n\
             balancer: {algorithm: priority}\nmodel_name_header: false\n",
        );
        // Set keys as stored; unset ones take Kong's defaults.
        assert_eq!(v["balancer"]["algorithm"], "priority");
        assert_eq!(v["balancer"]["retries"], 5);
        assert_eq!(
            v["balancer"]["failover_criteria"],
            serde_json::json!(["error", "timeout"])
        );
        assert_eq!(v["model_name_header"], false);
        assert_eq!(v["max_request_body_size"], 1_048_576);
        assert_eq!(v["response_streaming"], "allow");
        // Records in lists are filled too; unset optional records are null, required ones
        // show their defaults.
        let t = &v["targets"][0];
        assert_eq!(t["weight"], 100);
        assert_eq!(
            t["logging"],
            serde_json::json!({"log_statistics": false, "log_payloads": false})
        );
        assert!(t["auth"].is_null());
        assert!(t["description"].is_null());
        assert!(t["model"]["options"].is_null());
        assert!(t["model"]["model_alias"].is_null());
        assert!(v["embeddings"].is_null() && v["vectordb"].is_null());
    }

    #[test]
    fn set_records_and_explicit_nulls() {
        let v = shown(
            "targets:\n- route_type: llm/v1/chat\n  model: {provider: azure, options: {azure_instance: i}}\n  \
             auth: {header_name: api-key, header_value: k}\n  logging: null\nbalancer: null\n\
             llm_format: null\n",
        );
        let t = &v["targets"][0];
        assert_eq!(t["model"]["options"]["azure_instance"], "i");
        assert_eq!(t["model"]["options"]["azure_api_version"], "2023-05-15");
        assert!(t["model"]["options"]["max_tokens"].is_null());
        assert!(t["model"]["options"]["bedrock"].is_null());
        assert_eq!(t["auth"]["allow_override"], false);
        assert!(t["auth"]["param_name"].is_null());
        // A required record written as null is shown with its defaults (as Kong reads it
        // back); an optional key written as null stays null.
        assert_eq!(t["logging"]["log_payloads"], false);
        assert_eq!(v["balancer"]["slots"], 10_000);
        assert!(v["llm_format"].is_null());
    }

    #[test]
    fn order_and_unknown_keys() {
        let v: Value = serde_yaml_ng::from_str("{zz: 1, route_type: llm/v1/chat}").unwrap();
        let out = record(Some(&v), plugin_config("ai-proxy").unwrap());
        let keys: Vec<_> = out
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(keys.first(), Some(&"route_type"));
        assert_eq!(keys.last(), Some(&"zz"));
        // Not a record: as stored.
        let odd = Value::String("x".into());
        assert_eq!(record(Some(&odd), plugin_config("ai-proxy").unwrap()), odd);
    }
}
