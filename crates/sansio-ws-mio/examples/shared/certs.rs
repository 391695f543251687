//! Certificates for local testing, made with rcgen: a certificate authority of our own, and the
//! server certificates it signs (for the names and the validity asked for). Shared by the
//! `dev-cert` example and the TLS tests.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};

/// A certificate authority: its certificate (to be trusted) and what it needs to sign.
pub(crate) struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub(crate) pem: String,
}

/// A server certificate and its key.
pub(crate) struct Leaf {
    /// The certificate, PEM.
    pub(crate) cert_pem: String,
    /// Its private key, PKCS#8 PEM.
    pub(crate) key_pem: String,
    /// The SHA-256 of its SubjectPublicKeyInfo, base64: what Chromium's
    /// `--ignore-certificate-errors-spki-list` takes to trust it.
    pub(crate) spki_sha256: String,
}

impl TestCa {
    /// A new CA called `name`, valid from a day ago for ten years.
    pub(crate) fn new(name: &str) -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key)?;
        Ok(TestCa { issuer: Issuer::new(params, key), pem: cert.pem() })
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid now, signed by this CA.
    pub(crate) fn leaf(&self, names: &[&str]) -> Result<Leaf, rcgen::Error> {
        self.sign(names, false)
    }

    /// As [`leaf`](Self::leaf), but it expired long ago (valid in the year 2000 only).
    #[allow(dead_code)] // the tests use it, dev-cert does not
    pub(crate) fn expired_leaf(&self, names: &[&str]) -> Result<Leaf, rcgen::Error> {
        self.sign(names, true)
    }

    fn sign(&self, names: &[&str], expired: bool) -> Result<Leaf, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("localhost"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &key.subject_public_key_info());
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            spki_sha256: base64::engine::general_purpose::STANDARD.encode(digest.as_ref()),
        })
    }
}
