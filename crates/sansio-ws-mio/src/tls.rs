//! TLS for both roles (`wss://`), with [rustls] on the *ring* crypto provider: feature `tls`.
//!
//! TLS stays outside the Sans-IO core, which keeps seeing plaintext: the driver reads TLS
//! records from the socket into the rustls connection and hands the plaintext on; it writes the
//! core's output as plaintext into rustls and the records out to the socket.
//!
//! - A server: [`EventLoop::listen_tls`](crate::EventLoop::listen_tls) (or
//!   [`Server::listen_tls`](crate::Server::listen_tls)) with a [`rustls::ServerConfig`], for
//!   instance [`server_config`] from PEM files. The handshake timeout covers the TLS handshake
//!   too, so a peer that stalls in it is dropped like one that stalls in its HTTP request.
//! - A client: `wss://` URLs, verified against [`DriverConfig::tls_client`](crate::DriverConfig::tls_client),
//!   by default Mozilla's roots ([`webpki_roots()`]); [`roots_from_pem_file`] adds a private CA.
//! - What was agreed ([`TlsInfo`]: server name, ALPN, version, cipher suite) is in
//!   [`Opened::tls`](crate::Opened::tls) and, from the request on, [`Ctx::tls_info`](crate::Ctx::tls_info).
//!
//! The close order: the WebSocket close handshake, then every byte queued, then `close_notify`,
//! then the TCP write side. A peer that ends TCP without `close_notify` after the close handshake
//! is not an error (the close completed); before it, the connection ends with
//! [`CloseCause::Truncated`](sansio_ws::connection::CloseCause::Truncated).
//!
//! Any rustls configuration works, with any crypto provider: the helpers here are a starting
//! point that sets ALPN to `http/1.1` and prefers X25519 for the key exchange.

use std::io;
use std::path::Path;
use std::sync::Arc;

pub use rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub use crate::handler::TlsInfo;

/// The one ALPN protocol a WebSocket over HTTP/1.1 speaks.
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// The *ring* provider with the key exchange groups in the order that is fastest for both
/// ends: X25519 first (rustls 0.23 puts secp384r1 first, ten times as slow with *ring*).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // Deprecated by rustls in favour of aws-lc-rs, whose hybrid post-quantum key exchange *ring*
    // lacks: chosen for its build (no cmake, 37 s against 91 s here) at the same handshake cost
    // with X25519. A configuration on another provider can be passed in instead.
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups.sort_by_key(|g| match g.name() {
        rustls::NamedGroup::X25519 => 0,
        rustls::NamedGroup::secp256r1 => 1,
        _ => 2,
    });
    Arc::new(provider)
}

/// A server configuration from PEM files: the certificate chain (leaf first) and its private key
/// (PKCS#8, PKCS#1 or SEC1), with ALPN `http/1.1`. The errors name the file and what is wrong.
pub fn server_config(cert_chain: &Path, key: &Path) -> io::Result<Arc<ServerConfig>> {
    let chain = certificates_from_pem_file(cert_chain)?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(format!("no private key in {}: {e}", key.display())))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(format!("{} and its key do not make a certificate: {e}", cert_chain.display())))?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration that trusts `roots`, with ALPN `http/1.1` and server-name
/// verification (always on).
pub fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions");
    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Arc::new(config)
}

/// Mozilla's root certificates, built in (the `webpki-roots` crate): what a client trusts unless
/// told otherwise.
pub fn webpki_roots() -> RootCertStore {
    RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// The platform's root certificates (the `rustls-native-certs` crate): feature `tls-native-roots`.
/// Certificates the platform store holds but rustls cannot parse are skipped; none at all is an
/// error.
#[cfg(feature = "tls-native-roots")]
pub fn native_roots() -> io::Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found.errors.first().map_or_else(|| "none found".to_string(), ToString::to_string);
        return Err(invalid(format!("no usable root certificate in the platform store: {why}")));
    }
    Ok(roots)
}

/// `roots` plus the certificates of a PEM file (a private CA, a test CA).
pub fn roots_from_pem_file(mut roots: RootCertStore, path: &Path) -> io::Result<RootCertStore> {
    for cert in certificates_from_pem_file(path)? {
        roots.add(cert).map_err(|e| invalid(format!("{}: not a usable CA certificate: {e}", path.display())))?;
    }
    Ok(roots)
}

/// The certificates of a PEM file, in order; none is an error.
fn certificates_from_pem_file(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("{} is not valid PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!("no certificate in {}", path.display())));
    }
    Ok(certs)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// What `tls` agreed; `verified_name`: a client's, the name it verified.
pub(crate) fn info(tls: &rustls::Connection, verified_name: Option<&str>) -> TlsInfo {
    let server_name = match tls {
        rustls::Connection::Server(s) => s.server_name().map(String::from),
        rustls::Connection::Client(_) => verified_name.map(String::from),
    };
    TlsInfo {
        server_name,
        alpn: tls.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
        version: tls.protocol_version().map_or_else(String::new, |v| format!("{v:?}")),
        cipher_suite: tls.negotiated_cipher_suite().map_or_else(String::new, |s| format!("{:?}", s.suite())),
    }
}

/// Why a TLS handshake failed, in words: which check of the server's certificate failed, or what
/// the peer said.
pub(crate) fn describe(error: &rustls::Error) -> String {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(e) => {
            let what = match e {
                CertificateError::UnknownIssuer => {
                    "it is not signed by a trusted certificate authority (unknown issuer)".to_string()
                }
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    format!("it is not valid for the name asked for ({e:?})")
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    format!("it has expired ({e:?})")
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    format!("it is not valid yet ({e:?})")
                }
                CertificateError::Revoked => "it has been revoked".to_string(),
                CertificateError::BadSignature => "its signature does not verify".to_string(),
                other => format!("{other:?}"),
            };
            format!("the server's certificate was refused: {what}")
        }
        Error::AlertReceived(alert) => format!("the peer refused the TLS handshake with the alert {alert:?}"),
        Error::NoApplicationProtocol => "no ALPN protocol in common (this side speaks http/1.1)".to_string(),
        other => format!("TLS failed: {other}"),
    }
}
