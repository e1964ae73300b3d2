//! The decK file (`_format_version: "3.0"`): top-level keys, services, routes and plugins with
//! their nesting, checked against the entity schemas of Kong 3.14 / decK and collected in
//! document order. Cross references are resolved in `resolve.rs`.

use super::consumers::read_consumer;
pub(crate) use super::consumers::RawConsumer;
use super::error::Diag;
use super::kong_schema::TIMEOUT;
use super::schema::{
    check_record, f, int, one_of, ref_key, Auto, Dflt, Sup::*, Ty, ANY, BOOL, F, STR, STR_LIST,
    STR_SET,
};
use super::value::{
    as_mapping, get, get_bool, get_int, get_seq, get_str, get_str_list, index, join, kind,
};
use serde_yaml_ng::Value;

const TIMESTAMP: Ty = int(0, i64::MAX);
const ROUTE_PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "grpc",
    "grpcs",
    "tcp",
    "tls",
    "tls_passthrough",
    "udp",
    "ws",
    "wss",
];
/// Kong's HTTP protocols, sorted as Kong writes its default.
const PLUGIN_PROTOCOLS: &[&str] = &["grpc", "grpcs", "http", "https", "ws", "wss"];

/// `ai_models[]`, written by `deck file ai2kong` (Kong AI Gateway 2.x): each AI Model's name and
/// the alias its targets answer to. The targets carry the alias as `model.model_alias`, which is
/// what llmux routes on, so the list adds nothing to routing.
const AI_MODEL: &[F] = &[f("alias", STR, Meta), f("name", STR, Meta)];

/// Top-level keys of a decK file (go-database-reconciler `pkg/file/types.go`, `Content`).
const TOP: &[F] = &[
    f("ai_models", Ty::List(&Ty::Rec(AI_MODEL)), Meta),
    f("_format_version", Ty::Custom, Use),
    f("services", Ty::Custom, Use),
    f("routes", Ty::Custom, Use),
    f("plugins", Ty::Custom, Use),
    f("consumers", Ty::Custom, Use),
    f("consumer_groups", ANY, Warn),
    f("_transform", BOOL, Warn),
    f("_info", ANY, Warn),
    f("_workspace", STR, Warn),
    f("_konnect", ANY, Warn),
    f("_plugin_configs", ANY, Warn),
    f("upstreams", ANY, Warn),
    f("certificates", ANY, Warn),
    f("ca_certificates", ANY, Warn),
    f("vaults", ANY, Warn),
    f("rbac_roles", ANY, Warn),
    f("service_packages", ANY, Warn),
    f("licenses", ANY, Warn),
    f("custom_entities", ANY, Warn),
    f("partials", ANY, Warn),
    f("keys", ANY, Warn),
    f("key_sets", ANY, Warn),
    f("cloned_plugins", ANY, Warn),
    f("custom_plugins", ANY, Warn),
    f("filter_chains", ANY, Warn),
];

/// A service's own upstream (`url`, `host`...) is replaced by the AI plugin's targets, as in Kong.
/// Entity tables list Kong's fields in Kong's order (its schema and Admin API answers follow it),
/// then the decK file's own keys.
pub(crate) const SERVICE: &[F] = &[
    f("id", STR, Use).auto(Auto::Uuid),
    f("created_at", TIMESTAMP, Meta).auto(Auto::Timestamp),
    f("updated_at", TIMESTAMP, Meta).auto(Auto::Timestamp),
    f("name", STR, Use),
    f("retries", int(0, 32767), Warn).default(Dflt::Int(5)),
    f("protocol", one_of(ROUTE_PROTOCOLS), Meta)
        .required()
        .default(Dflt::Str("http")),
    f("host", STR, Meta).required(),
    f("port", int(0, 65535), Meta)
        .required()
        .default(Dflt::Int(80)),
    f("path", STR, Meta),
    f("connect_timeout", TIMEOUT, Warn).default(UPSTREAM_TIMEOUT),
    f("write_timeout", TIMEOUT, Warn).default(UPSTREAM_TIMEOUT),
    f("read_timeout", TIMEOUT, Warn).default(UPSTREAM_TIMEOUT),
    f("tags", STR_SET, Meta),
    f("client_certificate", Ty::Ref("certificates"), Warn),
    f("tls_verify", BOOL, Warn),
    f("tls_verify_depth", int(-1, 64), Warn).default(Dflt::Null),
    f("ca_certificates", STR_LIST, Warn),
    f("enabled", BOOL, Use).required().default(Dflt::Bool(true)),
    f("tls_sans", ANY, Warn),
    f("url", STR, Meta).deck_only(),
    f("routes", Ty::Custom, Use).deck_only(),
    f("plugins", Ty::Custom, Use).deck_only(),
    f("filter_chains", ANY, Warn).deck_only(),
];

const UPSTREAM_TIMEOUT: Dflt = Dflt::Int(60_000);

/// Route keys that would restrict matching by something llmux's router does not see.
const UNSUPPORTED_MATCHERS: &[&str] = &["hosts", "headers", "snis", "sources", "destinations"];

/// `sources` and `destinations` entries.
const ENDPOINT: &[F] = &[f("ip", STR, Use), f("port", int(0, 65535), Use)];

pub(crate) const ROUTE: &[F] = &[
    f("id", STR, Use).auto(Auto::Uuid),
    f("created_at", TIMESTAMP, Meta).auto(Auto::Timestamp),
    f("updated_at", TIMESTAMP, Meta).auto(Auto::Timestamp),
    f("name", STR, Use),
    f("protocols", Ty::Set(&one_of(ROUTE_PROTOCOLS)), Use)
        .required()
        .default(Dflt::Strs(&["http", "https"])),
    f("https_redirect_status_code", int(300, 599), Warn)
        .required()
        .default(Dflt::Int(426)),
    // The AI plugin sets the upstream path and Host itself, in Kong as in llmux.
    f("strip_path", BOOL, Meta)
        .required()
        .default(Dflt::Bool(true)),
    f("preserve_host", BOOL, Warn)
        .required()
        .default(Dflt::Bool(false)),
    f("request_buffering", BOOL, Warn)
        .required()
        .default(Dflt::Bool(true)),
    f("response_buffering", BOOL, Warn)
        .required()
        .default(Dflt::Bool(true)),
    f("tags", STR_SET, Meta),
    f("service", Ty::Ref("services"), Use),
    f("snis", STR_SET, Use),
    f("sources", Ty::Set(&Ty::Rec(ENDPOINT)), Use),
    f("destinations", Ty::Set(&Ty::Rec(ENDPOINT)), Use),
    f("methods", STR_SET, Use),
    f("hosts", STR_LIST, Use),
    f("paths", STR_LIST, Use),
    f("headers", Ty::Map(&STR_LIST), Use),
    f("regex_priority", int(i64::MIN, i64::MAX), Use).default(Dflt::Int(0)),
    f("path_handling", one_of(&["v0", "v1"]), Meta).default(Dflt::Str("v0")),
    // Fields of Kong's `expressions` router only, and the decK file's nesting.
    f("expression", STR, Reject).deck_only(),
    f("priority", int(0, i64::MAX), Warn).deck_only(),
    f("plugins", Ty::Custom, Use).deck_only(),
    f("filter_chains", ANY, Warn).deck_only(),
];

pub(crate) const PLUGIN: &[F] = &[
    f("id", STR, Use).auto(Auto::Uuid),
    f("name", STR, Use).required(),
    f("instance_name", STR, Use),
    f("created_at", TIMESTAMP, Meta).auto(Auto::Timestamp),
    f("updated_at", TIMESTAMP, Meta).auto(Auto::Timestamp),
    f("route", Ty::Ref("routes"), Use).default(Dflt::Null),
    f("service", Ty::Ref("services"), Use).default(Dflt::Null),
    f("consumer", Ty::Ref("consumers"), Use).default(Dflt::Null),
    f("consumer_group", Ty::Ref("consumer_groups"), Use).default(Dflt::Null),
    f("config", Ty::Custom, Use),
    f("protocols", Ty::Set(&one_of(PLUGIN_PROTOCOLS)), Use)
        .required()
        .default(Dflt::Strs(PLUGIN_PROTOCOLS)),
    f("enabled", BOOL, Use).required().default(Dflt::Bool(true)),
    f("tags", STR_SET, Meta),
    // `deck file ai2kong` names the AI Model an ai-proxy-advanced plugin serves; the plugin's
    // targets say everything llmux needs.
    f("model", STR, Meta).deck_only(),
    f("ordering", ANY, Warn),
    f("partials", ANY, Warn),
    f("condition", STR, Reject),
    f("_config", STR, Use).deck_only(),
    f("run_on", STR, Warn).deck_only(),
];

/// A reference to a service or route: known from nesting, by name/id (with the YAML path of the
/// reference for errors), or both (a nested entity naming its parent again: must agree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ref {
    Index(usize),
    Key {
        key: String,
        path: String,
    },
    Nested {
        parent: usize,
        key: String,
        path: String,
    },
}

impl Ref {
    /// The entity this one is nested in, if any.
    pub(crate) fn parent(&self) -> Option<usize> {
        match self {
            Ref::Index(parent) | Ref::Nested { parent, .. } => Some(*parent),
            Ref::Key { .. } => None,
        }
    }

    /// The name or id written in the file, and the YAML path where it is written.
    pub(crate) fn written(&self) -> Option<(&str, &str)> {
        match self {
            Ref::Key { key, path } | Ref::Nested { key, path, .. } => Some((key, path)),
            Ref::Index(_) => None,
        }
    }
}

pub(crate) struct RawService {
    pub path: String,
    pub name: Option<String>,
    pub id: Option<String>,
    pub enabled: bool,
}

pub(crate) struct RawRoute {
    pub path: String,
    pub name: Option<String>,
    pub id: Option<String>,
    pub service: Option<Ref>,
    pub paths: Vec<String>,
    pub methods: Vec<String>,
    pub regex_priority: i64,
    /// False for routes that serve no HTTP traffic (e.g. `protocols: [grpc]`).
    pub http: bool,
}

pub(crate) struct RawPlugin<'a> {
    pub path: String,
    pub name: String,
    pub id: Option<String>,
    pub instance_name: Option<String>,
    pub config: Option<&'a Value>,
    pub route: Option<Ref>,
    pub service: Option<Ref>,
    /// The consumer the plugin applies to (`consumer:`, or nested in `consumers[i].plugins`).
    pub consumer: Option<Ref>,
    pub shared_config: bool,
    pub enabled: bool,
}

#[derive(Default)]
pub(crate) struct Doc<'a> {
    pub services: Vec<RawService>,
    pub routes: Vec<RawRoute>,
    pub plugins: Vec<RawPlugin<'a>>,
    pub consumers: Vec<RawConsumer>,
}

/// The services, routes and plugins of `root` as the loader collects them (document order, YAML
/// paths, nesting, references), without reporting what is wrong with them: the Admin API's
/// entity store locates entities with it, so its positions and paths are the loader's.
pub(crate) fn entities(root: &Value) -> Doc<'_> {
    read_doc(root, &mut Diag::default())
}

/// Check the whole document and collect its entities.
pub(crate) fn read_doc<'a>(root: &'a Value, d: &mut Diag) -> Doc<'a> {
    let mut doc = Doc::default();
    let Some(m) = as_mapping(root) else {
        d.err(
            "",
            format!(
                "expected a mapping at the top of the file, found {}",
                kind(root)
            ),
        );
        return doc;
    };
    check_record(root, TOP, "", true, d);
    match get(root, "_format_version") {
        None => d.err("_format_version", "is required and must be \"3.0\""),
        Some(v) if v.as_str() == Some("3.0") || v.as_f64() == Some(3.0) => {}
        Some(_) => d.err("_format_version", "must be \"3.0\""),
    }
    for (i, c) in get_seq(root, "consumer_groups").iter().enumerate() {
        if !get_seq(c, "plugins").is_empty() {
            d.err(
                &join(&index("consumer_groups", i), "plugins"),
                "consumer groups are not supported yet by llmux",
            );
        }
    }
    // Document order, so that equal-priority routes match in the order they were written.
    for (k, _) in m {
        match k.as_str() {
            Some("services") => {
                for (i, s) in nested(root, "services", "", d).iter().enumerate() {
                    read_service(s, &index("services", i), &mut doc, d);
                }
            }
            Some("routes") => {
                for (i, r) in nested(root, "routes", "", d).iter().enumerate() {
                    read_route(r, &index("routes", i), None, &mut doc, d);
                }
            }
            Some("plugins") => {
                for (i, p) in nested(root, "plugins", "", d).iter().enumerate() {
                    read_plugin(p, &index("plugins", i), Parents::default(), &mut doc, d);
                }
            }
            Some("consumers") => {
                for (i, c) in nested(root, "consumers", "", d).iter().enumerate() {
                    let path = index("consumers", i);
                    let Some(consumer) = read_consumer(c, &path, d) else {
                        continue;
                    };
                    let at = doc.consumers.len();
                    doc.consumers.push(consumer);
                    for (j, p) in nested(c, "plugins", &path, d).iter().enumerate() {
                        let parents = Parents {
                            consumer: Some(at),
                            ..Parents::default()
                        };
                        read_plugin(p, &index(&join(&path, "plugins"), j), parents, &mut doc, d);
                    }
                }
            }
            _ => {}
        }
    }
    doc
}

fn read_service<'a>(s: &'a Value, path: &str, doc: &mut Doc<'a>, d: &mut Diag) {
    check_record(s, SERVICE, path, true, d);
    if as_mapping(s).is_none() {
        return;
    }
    if get(s, "url").is_none() && get(s, "host").is_none() {
        d.err(path, "`url` or `host` is required");
    }
    let idx = doc.services.len();
    doc.services.push(RawService {
        path: path.to_string(),
        name: get_str(s, "name").map(str::to_string),
        id: get_str(s, "id").map(str::to_string),
        enabled: get_bool(s, "enabled").unwrap_or(true),
    });
    for (i, r) in nested(s, "routes", path, d).iter().enumerate() {
        read_route(r, &index(&join(path, "routes"), i), Some(idx), doc, d);
    }
    for (i, p) in nested(s, "plugins", path, d).iter().enumerate() {
        let parents = Parents {
            service: Some(idx),
            ..Parents::default()
        };
        read_plugin(p, &index(&join(path, "plugins"), i), parents, doc, d);
    }
}

/// The list under `key` of `v` (at `path`), reporting anything else.
fn nested<'a>(v: &'a Value, key: &str, path: &str, d: &mut Diag) -> &'a [Value] {
    match get(v, key) {
        Some(Value::Sequence(s)) => s,
        Some(other) => {
            d.err(
                &join(path, key),
                format!("expected a list, found {}", kind(other)),
            );
            &[]
        }
        None => &[],
    }
}

/// The reference under `key`, combined with the parent the entity is nested in.
fn parent_ref(v: &Value, key: &str, path: &str, parent: Option<usize>) -> Option<Ref> {
    let explicit = get(v, key)
        .and_then(ref_key)
        .map(|k| (k.to_string(), join(path, key)));
    match (parent, explicit) {
        (Some(parent), Some((key, path))) => Some(Ref::Nested { parent, key, path }),
        (Some(parent), None) => Some(Ref::Index(parent)),
        (None, Some((key, path))) => Some(Ref::Key { key, path }),
        (None, None) => None,
    }
}

fn read_route<'a>(
    r: &'a Value,
    path: &str,
    service: Option<usize>,
    doc: &mut Doc<'a>,
    d: &mut Diag,
) {
    check_record(r, ROUTE, path, true, d);
    if as_mapping(r).is_none() {
        return;
    }
    for key in UNSUPPORTED_MATCHERS {
        let set = match get(r, key) {
            Some(Value::Sequence(s)) => !s.is_empty(),
            Some(Value::Mapping(m)) => !m.is_empty(),
            Some(_) => true,
            None => false,
        };
        if set {
            d.unsupported(&join(path, key), &format!("routing by `{key}`"));
        }
    }
    let paths = get_str_list(r, "paths");
    let methods = get_str_list(r, "methods");
    for (i, m) in methods.iter().enumerate() {
        if m.is_empty() || !m.chars().all(|c| c.is_ascii_uppercase()) {
            d.err(
                &index(&join(path, "methods"), i),
                "must be an upper-case HTTP method",
            );
        }
    }
    if paths.is_empty() && methods.is_empty() && get(r, "expression").is_none() {
        d.err(path, "must set `paths` or `methods`");
    }
    let protocols = get_str_list(r, "protocols");
    let http = protocols.is_empty() || protocols.iter().any(|p| p == "http" || p == "https");
    if !http {
        d.warn(
            &join(path, "protocols"),
            "route serves no http/https traffic and is ignored by llmux",
        );
    }
    let idx = doc.routes.len();
    doc.routes.push(RawRoute {
        path: path.to_string(),
        name: get_str(r, "name").map(str::to_string),
        id: get_str(r, "id").map(str::to_string),
        service: parent_ref(r, "service", path, service),
        paths,
        methods,
        regex_priority: get_int(r, "regex_priority").unwrap_or(0),
        http,
    });
    for (i, p) in nested(r, "plugins", path, d).iter().enumerate() {
        let parents = Parents {
            route: Some(idx),
            ..Parents::default()
        };
        read_plugin(p, &index(&join(path, "plugins"), i), parents, doc, d);
    }
}

/// The entities a plugin is nested in (indices into the document's lists).
#[derive(Default, Clone, Copy)]
struct Parents {
    service: Option<usize>,
    route: Option<usize>,
    consumer: Option<usize>,
}

fn read_plugin<'a>(p: &'a Value, path: &str, parents: Parents, doc: &mut Doc<'a>, d: &mut Diag) {
    let name = get_str(p, "name").unwrap_or_default().to_string();
    let enabled = get_bool(p, "enabled").unwrap_or(true);
    // Per-key warnings only for enabled plugins llmux runs: any other plugin gets one warning
    // as a whole, a disabled one none.
    let runs = super::resolve::is_ai_plugin(&name) || super::access::NAMES.contains(&name.as_str());
    check_record(p, PLUGIN, path, runs && enabled, d);
    if as_mapping(p).is_none() {
        return;
    }
    if get(p, "name").is_none() {
        d.err(&join(path, "name"), "is required");
    }
    if enabled && get(p, "consumer_group").is_some() {
        d.err(
            &join(path, "consumer_group"),
            "consumer groups are not supported yet by llmux",
        );
    }
    let protocols = get_str_list(p, "protocols");
    let http = protocols.is_empty() || protocols.iter().any(|p| p == "http" || p == "https");
    if enabled && !http {
        d.warn(
            &join(path, "protocols"),
            "plugin never runs on http/https and is ignored by llmux",
        );
    }
    doc.plugins.push(RawPlugin {
        path: path.to_string(),
        name,
        id: get_str(p, "id").map(str::to_string),
        instance_name: get_str(p, "instance_name").map(str::to_string),
        config: get(p, "config"),
        route: parent_ref(p, "route", path, parents.route),
        service: parent_ref(p, "service", path, parents.service),
        consumer: parent_ref(p, "consumer", path, parents.consumer),
        shared_config: get(p, "_config").is_some(),
        enabled: enabled && http,
    });
}
