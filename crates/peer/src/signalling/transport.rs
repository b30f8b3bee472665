//! What carries the signalling WebSocket: which URLs may be dialled, the TCP connection,
//! and TLS verified against the OS trust store.
//!
//! * `wss://` is TLS (rustls, with the platform's verifier: the OS trust store, plus any
//!   extra CA the app configured). A certificate problem is a typed [`TlsFailure`], never
//!   a silent retry or a fallback to plaintext.
//! * `ws://` is plaintext. It is allowed to loopback (`localhost`, `127.0.0.0/8`, `::1`)
//!   and, only when [`TlsOptions::allow_plaintext`] is set, to any other host.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_util::either::Either;

use crate::error::{PeerError, TlsFailure};
use crate::options::TlsOptions;

/// The byte stream under the WebSocket.
pub type Stream = Either<TcpStream, TlsStream<TcpStream>>;

/// A URL checked against the plaintext policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `wss://`.
    pub secure: bool,
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Parses `ws://` or `wss://` URLs; refuses plaintext to a host that is not loopback
    /// unless `allow_plaintext`.
    pub fn parse(url: &str, allow_plaintext: bool) -> Result<Target, PeerError> {
        let uri: Uri = url.parse().map_err(|_| PeerError::BadUrl("not a ws:// or wss:// URL".into()))?;
        let secure = match uri.scheme_str() {
            Some("wss") => true,
            Some("ws") => false,
            _ => return Err(PeerError::BadUrl("the URL must start with ws:// or wss://".into())),
        };
        let host = uri.host().ok_or_else(|| PeerError::BadUrl("the URL has no host".into()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        if host.is_empty() {
            return Err(PeerError::BadUrl("the URL has no host".into()));
        }
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        if !secure && !allow_plaintext && !is_loopback(&host) {
            return Err(PeerError::PlaintextRefused(host));
        }
        Ok(Target { secure, host, port })
    }

    /// Whether the connection is unencrypted although it leaves this machine.
    pub fn is_exposed_plaintext(&self) -> bool {
        !self.secure && !is_loopback(&self.host)
    }
}

/// Whether `url` would carry signalling unencrypted beyond this machine (`ws://` to a
/// host that is not loopback): what a UI warns about. `false` for URLs that do not parse.
pub fn is_exposed_plaintext(url: &str) -> bool {
    Target::parse(url, true).is_ok_and(|t| t.is_exposed_plaintext())
}

/// `localhost` and loopback IP literals. Other names are not resolved for this check: a
/// name that points at loopback today may not tomorrow.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Dials targets; the TLS configuration (which reads the OS trust store) is built once.
#[derive(Debug)]
pub struct Dialer {
    options: TlsOptions,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, PeerError>>,
}

impl Dialer {
    pub fn new(options: TlsOptions) -> Dialer {
        Dialer { options, tls: OnceLock::new() }
    }

    pub fn options(&self) -> &TlsOptions {
        &self.options
    }

    /// TCP, then TLS for `wss://`. Errors: [`PeerError::Tls`] (fatal) for a TLS
    /// failure, `Err(None)`-like retryable I/O errors as [`DialError::Io`].
    pub async fn dial(&self, target: &Target) -> Result<Stream, DialError> {
        let tcp = TcpStream::connect((target.host.as_str(), target.port)).await.map_err(DialError::Io)?;
        let _ = tcp.set_nodelay(true);
        if !target.secure {
            return Ok(Either::Left(tcp));
        }
        let config = self.tls_config().map_err(DialError::Fatal)?;
        let name = ServerName::try_from(target.host.clone())
            .map_err(|_| DialError::Fatal(PeerError::BadUrl(format!("`{}` is not a valid host name", target.host))))?;
        let tls =
            tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| match tls_failure(&e) {
                Some(f) => DialError::Fatal(PeerError::Tls(f)),
                None => DialError::Io(e),
            })?;
        Ok(Either::Right(tls))
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, PeerError> {
        self.tls.get_or_init(|| build_config(&self.options)).clone()
    }
}

/// Why dialling failed.
#[derive(Debug)]
pub enum DialError {
    /// Retrying cannot help.
    Fatal(PeerError),
    /// Network trouble: retry later.
    Io(std::io::Error),
}

fn build_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, PeerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut extra = Vec::new();
    if let Some(pem) = &options.extra_ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            extra.push(cert.map_err(|e| PeerError::Tls(TlsFailure::BadCaFile(e.to_string())))?);
        }
        if extra.is_empty() {
            return Err(PeerError::Tls(TlsFailure::BadCaFile("no certificate in it".into())));
        }
    }
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
        .map_err(|e| PeerError::Tls(TlsFailure::NoTrustStore(e.to_string())))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PeerError::Tls(TlsFailure::Other(e.to_string())))?
        .dangerous() // Not dangerous: the platform verifier is the recommended one.
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The TLS problem inside an I/O error from the handshake, if it is one.
fn tls_failure(e: &std::io::Error) -> Option<TlsFailure> {
    use rustls::{AlertDescription, CertificateError, Error};
    let inner = e.get_ref()?.downcast_ref::<Error>()?;
    Some(match inner {
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => TlsFailure::UntrustedCertificate,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsFailure::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => TlsFailure::NotValidYet,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::WrongName
            }
            CertificateError::Revoked => TlsFailure::Revoked,
            other => TlsFailure::Other(format!("invalid certificate: {other:?}")),
        },
        Error::AlertReceived(AlertDescription::HandshakeFailure | AlertDescription::ProtocolVersion) => {
            TlsFailure::Other("the server accepts no TLS version or cipher this client offers".into())
        }
        other => TlsFailure::Other(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_is_refused_off_loopback_unless_allowed() {
        for ok in ["ws://127.0.0.1:1/v1", "ws://localhost:1/v1", "ws://[::1]:1/v1", "ws://127.8.0.1/v1"] {
            assert!(Target::parse(ok, false).is_ok(), "{ok}");
        }
        let e = Target::parse("ws://chat.example.com/v1", false).unwrap_err();
        assert_eq!(e, PeerError::PlaintextRefused("chat.example.com".into()));
        assert!(Target::parse("ws://10.1.2.3:80/v1", false).is_err());
        let t = Target::parse("ws://10.1.2.3:80/v1", true).unwrap();
        assert!(t.is_exposed_plaintext());
        let t = Target::parse("wss://chat.example.com/v1", false).unwrap();
        assert_eq!((t.secure, t.host.as_str(), t.port), (true, "chat.example.com", 443));
        assert!(!t.is_exposed_plaintext());
    }

    #[test]
    fn other_schemes_and_hostless_urls_are_bad_urls() {
        for bad in ["http://h/v1", "h:1/v1", "", "wss:///v1"] {
            assert!(matches!(Target::parse(bad, true), Err(PeerError::BadUrl(_))), "{bad}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_a_typed_error() {
        let opts = TlsOptions { extra_ca_pem: Some("not pem".into()), ..TlsOptions::default() };
        assert!(matches!(build_config(&opts), Err(PeerError::Tls(TlsFailure::BadCaFile(_)))));
    }
}
