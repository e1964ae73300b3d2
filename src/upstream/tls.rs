//! TLS client settings for HTTPS upstreams.
//!
//! Roots come from the system store through rustls-native-certs, which honours
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` (how tests and private CAs add a root). Certificates are
//! always verified; there is no switch to turn that off. The store is read once on the main
//! thread (file I/O), and each worker builds its own `ClientConfig` from a copy, so no TLS state
//! is shared between cores.

use rustls::RootCertStore;
use std::sync::Arc;

/// Reads the system roots. Problems are returned as warnings: a gateway with only plain-HTTP
/// upstreams must still start on a machine without a CA bundle.
pub fn load_roots() -> (RootCertStore, Vec<String>) {
    let mut roots = RootCertStore::empty();
    let mut warnings = Vec::new();
    let found = rustls_native_certs::load_native_certs();
    for e in found.errors {
        warnings.push(format!("reading system CA certificates: {e}"));
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 {
        warnings.push(format!(
            "{ignored} system CA certificates could not be parsed"
        ));
    }
    if added == 0 {
        warnings.push(
            "no CA certificates found (set SSL_CERT_FILE); HTTPS upstreams will fail".to_string(),
        );
    }
    (roots, warnings)
}

/// A worker's own TLS client configuration.
pub fn client_config(roots: RootCertStore) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("building the TLS client configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
