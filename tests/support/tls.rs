//! A certificate authority made in the test with rcgen, for HTTPS upstreams the gateway must
//! trust through `SSL_CERT_FILE`.

use super::TempFile;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A client-side TLS connection made with [`TestCa::connect`].
pub type TlsClientStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A fresh CA. `pem_path` holds its certificate as PEM (removed on drop); give it to the gateway
/// as `SSL_CERT_FILE` (see [`TestCa::env`]).
pub struct TestCa {
    pub pem_path: PathBuf,
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    _file: TempFile,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("generating CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "llmux test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-signing CA");
        let pem = cert.pem();
        let file = TempFile::with_contents("ca", "pem", &pem);
        TestCa {
            pem_path: file.path().to_path_buf(),
            pem,
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
            _file: file,
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// `("SSL_CERT_FILE", pem_path)`, ready for [`super::GatewayOpts::env`].
    pub fn env(&self) -> (String, String) {
        (
            "SSL_CERT_FILE".to_owned(),
            self.pem_path.to_str().expect("UTF-8 temp path").to_owned(),
        )
    }

    /// A rustls server config with a fresh leaf certificate for `names` (DNS names or IP
    /// addresses, e.g. `["localhost", "127.0.0.1"]`) signed by this CA.
    pub fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().expect("generating leaf key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, "llmux test upstream");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("signing leaf certificate");
        let chain = vec![cert.der().clone(), self.der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        Arc::new(config)
    }

    /// A fresh leaf certificate for `names` signed by this CA, written as PEM files: the
    /// chain (leaf, then this CA) and the PKCS#8 key, for `--tls-cert` / `--tls-key`.
    pub fn leaf_pem_files(&self, names: &[&str]) -> (TempFile, TempFile) {
        let (chain, key) = self.leaf_pem(names);
        (
            TempFile::with_contents("leaf", "crt", chain),
            TempFile::with_contents("leaf", "key", key),
        )
    }

    /// A fresh leaf (chain PEM, key PEM) for `names`, signed by this CA.
    pub fn leaf_pem(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("generating leaf key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("signing leaf certificate");
        (format!("{}{}", cert.pem(), self.pem), key.serialize_pem())
    }

    /// Connects with only `versions` offered and ALPN `http/1.1`; the handshake is completed
    /// before returning.
    pub fn connect_with(
        &self,
        addr: SocketAddr,
        server_name: &str,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> TlsClientStream {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("adding CA to roots");
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = ServerName::try_from(server_name.to_owned()).expect("server name");
        let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS client");
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"));
        }
        stream
    }

    /// A rustls client config that trusts only this CA.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("adding CA to roots");
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// Connects to `addr` with TLS, verifying the server as `server_name` against this CA. The
    /// handshake happens on first use; reads time out after 10 s.
    pub fn connect(&self, addr: SocketAddr, server_name: &str) -> TlsClientStream {
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = ServerName::try_from(server_name.to_owned()).expect("server name");
        let conn = rustls::ClientConnection::new(self.client_config(), name).expect("TLS client");
        rustls::StreamOwned::new(conn, tcp)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
