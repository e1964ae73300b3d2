//! A declarative description of Kong's schemas (which keys exist, their types and ranges, Kong's
//! defaults and required keys, and what llmux does with each) and the walk that checks a YAML tree
//! against it.
//!
//! The walk reports *all* problems: unknown keys (`unknown field`), wrong types, values out of
//! range, values Kong accepts but llmux does not (`not supported yet`), and one warning per valid
//! Kong key llmux ignores (unless it holds Kong's default, which changes nothing). Building the
//! typed configuration afterwards can then assume the types.
//!
//! The same tables are the Admin API's Kong schemas (`/schemas/...`), its defaults for unset
//! keys, and its guide for typing form-encoded values, so what llmux checks, what it shows and
//! what it accepts cannot drift apart.

use super::error::Diag;
use super::value::{as_int, as_mapping, as_num, index, join, key_str, kind};
use serde_yaml_ng::Value;

/// What llmux does with a Kong key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Sup {
    /// Implemented.
    Use,
    /// Accepted and without effect in llmux or in Kong for what llmux does (ids, tags,
    /// timestamps): no warning.
    Meta,
    /// Valid in Kong, ignored by llmux with one warning (none when it holds Kong's default).
    Warn,
    /// Valid in Kong, but ignoring it would change which requests are served or where they go:
    /// a load error when set.
    Reject,
}

/// The type of a value, with Kong's constraints.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    Str,
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    Num {
        min: f64,
        max: f64,
    },
    /// Kong's allowed values, and the subset llmux implements (others: `not supported yet`).
    Enum {
        kong: &'static [&'static str],
        llmux: &'static [&'static str],
    },
    /// Kong's `array`.
    List(&'static Ty),
    /// Kong's `set`: checked as a list; Kong drops duplicates.
    Set(&'static Ty),
    /// Kong's `map`: string keys, values of the given type.
    Map(&'static Ty),
    Rec(&'static [F]),
    /// A foreign key into the named Kong table (`services`): a name or id string, or a mapping
    /// `{ id: ..., name: ... }`.
    Ref(&'static str),
    /// Free-form (Kong keys whose inner shape llmux does not model: it refuses or ignores them
    /// whole).
    Any,
    /// Checked by the caller (nested entities, plugin `config`: in Kong's plugin entity, an
    /// abstract record each plugin's schema fills in).
    Custom,
}

/// Kong's default for a key (`default = ...` in its schema).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Dflt {
    /// None declared: an unset key is `null`, or, for a required record, the record with its
    /// own defaults.
    None,
    /// `default = null`, written out in Kong's schema; the same effect as none.
    Null,
    Bool(bool),
    Int(i64),
    Str(&'static str),
    Strs(&'static [&'static str]),
}

impl Dflt {
    /// The default as a value (`None` and `Null` are null).
    pub(crate) fn value(self) -> Value {
        match self {
            Dflt::None | Dflt::Null => Value::Null,
            Dflt::Bool(b) => Value::Bool(b),
            Dflt::Int(n) => Value::Number(n.into()),
            Dflt::Str(s) => Value::String(s.to_string()),
            Dflt::Strs(list) => Value::Sequence(list.iter().map(|&s| s.into()).collect()),
        }
    }

    /// Whether `v` is this default (a value that changes nothing when set).
    pub(crate) fn is(self, v: &Value) -> bool {
        match self {
            Dflt::None | Dflt::Null => v.is_null(),
            Dflt::Bool(b) => v.as_bool() == Some(b),
            Dflt::Int(n) => as_int(v) == Some(n),
            Dflt::Str(s) => v.as_str() == Some(s),
            Dflt::Strs(list) => match v {
                Value::Sequence(items) => {
                    items.len() == list.len()
                        && items.iter().zip(list).all(|(i, s)| i.as_str() == Some(s))
                }
                _ => false,
            },
        }
    }
}

/// Kong's `auto` keys, which Kong fills in itself when an entity is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Auto {
    No,
    /// A random UUID (`id`).
    Uuid,
    /// The time in seconds (`created_at`, `updated_at`).
    Timestamp,
}

/// One key of a record.
pub(crate) struct F {
    pub name: &'static str,
    pub ty: Ty,
    pub sup: Sup,
    /// Kong's default.
    pub default: Dflt,
    /// Kong's `required`. Entity records Kong requires (`required = true`, or a record without
    /// `required = false`, which Kong's entities make required) show their defaults when unset.
    pub required: bool,
    pub auto: Auto,
    /// A key of the decK file that is not a field of Kong's entity: nested entity lists, `url`,
    /// `_config`, and keys of the `expressions` router (llmux reports `traditional_compatible`).
    /// Left out of Kong's schemas and of entities as the Admin API shows them.
    pub deck_only: bool,
}

/// A key of type `ty`: not required, no default.
pub(crate) const fn f(name: &'static str, ty: Ty, sup: Sup) -> F {
    F {
        name,
        ty,
        sup,
        default: Dflt::None,
        required: false,
        auto: Auto::No,
        deck_only: false,
    }
}

impl F {
    /// With Kong's default.
    pub(crate) const fn default(self, default: Dflt) -> F {
        F { default, ..self }
    }

    /// Required in Kong's schema.
    pub(crate) const fn required(self) -> F {
        F {
            required: true,
            ..self
        }
    }

    /// Filled in by Kong when an entity is written.
    pub(crate) const fn auto(self, auto: Auto) -> F {
        F { auto, ..self }
    }

    /// Not a field of Kong's entity (see [`F::deck_only`]).
    pub(crate) const fn deck_only(self) -> F {
        F {
            deck_only: true,
            ..self
        }
    }
}

pub(crate) const STR: Ty = Ty::Str;
pub(crate) const BOOL: Ty = Ty::Bool;
pub(crate) const STR_LIST: Ty = Ty::List(&Ty::Str);
pub(crate) const STR_SET: Ty = Ty::Set(&Ty::Str);
pub(crate) const ANY: Ty = Ty::Any;
pub(crate) const fn int(min: i64, max: i64) -> Ty {
    Ty::Int { min, max }
}
pub(crate) const fn num(min: f64, max: f64) -> Ty {
    Ty::Num { min, max }
}
/// An enum that llmux implements completely.
pub(crate) const fn one_of(values: &'static [&'static str]) -> Ty {
    Ty::Enum {
        kong: values,
        llmux: values,
    }
}

/// Check `v` against `ty`. `warn` is false inside a key that was already warned about, so an
/// ignored record yields one warning, not one per nested key.
pub(crate) fn check(v: &Value, ty: Ty, path: &str, warn: bool, d: &mut Diag) {
    match ty {
        Ty::Str => {
            if !v.is_string() {
                d.err(path, format!("expected a string, found {}", kind(v)));
            }
        }
        Ty::Bool => {
            if !v.is_bool() {
                d.err(path, format!("expected a boolean, found {}", kind(v)));
            }
        }
        Ty::Int { min, max } => match as_int(v) {
            None => d.err(path, format!("expected an integer, found {}", kind(v))),
            Some(n) if n < min || n > max => {
                d.err(path, format!("must be between {min} and {max}"))
            }
            Some(_) => {}
        },
        Ty::Num { min, max } => match as_num(v) {
            None => d.err(path, format!("expected a number, found {}", kind(v))),
            Some(n) if n < min || n > max => {
                d.err(path, format!("must be between {min} and {max}"))
            }
            Some(_) => {}
        },
        Ty::Enum { kong, llmux } => check_enum(v, kong, llmux, path, d),
        Ty::List(item) | Ty::Set(item) => match v {
            Value::Sequence(items) => {
                for (i, x) in items.iter().enumerate() {
                    check(x, *item, &index(path, i), warn, d);
                }
            }
            _ => d.err(path, format!("expected a list, found {}", kind(v))),
        },
        Ty::Map(values) => match as_mapping(v) {
            Some(m) => {
                for (k, x) in m {
                    match key_str(k) {
                        Some(k) => check(x, *values, &join(path, k), warn, d),
                        None => d.err(path, "keys must be strings"),
                    }
                }
            }
            None => d.err(path, format!("expected a mapping, found {}", kind(v))),
        },
        Ty::Rec(fields) => check_record(v, fields, path, warn, d),
        Ty::Ref(_) => check_ref(v, path, d),
        Ty::Any | Ty::Custom => {}
    }
}

/// Check every key of a mapping. Null values count as absent.
pub(crate) fn check_record(v: &Value, fields: &[F], path: &str, warn: bool, d: &mut Diag) {
    let Some(m) = as_mapping(v) else {
        d.err(path, format!("expected a mapping, found {}", kind(v)));
        return;
    };
    for (k, val) in m {
        let Some(k) = key_str(k) else {
            d.err(path, "keys must be strings");
            continue;
        };
        let p = join(path, k);
        let Some(field) = fields.iter().find(|f| f.name == k) else {
            d.err(&p, "unknown field");
            continue;
        };
        if val.is_null() {
            continue;
        }
        match field.sup {
            Sup::Reject => d.unsupported(&p, &format!("`{k}`")),
            Sup::Warn => {
                if warn && !field.default.is(val) {
                    d.ignored(&p);
                }
                check(val, field.ty, &p, false, d);
            }
            Sup::Use | Sup::Meta => check(val, field.ty, &p, warn, d),
        }
    }
}

fn check_enum(v: &Value, kong: &[&str], llmux: &[&str], path: &str, d: &mut Diag) {
    let Some(s) = v.as_str() else {
        d.err(path, format!("expected a string, found {}", kind(v)));
        return;
    };
    if !kong.contains(&s) {
        // Enum values are not secrets, but a misplaced secret could land here: quote only
        // short, plain words.
        let shown = if s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            format!("`{s}` ")
        } else {
            String::new()
        };
        d.err(path, format!("{shown}must be one of: {}", kong.join(", ")));
    } else if !llmux.contains(&s) {
        d.unsupported(path, &format!("`{s}`"));
    }
}

fn check_ref(v: &Value, path: &str, d: &mut Diag) {
    match v {
        Value::String(s) if !s.is_empty() => {}
        Value::Mapping(_) => {
            const REF: &[F] = &[f("id", STR, Sup::Use), f("name", STR, Sup::Use)];
            let before = d.error_count();
            check_record(v, REF, path, false, d);
            if d.error_count() == before && ref_key(v).is_none() {
                d.err(path, "expected `name` or `id`");
            }
        }
        _ => d.err(
            path,
            format!(
                "expected a name, an id or {{ name: ... }}, found {}",
                kind(v)
            ),
        ),
    }
}

/// The name or id a foreign key refers to (`name` wins over `id` in a mapping).
pub(crate) fn ref_key(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Mapping(_) => super::value::get_str(v, "name")
            .or_else(|| super::value::get_str(v, "id"))
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: &[F] = &[
        f("name", STR, Sup::Use),
        f("top_k", int(0, 500), Sup::Warn),
        f("x", Ty::Rec(&[f("y", STR, Sup::Use)]), Sup::Warn),
    ];
    const OUTER: &[F] = &[
        f(
            "algorithm",
            Ty::Enum {
                kong: &["a", "semantic"],
                llmux: &["a"],
            },
            Sup::Use,
        ),
        f("inner", Ty::List(&Ty::Rec(INNER)), Sup::Use),
        f("vectordb", ANY, Sup::Reject),
        f("tags", STR_LIST, Sup::Meta),
        f("weight", int(1, 65535), Sup::Use),
        f("svc", Ty::Ref("services"), Sup::Use),
        f("retries", int(0, 9), Sup::Warn).default(Dflt::Int(5)),
        f("hdrs", Ty::Map(&STR_LIST), Sup::Use),
    ];

    fn walk(yaml: &str) -> Diag {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut d = Diag::default();
        check_record(&v, OUTER, "c", true, &mut d);
        d
    }

    fn lines(items: &[super::super::error::ConfigError]) -> Vec<String> {
        items
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn reports_everything_at_once() {
        let d = walk(
            "algorithm: semantic\ninner: [{nmae: x}, {name: 3, top_k: 9, x: {y: 1}}]\nvectordb: {}\nweight: 0\ntags: [a]\nsvc: {nam: x}",
        );
        assert_eq!(
            lines(&d.errors),
            vec![
                "c.algorithm: `semantic` is not supported yet by llmux",
                "c.inner[0].nmae: unknown field",
                "c.inner[1].name: expected a string, found an integer",
                "c.inner[1].x.y: expected a string, found an integer",
                "c.vectordb: `vectordb` is not supported yet by llmux",
                "c.weight: must be between 1 and 65535",
                "c.svc.nam: unknown field",
            ]
        );
        assert_eq!(
            lines(&d.warnings),
            vec![
                "c.inner[1].top_k: is not implemented by llmux and is ignored",
                "c.inner[1].x: is not implemented by llmux and is ignored",
            ]
        );
    }

    #[test]
    fn nulls_are_absent_and_enums_are_checked() {
        let d = walk("vectordb: null\nalgorithm: nope\nsvc: {id: abc}");
        assert_eq!(
            lines(&d.errors),
            vec!["c.algorithm: `nope` must be one of: a, semantic"]
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn kong_defaults_are_not_ignored_keys_and_maps_are_checked() {
        // decK fills Kong's defaults into what it sends: a default changes nothing, no warning.
        let d = walk("retries: 5\nhdrs: {x-a: [v], x-b: w}");
        assert_eq!(
            lines(&d.errors),
            vec!["c.hdrs.x-b: expected a list, found a string"]
        );
        assert!(d.warnings.is_empty(), "{:?}", lines(&d.warnings));
        let d = walk("retries: 6");
        assert_eq!(
            lines(&d.warnings),
            vec!["c.retries: is not implemented by llmux and is ignored"]
        );
        assert!(Dflt::Strs(&["a", "b"]).is(&serde_yaml_ng::from_str("[a, b]").unwrap()));
        assert!(!Dflt::Strs(&["a", "b"]).is(&serde_yaml_ng::from_str("[b, a]").unwrap()));
        assert!(Dflt::Int(5).is(&serde_yaml_ng::from_str("5.0").unwrap()));
        assert!(!Dflt::None.is(&Value::Bool(false)));
    }
}
