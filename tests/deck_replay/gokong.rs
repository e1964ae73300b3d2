//! What decK does with the gateway's schemas, ported line by line from its source so the replay
//! checks llmux against decK's own rules rather than against llmux's idea of them:
//!
//! - go-kong `kong/utils.go` `fillConfigRecord` (with `FillDefaults` and `FillAuto`, as
//!   `FillPluginsDefaults` calls it) and `getDefaultProtocols`: the defaults decK fills into a
//!   plugin from its file before comparing it with the gateway's answer;
//! - go-kong `FillEntityDefaults` / `flattenLuaSchema` and the reconciler's `Defaulter`: the
//!   defaults decK fills into services and routes from `/schemas/{entity}` (it also sends them);
//! - go-database-reconciler `state.Plugin.EqualWithOpts` and the entities' `EqualWithOpts`: what
//!   counts as a difference (timestamps ignored, Go's `nil` pointer fields equal absent ones,
//!   `config` compared key for key, tags and protocols as sets, numbers as `float64`).

use serde_json::{Map, Value};

/// The field named `name` in a Kong `fields` list.
fn field<'a>(fields: &'a Value, name: &str) -> Option<&'a Value> {
    fields.as_array()?.iter().find_map(|f| f.get(name))
}

/// go-kong's `fillConfigRecord(schema, config, nil, {FillDefaults: true, FillAuto: true})`.
pub fn fill_config_record(schema: &Value, config: &Map<String, Value>) -> Map<String, Value> {
    let mut res = config.clone();
    let record_default = schema.get("default");
    let Some(fields) = schema.get("fields").and_then(Value::as_array) else {
        return res;
    };
    for f in fields {
        let Some((fname, fs)) = f.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        if fname == "config" {
            res = fill_config_record(fs, config);
            continue;
        }
        if let Some(v) = config.get(fname) {
            match v {
                Value::Object(_) => {
                    if fs.get("keys").is_some() && fs.get("values").is_some() {
                        continue;
                    }
                }
                Value::Array(_) => {
                    if fs.pointer("/elements/type") != Some(&Value::from("record")) {
                        continue;
                    }
                }
                // Not a map: the field is set (Go's `nil` included).
                _ => continue,
            }
        }
        let ftype = fs.get("type").and_then(Value::as_str).unwrap_or_default();
        let required = fs.get("required").and_then(Value::as_bool) == Some(true);
        let set = config.get(fname).is_some_and(|v| !v.is_null());
        if ftype == "record" && (set || required) {
            let sub = match config.get(fname) {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let filled = fill_config_record(fs, &sub);
            if !filled.is_empty() {
                res.insert(fname.clone(), Value::Object(filled));
            }
            continue;
        }
        if (ftype == "array" || ftype == "set")
            && fs.pointer("/elements/type") == Some(&Value::from("record"))
        {
            if let Some(Value::Array(items)) = config.get(fname).filter(|v| !v.is_null()) {
                if !items.is_empty() {
                    let filled = items
                        .iter()
                        .map(|item| match item {
                            Value::Object(m) => {
                                Value::Object(fill_config_record(&fs["elements"], m))
                            }
                            other => other.clone(),
                        })
                        .collect();
                    res.insert(fname.clone(), Value::Array(filled));
                    continue;
                }
            }
        }
        let default = match record_default.and_then(|d| d.get(fname)) {
            Some(d) => Some(d),
            None => fs.get("default"),
        };
        res.insert(fname.clone(), default.cloned().unwrap_or(Value::Null));
    }
    res
}

/// go-kong's `FillPluginsDefaults`: the config, then `protocols` and `enabled` when unset.
pub fn fill_plugin(plugin: &mut Value, schema: &Value) {
    let config = match plugin.get("config") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let config_schema = field(&schema["fields"], "config")
        .cloned()
        .unwrap_or_default();
    let filled = fill_config_record(&config_schema, &config);
    plugin["config"] = Value::Object(filled);
    if plugin.get("protocols").is_none_or(Value::is_null) {
        if let Some(d) = field(&schema["fields"], "protocols").and_then(|p| p.get("default")) {
            plugin["protocols"] = d.clone();
        }
    }
    if plugin.get("enabled").is_none_or(Value::is_null) {
        plugin["enabled"] = Value::Bool(true);
    }
}

/// go-kong's `FillEntityDefaults` as the reconciler's `Defaulter` applies it: every field with a
/// non-null default in `/schemas/{entity}`, where the entity leaves it unset.
pub fn fill_entity(entity: &mut Value, schema: &Value) {
    let Some(fields) = schema["fields"].as_array() else {
        return;
    };
    for f in fields {
        let Some((name, fs)) = f.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let default = fs.get("default").filter(|d| !d.is_null());
        let unset = entity.get(name).is_none_or(Value::is_null);
        if let (Some(d), true) = (default, unset) {
            entity[name] = d.clone();
        }
    }
}

/// Whether decK sees no difference between `current` (the gateway's answer) and `target` (its
/// file, defaults filled).
pub fn equal(current: &Value, target: &Value) -> bool {
    normalize(current, true) == normalize(target, true)
}

/// Timestamps dropped; at the entity level (`top`) a `null` is an unset Go pointer; tags and
/// protocols sorted; numbers as `float64`.
fn normalize(v: &Value, top: bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| {
                    !(top && (v.is_null() || *k == "created_at" || *k == "updated_at"))
                })
                .map(|(k, v)| {
                    let mut n = normalize(v, false);
                    if top && (k == "tags" || k == "protocols") {
                        if let Value::Array(items) = &mut n {
                            items.sort_by_key(|i| i.to_string());
                        }
                    }
                    (k.clone(), n)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| normalize(i, false)).collect()),
        Value::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        other => other.clone(),
    }
}
