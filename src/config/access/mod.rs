//! Who may call the gateway and how often: consumers and their keys, and the `key-auth`, `acl`,
//! `rate-limiting` and `ai-rate-limiting-advanced` plugins, resolved per route at load.
//!
//! Everything the request path needs is computed here, once: the key index (a sorted table of
//! keyed hashes, so a key is found by binary search and confirmed in constant time), each
//! consumer's upstream headers as ready bytes, each ACL's verdict per consumer, each route's
//! [`Policy`] (which plugin instance of each kind applies, by consumer, following Kong's
//! precedence). The request path then reads indices and borrowed bytes, and allocates nothing.
//!
//! - `schema`: Kong's schemas for the four plugins.
//! - `forms`: the typed form of each plugin, as the request path reads it.
//! - `plugins`: each plugin's `config` to its typed form, with Kong's defaults and checks.
//! - `table`: consumers, credentials and the key index.
//! - `scope`: which instance applies where (route, service, consumer, global).

mod forms;
mod plugins;
pub(crate) mod schema;
mod scope;
mod table;

pub use forms::{
    Acl, AclVerdict, KeyAuth, LimitBy, Period, RequestLimit, Strategy, TokenCount, TokenLimit,
    TokenProvider, TokenWindow, WindowType,
};
pub(crate) use plugins::{build_access_plugin, BuildCx};
pub(crate) use scope::{assemble, RouteScope, ScopedPlugin};
pub use table::{ct_eq, Consumer, Credential};

use table::KeyIndex;

/// The plugin names this module implements.
pub(crate) const NAMES: [&str; 4] = [
    forms::KEY_AUTH,
    forms::ACL,
    forms::RATE_LIMITING,
    forms::AI_RATE_LIMITING_ADVANCED,
];

/// Everything access control needs, for one configuration. Cloned per core with the rest of
/// the configuration (it holds no `Arc`).
#[derive(Clone, Default)]
pub struct AccessTable {
    pub consumers: Vec<Consumer>,
    pub credentials: Vec<Credential>,
    keys: KeyIndex,
    pub key_auths: Vec<KeyAuth>,
    pub acls: Vec<Acl>,
    pub request_limits: Vec<RequestLimit>,
    pub token_limits: Vec<TokenLimit>,
    /// One per route (by route index in [`GatewayConfig::routes`]), then one for requests no
    /// route matched in a file without routes (the catch-all: global plugins only).
    ///
    /// [`GatewayConfig::routes`]: super::GatewayConfig::routes
    pub policies: Vec<Policy>,
}

/// Never the keys.
impl std::fmt::Debug for AccessTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTable")
            .field("consumers", &self.consumers.len())
            .field("credentials", &self.credentials.len())
            .field("key_auths", &self.key_auths.len())
            .field("acls", &self.acls.len())
            .field("request_limits", &self.request_limits.len())
            .field("token_limits", &self.token_limits.len())
            .finish()
    }
}

/// The access plugins in force on one route, as indices into the table's lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub key_auth: Option<u32>,
    pub acl: Option<u32>,
    pub request_limit: ByConsumer,
    pub token_limit: ByConsumer,
    /// The providers of the route's AI plugin's targets (bit `Provider as u32`): the
    /// `llm_providers` entries whose budget a request on this route may spend.
    pub providers: u32,
    /// The route's service (`id`, else `name`), for `limit_by: service`.
    pub service: Option<String>,
}

impl Policy {
    /// Whether anything is to be checked at all (most configurations: nothing).
    pub fn is_empty(&self) -> bool {
        self.key_auth.is_none()
            && self.acl.is_none()
            && self.request_limit.is_empty()
            && self.token_limit.is_empty()
    }
}

/// Which instance of a plugin kind applies, which may depend on the consumer (a plugin scoped
/// to a consumer beats one on the route, service or globally, and loses only to one on the
/// route and service together; Kong's precedence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByConsumer {
    /// For requests without a consumer, and for every consumer not listed.
    pub base: Option<u32>,
    /// `(consumer, instance)`, sorted by consumer; `None` means no instance for that consumer.
    pub overrides: Vec<(u32, Option<u32>)>,
}

impl ByConsumer {
    pub fn get(&self, consumer: Option<u32>) -> Option<u32> {
        let Some(c) = consumer else {
            return self.base;
        };
        match self.overrides.binary_search_by_key(&c, |(k, _)| *k) {
            Ok(at) => self.overrides[at].1,
            Err(_) => self.base,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.overrides.iter().all(|(_, v)| v.is_none())
    }
}

impl AccessTable {
    /// The credential whose key is `presented`, compared in constant time.
    pub fn credential_for(&self, presented: &[u8]) -> Option<u32> {
        self.keys.find(presented, &self.credentials)
    }

    /// The policy of route `route` (`None`: the catch-all of a file without routes).
    pub fn policy(&self, route: Option<usize>) -> &Policy {
        static NONE: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        let at = route.unwrap_or(self.policies.len().saturating_sub(1));
        self.policies
            .get(at)
            .unwrap_or_else(|| NONE.get_or_init(Policy::default))
    }

    pub fn consumer(&self, c: u32) -> Option<&Consumer> {
        self.consumers.get(c as usize)
    }

    pub fn credential(&self, c: u32) -> Option<&Credential> {
        self.credentials.get(c as usize)
    }
}
