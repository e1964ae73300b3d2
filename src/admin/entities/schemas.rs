//! Kong's schema endpoints, rendered from the config loader's own tables: `GET /schemas/{entity}`
//! (`services`, `routes`, `plugins`), `GET /schemas/plugins/{name}` for every plugin llmux knows,
//! and Kong's deprecated `GET /plugins/schema/{name}` (the `config` record alone), which older
//! decK releases read.
//!
//! decK reads these to fill Kong's defaults into the file it compares with the gateway
//! (`/schemas/services` and `/schemas/routes` before every diff and sync,
//! `/schemas/plugins/{name}` for every plugin it changes); answers use the same tables
//! `defaults` fills entities from, so the two always agree. The shape is Kong's
//! `schema_to_jsonable`: `{"fields": [{"name": {...}}, ...], "entity_checks": [...]}`, each field
//! with `type`, `required`, `default`, `one_of`, `between`, `elements`, `fields`, `reference`,
//! `auto`/`uuid`/`timestamp`. What the tables do not model (Kong's entity checks, string patterns,
//! descriptions, the inner shape of keys llmux refuses or ignores whole) is listed in
//! docs/decisions.md.

use super::model::ApiResponse;
use super::response::{message, respond};
use crate::config::{plugin_config, Auto, Dflt, Ty, F, PLUGIN, ROUTE, SERVICE};
use serde_json::{json, Map, Value};

/// The entities whose schema llmux serves. Kong's other tables (`upstreams`, `consumers`...)
/// answer 404 `No entity named ...`, as Kong answers for an entity it does not have; decK then
/// fills no defaults for them.
const ENTITIES: &[(&str, &[F])] = &[
    ("services", SERVICE),
    ("routes", ROUTE),
    ("plugins", PLUGIN),
];

/// `GET /schemas/{name}`.
pub(super) fn entity(name: &str) -> ApiResponse {
    match ENTITIES.iter().find(|(n, _)| *n == name) {
        Some((_, fields)) => respond(200, &schema(fields_json(fields))),
        None => message(404, &format!("No entity named '{name}'")),
    }
}

/// `GET /schemas/plugins/{name}`: the plugin's part of Kong's plugin entity, `protocols` and its
/// `config` record.
pub(super) fn plugin(name: &str) -> ApiResponse {
    let Some(config) = plugin_config(name) else {
        return message(404, &format!("No plugin named '{name}'"));
    };
    let protocols = PLUGIN.iter().filter(|f| f.name == "protocols").map(field);
    let config = json!({"config": config_record(config)});
    respond(200, &schema(protocols.chain([config]).collect()))
}

/// `GET /plugins/schema/{name}`, deprecated in Kong since 1.2: the `config` record's schema.
pub(super) fn plugin_config_schema(name: &str) -> ApiResponse {
    match plugin_config(name) {
        Some(config) => respond(200, &schema(fields_json(config))),
        None => message(404, &format!("No plugin named '{name}'")),
    }
}

fn config_record(fields: &[F]) -> Value {
    json!({"type": "record", "required": true, "fields": fields_json(fields)})
}

/// Kong's answer: the fields, and its entity checks, which the tables do not model.
fn schema(fields: Vec<Value>) -> Value {
    json!({"entity_checks": [], "fields": fields})
}

fn fields_json(fields: &[F]) -> Vec<Value> {
    fields.iter().filter(|f| !f.deck_only).map(field).collect()
}

/// `{"name": {...}}`, as Kong lists a record's fields.
fn field(f: &F) -> Value {
    let mut m = type_json(f.ty);
    if f.required {
        m.insert("required".into(), true.into());
    }
    if f.default != Dflt::None {
        m.insert("default".into(), default_json(f.default));
    }
    match f.auto {
        Auto::No => {}
        Auto::Uuid => {
            m.insert("uuid".into(), true.into());
            m.insert("auto".into(), true.into());
        }
        Auto::Timestamp => {
            m.insert("timestamp".into(), true.into());
            m.insert("auto".into(), true.into());
        }
    }
    let mut one = Map::new();
    one.insert(f.name.into(), Value::Object(m));
    Value::Object(one)
}

fn type_json(ty: Ty) -> Map<String, Value> {
    let mut m = Map::new();
    let kind = match ty {
        Ty::Str => "string",
        Ty::Bool => "boolean",
        Ty::Int { min, max } => {
            if min != i64::MIN && max != i64::MAX {
                m.insert("between".into(), json!([min, max]));
            }
            "integer"
        }
        Ty::Num { min, max } => {
            if min.is_finite() && max.is_finite() && max != f64::MAX {
                m.insert("between".into(), json!([min, max]));
            }
            "number"
        }
        Ty::Enum { kong, .. } => {
            m.insert("one_of".into(), json!(kong));
            "string"
        }
        Ty::List(item) => {
            m.insert("elements".into(), Value::Object(type_json(*item)));
            "array"
        }
        Ty::Set(item) => {
            m.insert("elements".into(), Value::Object(type_json(*item)));
            "set"
        }
        Ty::Map(values) => {
            m.insert("keys".into(), json!({"type": "string"}));
            m.insert("values".into(), Value::Object(type_json(*values)));
            "map"
        }
        Ty::Rec(fields) => {
            m.insert("fields".into(), Value::Array(fields_json(fields)));
            "record"
        }
        Ty::Ref(table) => {
            m.insert("reference".into(), table.into());
            "foreign"
        }
        Ty::Any => "json",
        Ty::Custom => {
            m.insert("abstract".into(), true.into());
            "record"
        }
    };
    let mut out = Map::new();
    out.insert("type".into(), kind.into());
    out.extend(m);
    out
}

fn default_json(d: Dflt) -> Value {
    match d {
        Dflt::None | Dflt::Null => Value::Null,
        Dflt::Bool(b) => b.into(),
        Dflt::Int(n) => n.into(),
        Dflt::Str(s) => s.into(),
        Dflt::Strs(list) => json!(list),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &ApiResponse) -> Value {
        serde_json::from_str(&r.body).unwrap()
    }

    /// The field `name` of a Kong `fields` list.
    fn get<'a>(fields: &'a Value, name: &str) -> &'a Value {
        fields
            .as_array()
            .unwrap()
            .iter()
            .find_map(|f| f.get(name))
            .unwrap_or_else(|| panic!("no {name} in {fields}"))
    }

    #[test]
    fn plugin_schemas_as_kong_writes_them() {
        let r = plugin("ai-proxy-advanced");
        assert_eq!(r.status, 200);
        let v = body(&r);
        assert_eq!(v["entity_checks"], json!([]));
        let protocols = get(&v["fields"], "protocols");
        assert_eq!(protocols["type"], "set");
        assert_eq!(protocols["required"], true);
        assert_eq!(
            protocols["default"],
            json!(["grpc", "grpcs", "http", "https", "ws", "wss"])
        );
        let config = get(&v["fields"], "config");
        assert_eq!(
            (&config["type"], &config["required"]),
            (&json!("record"), &json!(true))
        );
        let balancer = get(&config["fields"], "balancer");
        assert_eq!(balancer["required"], true);
        let algorithm = get(&balancer["fields"], "algorithm");
        assert_eq!(algorithm["default"], "round-robin");
        assert!(algorithm["one_of"]
            .as_array()
            .unwrap()
            .contains(&json!("semantic")));
        let targets = get(&config["fields"], "targets");
        assert_eq!(targets["type"], "array");
        assert_eq!(targets["elements"]["type"], "record");
        let weight = get(&targets["elements"]["fields"], "weight");
        assert_eq!(
            weight,
            &json!({"type": "integer", "between": [1, 65535], "default": 100})
        );
        let options = get(
            &get(&targets["elements"]["fields"], "model")["fields"],
            "options",
        );
        assert!(options.get("required").is_none());
        let temperature = get(&options["fields"], "temperature");
        assert_eq!(temperature["between"], json!([0.0, 5.0]));
        let cost = get(&options["fields"], "input_cost");
        assert!(cost.get("between").is_none(), "{cost}");

        assert_eq!(plugin("ai-proxy").status, 200);
        let r = plugin("rate-limiting-x");
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, r#"{"message":"No plugin named 'rate-limiting-x'"}"#)
        );
        let old = body(&plugin_config_schema("ai-proxy"));
        assert_eq!(get(&old["fields"], "route_type")["required"], true);
    }

    #[test]
    fn entity_schemas() {
        let v = body(&entity("services"));
        let names: Vec<_> = v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f.as_object()?.keys().next().cloned())
            .collect();
        assert_eq!(&names[..4], ["id", "created_at", "updated_at", "name"]);
        for deck_only in ["url", "routes", "plugins", "filter_chains"] {
            assert!(!names.iter().any(|n| n == deck_only), "{deck_only}");
        }
        assert_eq!(
            get(&v["fields"], "id"),
            &json!({"type": "string", "uuid": true, "auto": true})
        );
        assert_eq!(get(&v["fields"], "port")["default"], 80);
        assert_eq!(
            get(&v["fields"], "tls_verify_depth")["default"],
            Value::Null
        );
        let routes = body(&entity("routes"));
        let service = get(&routes["fields"], "service");
        assert_eq!(
            service,
            &json!({"type": "foreign", "reference": "services"})
        );
        let headers = get(&routes["fields"], "headers");
        assert_eq!(headers["type"], "map");
        assert_eq!(headers["values"]["type"], "array");
        assert!(routes["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.get("expression").is_none()));
        let plugins = body(&entity("plugins"));
        assert_eq!(
            get(&plugins["fields"], "config"),
            &json!({"type": "record", "abstract": true})
        );
        let r = entity("upstreams");
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, r#"{"message":"No entity named 'upstreams'"}"#)
        );
    }
}
