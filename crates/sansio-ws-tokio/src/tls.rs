//! `wss://` for clients (feature `rustls`): tokio-rustls on rustls's *ring* provider with X25519
//! tried first (the same choice as the mio driver's, for the same reasons: no cmake to build it,
//! and X25519 costs a tenth of *ring*'s default first group), Mozilla's roots unless told
//! otherwise, ALPN `http/1.1`.

use std::io;
use std::sync::{Arc, OnceLock};

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::error::HandshakeError;

/// The crypto provider every configuration here uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // Deprecated by rustls in favour of aws-lc-rs, which needs cmake and a C toolchain; a
    // configuration on any provider can be passed to `connect_with_tls` instead.
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups.sort_by_key(|g| match g.name() {
        rustls::NamedGroup::X25519 => 0,
        rustls::NamedGroup::secp256r1 => 1,
        _ => 2,
    });
    Arc::new(provider)
}

/// A client configuration trusting `roots`, with ALPN `http/1.1`: for
/// [`connect_with_tls`](crate::connect_with_tls) (e.g. with a private CA's certificate added).
pub fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions");
    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Mozilla's root certificates (the `webpki-roots` crate).
pub fn webpki_roots() -> rustls::RootCertStore {
    rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// `roots` with every certificate of the PEM file at `path` added: a private CA to trust, for
/// [`client_config`]. A file that cannot be read, is not PEM, holds no certificate or one that
/// cannot be a trust anchor is an error that names the file and what was wrong.
pub fn roots_from_pem_file(mut roots: rustls::RootCertStore, path: &Path) -> io::Result<rustls::RootCertStore> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("{} is not valid PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!("no certificate in {}", path.display())));
    }
    for cert in certs {
        roots.add(cert).map_err(|e| invalid(format!("{}: not a usable CA certificate: {e}", path.display())))?;
    }
    Ok(roots)
}

/// The configuration `connect` uses: Mozilla's roots. Built once.
pub(crate) fn default_client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG.get_or_init(|| client_config(webpki_roots())).clone()
}

/// The TLS handshake with `host` over `tcp`, verifying its certificate for that name.
pub(crate) fn connect(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::Connect<TcpStream>, HandshakeError> {
    // An IPv6 literal comes bracketed in a URL; the certificate names the address itself.
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(name.to_string())
        .map_err(|e| HandshakeError::Tls(io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}"))))?;
    Ok(tokio_rustls::TlsConnector::from(config).connect(name, tcp))
}
