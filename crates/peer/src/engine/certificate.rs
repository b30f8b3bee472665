//! The DTLS certificate a peer presents on every connection. The engine would make a new
//! one per connection; one kept for the peer's lifetime (and, with [`crate::identity`],
//! across restarts) keeps its fingerprint, and with it the safety numbers, stable.

use std::time::{Duration, SystemTime};

use rtc::crypto::{default_provider, SignatureScheme};
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};

use super::EngineError;
use crate::safety::Fingerprint;

/// Certificates are valid this long. The engine refuses a certificate past its expiry;
/// nothing else reads the validity of a self-signed DTLS certificate (the DTLS handshake
/// checks the fingerprint), so a reloaded one counts its expiry from the load.
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A DTLS certificate with its private key.
#[derive(Clone)]
pub struct Certificate {
    pub(crate) inner: RTCCertificate,
    fingerprint: Fingerprint,
}

impl std::fmt::Debug for Certificate {
    /// The fingerprint only: the private key is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Certificate {
    /// A new ECDSA P-256 certificate (what browsers make).
    pub fn generate() -> Result<Certificate, EngineError> {
        let provider = default_provider().map_err(super::err)?;
        let mut params = CertificateParams::new(vec!["peerchat".to_owned()]).map_err(super::err)?;
        params.not_before =
            SystemTime::now().checked_sub(Duration::from_secs(24 * 3600)).unwrap_or(SystemTime::now()).into();
        params.not_after = (SystemTime::now() + VALIDITY).into();
        let inner = RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)
            .map_err(super::err)?;
        Certificate::wrap(inner)
    }

    /// Reads a certificate written by [`Certificate::to_pem`].
    pub fn from_pem(pem: &str) -> Result<Certificate, EngineError> {
        let provider = default_provider().map_err(super::err)?;
        // The DTLS part only: the engine's own format adds an expiry block that it
        // reads without checking its length (a short one panics).
        let dtls = rtc::dtls::crypto::Certificate::from_pem(pem, provider.crypto()).map_err(super::err)?;
        Certificate::wrap(RTCCertificate::from_existing(dtls, SystemTime::now() + VALIDITY))
    }

    /// The private key and the certificate, as PEM: keep it private to the user.
    pub fn to_pem(&self) -> Result<String, EngineError> {
        self.inner.dtls_certificate.serialize_pem().map_err(super::err)
    }

    /// The SHA-256 fingerprint, as the SDP carries it.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// When the engine stops accepting it.
    pub fn expires(&self) -> SystemTime {
        self.inner.expires
    }

    fn wrap(inner: RTCCertificate) -> Result<Certificate, EngineError> {
        let provider = default_provider().map_err(super::err)?;
        let fps = inner.get_fingerprints(provider.crypto()).map_err(super::err)?;
        let first = fps.first().ok_or_else(|| EngineError("a certificate without a fingerprint".into()))?;
        let fingerprint = Fingerprint::parse(&format!("{} {}", first.algorithm, first.value)).map_err(super::err)?;
        Ok(Certificate { inner, fingerprint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_keeps_its_fingerprint_through_pem() {
        let c = Certificate::generate().unwrap();
        let again = Certificate::from_pem(&c.to_pem().unwrap()).unwrap();
        assert_eq!(again.fingerprint(), c.fingerprint());
        assert_eq!(c.fingerprint().algorithm(), "sha-256");
        assert_ne!(Certificate::generate().unwrap().fingerprint(), c.fingerprint());
    }

    #[test]
    fn a_certificate_is_valid_for_years_and_its_key_is_never_printed() {
        let c = Certificate::generate().unwrap();
        assert!(c.expires() > SystemTime::now() + Duration::from_secs(5 * 365 * 24 * 3600));
        let pem = c.to_pem().unwrap();
        assert!(pem.contains("BEGIN PRIVATE_KEY"));
        assert!(!format!("{c:?}").contains("PRIVATE"), "{c:?}");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(Certificate::from_pem("").is_err());
        assert!(Certificate::from_pem("-----BEGIN EXPIRES-----\nAA==\n-----END EXPIRES-----\n\n").is_err());
        let pem = Certificate::generate().unwrap().to_pem().unwrap();
        let key_only = &pem[..pem.find("-----BEGIN CERTIFICATE").unwrap()];
        assert!(Certificate::from_pem(key_only).is_err());
        assert!(Certificate::from_pem(&pem.replace("PRIVATE_KEY", "CERTIFICATE")).is_err());
    }
}
