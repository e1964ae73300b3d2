//! Typing the text values of a form-encoded body by Kong's schema, as Kong's `infer_value` does:
//! numbers for `integer` and `number` keys, `true`/`false` for booleans, a single value wrapped
//! in a list where the schema wants one, and an empty value as `null`. Values that do not fit
//! stay text, so the schema check names the key that is wrong.

use crate::config::{plugin_config, Ty, F, PLUGIN};
use serde_yaml_ng::{Mapping, Number, Value};

/// Types the keys of `m` that `fields` knows; other keys are left as they are.
pub(super) fn record(m: &mut Mapping, fields: &[F]) {
    for f in fields {
        if let Some(v) = m.get_mut(f.name) {
            value(v, f.ty);
        }
    }
}

/// A plugin body: the plugin entity's keys, and `config` by the schema of the plugin it names
/// (`name` in the body, else `stored_name`, the plugin being changed).
pub(super) fn plugin(m: &mut Mapping, stored_name: Option<&str>) {
    record(m, PLUGIN);
    let name = m.get("name").and_then(Value::as_str).or(stored_name);
    if let Some(config) = name.and_then(plugin_config) {
        if let Some(v) = m.get_mut("config") {
            value(v, Ty::Rec(config));
        }
    }
}

fn value(v: &mut Value, ty: Ty) {
    if v.as_str() == Some("") {
        *v = Value::Null;
        return;
    }
    match ty {
        Ty::Int { .. } | Ty::Num { .. } => {
            if let Some(n) = v.as_str().and_then(number) {
                *v = Value::Number(n);
            }
        }
        Ty::Bool => match v.as_str() {
            Some("true") => *v = Value::Bool(true),
            Some("false") => *v = Value::Bool(false),
            _ => {}
        },
        Ty::List(item) | Ty::Set(item) => {
            if !v.is_sequence() {
                *v = Value::Sequence(vec![std::mem::take(v)]);
            }
            if let Value::Sequence(items) = v {
                for x in items {
                    value(x, *item);
                }
            }
        }
        Ty::Map(values) => {
            if let Value::Mapping(m) = v {
                for (_, x) in m.iter_mut() {
                    value(x, *values);
                }
            }
        }
        Ty::Rec(fields) => {
            if let Value::Mapping(m) = v {
                record(m, fields);
            }
        }
        Ty::Str | Ty::Enum { .. } | Ty::Ref(_) | Ty::Any | Ty::Custom => {}
    }
}

/// Lua's `tonumber` for the decimal forms a form carries: an integer when it is one.
fn number(s: &str) -> Option<Number> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n.into());
    }
    // `inf` and `nan` are not numbers to Kong either.
    let x: f64 = s.parse().ok().filter(|x: &f64| x.is_finite())?;
    Some(x.into())
}

#[cfg(test)]
mod tests {
    use super::super::form::{decode, urlencoded};
    use super::*;

    fn typed(body: &str, stored_name: Option<&str>) -> serde_json::Value {
        let mut m = decode(urlencoded(body.as_bytes()).unwrap()).unwrap();
        plugin(&mut m, stored_name);
        serde_json::to_value(super::super::json::Json(&Value::Mapping(m))).unwrap()
    }

    #[test]
    fn kong_types_form_values_by_the_schema() {
        let v = typed(
            "name=ai-proxy-advanced&enabled=false&protocols=https&tags=x\
             &config.balancer.retries=3&config.balancer.failover_criteria=http_429\
             &config.targets[1].model.options.temperature=0.5&config.targets[1].weight=7\
             &config.targets[1].model.options.max_tokens=1e3&config.targets[1].auth.allow_override=true\
             &config.targets[1].description=&config.targets[1].model.name=42\
             &config.model_name_header=maybe&extra=5",
            None,
        );
        assert_eq!(v["enabled"], false);
        assert_eq!(v["protocols"], serde_json::json!(["https"]));
        assert_eq!(v["tags"], serde_json::json!(["x"]));
        let c = &v["config"];
        assert_eq!(c["balancer"]["retries"], 3);
        assert_eq!(
            c["balancer"]["failover_criteria"],
            serde_json::json!(["http_429"])
        );
        let t = &c["targets"][0];
        assert_eq!(t["model"]["options"]["temperature"], 0.5);
        assert_eq!(t["weight"], 7);
        // Lua's tonumber reads 1e3; the schema check then judges it.
        assert_eq!(t["model"]["options"]["max_tokens"], 1000.0);
        assert_eq!(t["auth"]["allow_override"], true);
        assert!(t["description"].is_null());
        // Text where the schema wants text; what does not fit stays text for the check to name.
        assert_eq!(t["model"]["name"], "42");
        assert_eq!(c["model_name_header"], "maybe");
        assert_eq!(v["extra"], "5");
    }

    #[test]
    fn patch_bodies_use_the_stored_plugins_schema() {
        let v = typed("config.balancer.slots=100", Some("ai-proxy-advanced"));
        assert_eq!(v["config"]["balancer"]["slots"], 100);
        let v = typed("config.balancer.slots=100", None);
        assert_eq!(v["config"]["balancer"]["slots"], "100");
        assert!(number("inf").is_none() && number("nan").is_none());
        assert_eq!(number(" 12 "), Some(12.into()));
    }
}
