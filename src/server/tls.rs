//! TLS on the proxy listener (`--listen-tls`): rustls with the ring provider, TLS 1.2 and 1.3,
//! ALPN `http/1.1`, the certificate chain and key read from PEM files.
//!
//! Reloading (SIGHUP, admin `POST /config`) swaps the certificate without touching a
//! connection: every worker's acceptor shares one [`ServerConfig`] whose certificate resolver
//! holds the current chain and key behind a lock taken once per handshake (a handshake costs
//! milliseconds of public-key work; an uncontended read lock costs nanoseconds), so a new
//! handshake gets the new certificate while established connections keep theirs. Files are
//! read on the main thread only.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The listener's certificate files and the config every worker's acceptor uses.
pub struct ListenerTls {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<CurrentCert>,
    config: Arc<ServerConfig>,
}

impl ListenerTls {
    /// Reads `cert` (PEM chain, leaf first) and `key` (PEM PKCS#8, PKCS#1 or SEC1).
    pub fn load(cert: &Path, key: &Path) -> Result<ListenerTls, String> {
        let certified = read_pair(cert, key)?;
        let current = Arc::new(CurrentCert(RwLock::new(certified)));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ListenerTls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current,
            config: Arc::new(config),
        })
    }

    /// The config for the workers' acceptors (shared; reloads change what it resolves).
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// Re-reads the files. On any error the old certificate stays in use and the error says
    /// which file and why.
    pub fn reload(&self) -> Result<(), String> {
        let certified = read_pair(&self.cert, &self.key)?;
        match self.current.0.write() {
            Ok(mut slot) => *slot = certified,
            Err(poisoned) => *poisoned.into_inner() = certified,
        }
        Ok(())
    }
}

/// The certificate new handshakes get.
#[derive(Debug)]
struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(match self.0.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        })
    }
}

/// Completes a TLS handshake within `--tls-handshake-timeout-ms`, then serves the connection
/// as the plain listener does. A failed or slow handshake just closes the socket (there is no
/// HTTP yet to answer with).
pub(super) async fn serve_tls(
    ctx: std::rc::Rc<crate::ctx::WorkerCtx>,
    stream: monoio::net::TcpStream,
    acceptor: monoio_rustls::TlsAcceptor,
) {
    use std::os::fd::AsRawFd;
    let _ = stream.set_nodelay(true);
    let raw = stream.as_raw_fd();
    let timeout = ctx.settings.tls_handshake_timeout;
    let Ok(Ok(tls)) = monoio::time::timeout(timeout, acceptor.accept(stream)).await else {
        return;
    };
    let Ok(io) = crate::http1::ClientIo::tls(tls, raw) else {
        return;
    };
    crate::proxy::serve(ctx, crate::http1::ClientConn::over(io)).await;
}

fn read_pair(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, String> {
    let cert_pem =
        std::fs::read(cert).map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    let key_pem = std::fs::read(key).map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: no PEM certificate in the file",
            cert.display()
        ));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, key_der, &provider).map_err(|e| {
        format!(
            "--tls-cert {} and --tls-key {}: {e}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(Arc::new(certified))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn loads_reloads_and_keeps_the_old_certificate_when_the_new_one_is_bad() {
        let dir = std::env::temp_dir().join(format!("llmux-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = write_pair(&dir, "a.test");
        let tls = ListenerTls::load(&cert, &key).unwrap();
        assert_eq!(tls.config().alpn_protocols, vec![b"http/1.1".to_vec()]);
        let first = tls.current.0.read().unwrap().cert[0].clone();

        let (cert2, key2) = write_pair(&dir, "b.test");
        std::fs::copy(&cert2, &cert).unwrap();
        std::fs::copy(&key2, &key).unwrap();
        tls.reload().unwrap();
        let second = tls.current.0.read().unwrap().cert[0].clone();
        assert_ne!(first, second);

        std::fs::write(&cert, "not a certificate").unwrap();
        let e = tls.reload().unwrap_err();
        assert!(
            e.contains("--tls-cert") && e.contains("no PEM certificate"),
            "{e}"
        );
        assert_eq!(tls.current.0.read().unwrap().cert[0], second, "kept");

        let (_, other_key) = write_pair(&dir, "c.test");
        std::fs::copy(&cert2, &cert).unwrap();
        let e = ListenerTls::load(&cert, &other_key).err().unwrap();
        assert!(
            e.contains("--tls-key"),
            "a key that does not match the certificate: {e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
