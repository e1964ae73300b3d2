//! The compiled route table and Kong's (`traditional_compatible`) route matching.
//!
//! Order, as Kong 3.x computes route priority (`kong/router/transform.lua`, `get_priority`), with
//! each path of a route ranked on its own as Kong splits routes by path group:
//! 1. match weight: one point each for non-empty `methods` and `paths` (llmux refuses `hosts`,
//!    `headers`, `snis`, `sources`, `destinations`, which would add more);
//! 2. regex paths (`~...`) before prefix paths;
//! 3. among regex paths, higher `regex_priority` first;
//! 4. among prefix paths, the longer prefix first;
//! 5. ties: document order (Kong leaves these undefined).
//!
//! The request path is normalized first as Kong does (query dropped, percent-encodings
//! upper-cased, unreserved ones decoded, dot segments removed, duplicate slashes merged). A prefix
//! matches as a plain string prefix (`/v1` matches `/v1x`), as in Kong. A regex is anchored at the
//! start of the path (Kong prepends `^`).

use super::access::{AccessTable, Policy};
use super::types::AiProxyConfig;
use std::borrow::Cow;
use std::sync::Arc;

/// One Kong route.
#[derive(Debug, Clone)]
pub struct Route {
    /// `name`, else `id`, else its YAML path (`services[0].routes[1]`).
    pub name: String,
    pub id: Option<String>,
    /// Name (or id) of the route's service, if any.
    pub service: Option<String>,
    /// As written in the file.
    pub paths: Vec<String>,
    /// Upper-case HTTP methods; empty means any.
    pub methods: Vec<String>,
    pub regex_priority: i64,
    /// The AI plugin in scope for this route (route > service > global), if any.
    pub plugin: Option<Arc<AiProxyConfig>>,
    /// This route's access policy in [`GatewayConfig::access`] (authentication, ACL, limits).
    pub policy: usize,
    matchers: Vec<PathMatcher>,
}

#[derive(Debug, Clone)]
enum PathMatcher {
    Prefix(String),
    Regex(regex::Regex),
}

impl PathMatcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatcher::Prefix(p) => path.starts_with(p.as_str()),
            PathMatcher::Regex(r) => r.is_match(path),
        }
    }
}

/// Which route matched and the AI plugin that applies.
#[derive(Debug, Clone, Copy)]
pub enum RouteMatch<'a> {
    /// `route` is `None` for the catch-all of a configuration without routes.
    Plugin {
        route: Option<&'a Route>,
        plugin: &'a Arc<AiProxyConfig>,
    },
    /// A route matched but no AI plugin is in scope for it (answer 404 saying so).
    NoPlugin {
        route: &'a Route,
    },
    NoRoute,
}

/// The whole routing table.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub routes: Vec<Route>,
    /// Set when the file declares no routes at all: the global AI plugin serves every path.
    pub catch_all: Option<Arc<AiProxyConfig>>,
    /// Consumers, keys and the access plugins in force on each route.
    pub access: AccessTable,
    /// Every distinct AI plugin, each at its `slot`.
    plugins: Vec<Arc<AiProxyConfig>>,
    /// Highest priority first.
    order: Vec<MatchEntry>,
}

/// (route index, path index or `None` for a route without paths).
type MatchEntry = (usize, Option<usize>);

/// (match weight, is regex, regex_priority, prefix length): larger matches first.
type Priority = (u8, bool, i64, usize);

impl Route {
    /// Compile a route. `Err` lists `(index in paths, message)` for every bad path.
    pub(crate) fn new(
        name: String,
        id: Option<String>,
        service: Option<String>,
        paths: Vec<String>,
        methods: Vec<String>,
        regex_priority: i64,
        plugin: Option<Arc<AiProxyConfig>>,
    ) -> Result<Route, Vec<(usize, String)>> {
        let mut matchers = Vec::with_capacity(paths.len());
        let mut errors = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            match compile_path(p) {
                Ok(m) => matchers.push(m),
                Err(e) => errors.push((i, e)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Route {
            name,
            id,
            service,
            paths,
            methods,
            regex_priority,
            plugin,
            policy: 0,
            matchers,
        })
    }

    fn allows_method(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m == method)
    }
}

fn compile_path(p: &str) -> Result<PathMatcher, String> {
    if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters".into());
    }
    if let Some(re) = p.strip_prefix('~') {
        let pattern = format!("^{}", decode_unreserved(re, true));
        return regex::RegexBuilder::new(&pattern)
            .size_limit(1 << 20)
            .build()
            .map(PathMatcher::Regex)
            .map_err(|e| format!("is not a valid regular expression: {e}"));
    }
    if !p.starts_with('/') {
        return Err("must start with `/` (prefix) or `~` (regular expression)".into());
    }
    if p.contains(['?', '#']) {
        return Err("must not contain a query (`?`) or fragment (`#`)".into());
    }
    Ok(PathMatcher::Prefix(normalize_path(p).into_owned()))
}

/// Gives each distinct plugin (by identity: one shared by several routes counts once) its slot,
/// replacing the routes' references with the numbered copies. Returns the plugins by slot.
fn number_plugins(
    routes: &mut [Route],
    catch_all: &mut Option<Arc<AiProxyConfig>>,
) -> Vec<Arc<AiProxyConfig>> {
    let mut originals: Vec<*const AiProxyConfig> = Vec::new();
    let mut numbered: Vec<Arc<AiProxyConfig>> = Vec::new();
    let mut renumber = |p: &mut Arc<AiProxyConfig>| {
        let at = match originals.iter().position(|o| *o == Arc::as_ptr(p)) {
            Some(at) => at,
            None => {
                originals.push(Arc::as_ptr(p));
                let mut copy = AiProxyConfig::clone(p);
                copy.slot = numbered.len();
                numbered.push(Arc::new(copy));
                numbered.len() - 1
            }
        };
        *p = Arc::clone(&numbered[at]);
    };
    if let Some(p) = catch_all {
        renumber(p);
    }
    for r in routes.iter_mut() {
        if let Some(p) = &mut r.plugin {
            renumber(p);
        }
    }
    numbered
}

impl GatewayConfig {
    pub(crate) fn new(
        mut routes: Vec<Route>,
        mut catch_all: Option<Arc<AiProxyConfig>>,
        access: AccessTable,
    ) -> GatewayConfig {
        let plugins = number_plugins(&mut routes, &mut catch_all);
        let mut entries: Vec<(Priority, MatchEntry)> = Vec::new();
        for (ri, r) in routes.iter().enumerate() {
            let weight = u8::from(!r.methods.is_empty()) + u8::from(!r.matchers.is_empty());
            if r.matchers.is_empty() {
                entries.push(((weight, false, 0, 0), (ri, None)));
            }
            for (pi, m) in r.matchers.iter().enumerate() {
                let key = match m {
                    PathMatcher::Regex(_) => (weight, true, r.regex_priority, 0),
                    PathMatcher::Prefix(p) => (weight, false, 0, p.len()),
                };
                entries.push((key, (ri, Some(pi))));
            }
        }
        // Stable: equal keys keep document order.
        entries.sort_by_key(|(priority, _)| std::cmp::Reverse(*priority));
        GatewayConfig {
            order: entries.into_iter().map(|(_, e)| e).collect(),
            routes,
            catch_all,
            access,
            plugins,
        }
    }

    /// The access policy for a matched route (`None`: the catch-all of a file without routes).
    pub fn policy(&self, route: Option<&Route>) -> &Policy {
        self.access.policy(route.map(|r| r.policy))
    }

    /// Every distinct AI plugin, in slot order (catch-all first, then by route).
    pub fn plugins(&self) -> &[Arc<AiProxyConfig>] {
        &self.plugins
    }

    /// Kong router semantics (see the module doc). `path` may carry a query string.
    pub fn match_route(&self, method: &str, path: &str) -> RouteMatch<'_> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let path = normalize_path(path);
        for &(ri, pi) in &self.order {
            let Some(route) = self.routes.get(ri) else {
                continue;
            };
            if !route.allows_method(method) {
                continue;
            }
            let hit = match pi {
                None => true,
                Some(pi) => route.matchers.get(pi).is_some_and(|m| m.matches(&path)),
            };
            if hit {
                return match &route.plugin {
                    Some(plugin) => RouteMatch::Plugin {
                        route: Some(route),
                        plugin,
                    },
                    None => RouteMatch::NoPlugin { route },
                };
            }
        }
        match &self.catch_all {
            Some(plugin) => RouteMatch::Plugin {
                route: None,
                plugin,
            },
            None => RouteMatch::NoRoute,
        }
    }

    /// A deep copy for one worker core: no `Arc` is shared with `self`, so reference counting on
    /// one core never touches another core's cache lines. Plugins shared by several routes stay
    /// shared within the copy.
    pub fn per_core_copy(&self) -> GatewayConfig {
        let plugins: Vec<Arc<AiProxyConfig>> = self
            .plugins
            .iter()
            .map(|p| Arc::new(p.per_core_copy()))
            .collect();
        let copy = |p: &Arc<AiProxyConfig>| Arc::clone(&plugins[p.slot]);
        let routes = self
            .routes
            .iter()
            .map(|r| Route {
                plugin: r.plugin.as_ref().map(copy),
                ..r.clone()
            })
            .collect();
        GatewayConfig {
            routes,
            catch_all: self.catch_all.as_ref().map(copy),
            access: self.access.clone(),
            order: self.order.clone(),
            plugins: plugins.clone(),
        }
    }
}

/// Kong's path normalization (RFC 3986): upper-case percent-encodings, decode unreserved
/// characters, remove dot segments, merge duplicate slashes. Borrows when nothing changes.
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    if !path.contains('%') && !path.contains("//") && !path.contains("/.") {
        return Cow::Borrowed(path);
    }
    let decoded = decode_unreserved(path, false);
    let mut out = remove_dot_segments(&decoded);
    while out.contains("//") {
        out = out.replace("//", "/");
    }
    Cow::Owned(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Upper-case `%xx` triplets and decode those of unreserved characters. In a regex (`escape`), a
/// decoded `.` is escaped so that it keeps matching only itself.
fn decode_unreserved(s: &str, escape: bool) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                let c = (h << 4) | l;
                if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                    if escape && c == b'.' {
                        out.push('\\');
                    }
                    out.push(c as char);
                } else {
                    out.push_str(&format!("%{c:02X}"));
                }
                i += 3;
                continue;
            }
        }
        // Copy one whole UTF-8 character.
        let len = s[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&s[i..i + len]);
        i += len;
    }
    out
}

/// RFC 3986 section 5.2.4 for absolute paths.
fn remove_dot_segments(path: &str) -> String {
    let Some(rest) = path.strip_prefix('/') else {
        return path.to_string();
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let last = segs.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segs.len());
    for (i, seg) in segs.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => {
                out.push(s);
                continue;
            }
        }
        if i == last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_kong() {
        let n = |p| normalize_path(p).into_owned();
        assert_eq!(n("/foo%3a"), "/foo%3A");
        assert_eq!(n("/fo%6F"), "/foo");
        assert_eq!(n("/foo/./bar/../baz"), "/foo/baz");
        assert_eq!(n("/foo//bar"), "/foo/bar");
        assert_eq!(n("/a/b/.."), "/a/");
        assert_eq!(n("/../.."), "/");
        assert_eq!(n("/%zz%4"), "/%zz%4");
        assert_eq!(n("/é%41"), "/éA");
        assert!(matches!(normalize_path("/v1/chat"), Cow::Borrowed(_)));
    }

    #[test]
    fn compiles_paths() {
        assert!(matches!(compile_path("/a"), Ok(PathMatcher::Prefix(_))));
        assert!(compile_path("~/a/(?<id>\\d+)$").is_ok());
        assert!(compile_path("~/a/(").is_err());
        assert!(compile_path("a").is_err());
        assert!(compile_path("/a?b").is_err());
        assert!(compile_path("/a b").is_err());
        let PathMatcher::Regex(r) = compile_path("~/v%31/x.y").unwrap() else {
            panic!()
        };
        assert!(r.is_match("/v1/x.y/z") && !r.is_match("/a/v1/x.y"));
    }
}
