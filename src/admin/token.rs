//! The Admin API token: Kong Enterprise's `Kong-Admin-Token` header.
//!
//! The Admin API can replace the whole configuration and lists consumers' keys, so on an
//! address other than loopback llmux refuses to start without a token (`--admin-token` or
//! `LLMUX_ADMIN_TOKEN`). With a token, every admin request must carry it, as
//! `Kong-Admin-Token: <token>` (Kong's header) or `Authorization: Bearer <token>` (what
//! Prometheus sends with `authorization: {credentials: ...}`); it is compared in constant time
//! and never logged.

use crate::config::access::ct_eq;
use std::net::SocketAddr;

/// Kong's answer to a request without a valid token.
pub(super) const REFUSED: &str = "Invalid credentials. Token or User credentials required";

/// The token in force, or why llmux must not start: a non-loopback admin address needs one.
pub fn check(addr: SocketAddr, token: Option<String>) -> Result<Option<AdminToken>, String> {
    match token {
        Some(t) if t.is_empty() => Err("the admin token must not be empty".to_string()),
        Some(t) if t.bytes().any(|b| b.is_ascii_control() || b == b' ') => {
            Err("the admin token must not contain spaces or control characters".to_string())
        }
        Some(t) => Ok(Some(AdminToken(t.into_bytes().into()))),
        None if addr.ip().is_loopback() => Ok(None),
        None => Err(format!(
            "the Admin API would listen on {addr}, which is not a loopback address: set \
             --admin-token (or LLMUX_ADMIN_TOKEN); clients then send it as Kong-Admin-Token"
        )),
    }
}

/// A token, never printed.
#[derive(Clone)]
pub struct AdminToken(Box<[u8]>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// Whether the request's headers carry this token.
    pub(super) fn admits(&self, headers: &http::HeaderMap) -> bool {
        let kong = headers
            .get_all("kong-admin-token")
            .iter()
            .any(|v| ct_eq(v.as_bytes(), &self.0));
        let bearer = headers
            .get_all(http::header::AUTHORIZATION)
            .iter()
            .any(|v| {
                let v = v.as_bytes();
                v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") && ct_eq(&v[7..], &self.0)
            });
        kong || bearer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_elsewhere_one_is_required() {
        let lo: SocketAddr = "127.0.0.1:8001".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8001".parse().unwrap();
        let v6: SocketAddr = "[::1]:8001".parse().unwrap();
        assert!(check(lo, None).unwrap().is_none());
        assert!(check(v6, None).unwrap().is_none());
        let e = check(any, None).unwrap_err();
        assert!(
            e.contains("--admin-token") && e.contains("0.0.0.0:8001"),
            "{e}"
        );
        assert!(check(any, Some(String::new())).is_err());
        let t = check(any, Some("s3cret".into())).unwrap().unwrap();
        assert!(!format!("{t:?}").contains("s3cret"));
        let mut h = http::HeaderMap::new();
        assert!(!t.admits(&h));
        h.insert("kong-admin-token", "wrong".parse().unwrap());
        assert!(!t.admits(&h));
        h.insert("kong-admin-token", "s3cret".parse().unwrap());
        assert!(t.admits(&h));
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(t.admits(&h));
    }
}
