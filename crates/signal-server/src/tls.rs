//! TLS termination for small deployments: a certificate chain and key from PEM files,
//! reloaded on demand (SIGHUP) without dropping the connections already open. Larger
//! deployments terminate TLS in a reverse proxy instead (README).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;

/// The byte stream under a server WebSocket: plain TCP, or TLS over it.
/// The TLS side is boxed: a rustls connection is ~1.2 KB, and every plain connection
/// would otherwise carry that much unused space for its whole life.
pub type ServerStream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// Where the PEM files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the TLS files could not be used. Never includes key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("TLS {what} {path}: {message}")]
    File { what: &'static str, path: String, message: String },
    /// The key does not match the certificate, or rustls refused them.
    #[error("TLS certificate and key cannot be used together: {0}")]
    Mismatch(String),
}

/// The current TLS configuration; [`Tls::reload`] swaps it for new handshakes.
pub struct Tls {
    files: TlsFiles,
    current: RwLock<TlsAcceptor>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads the files; fails if they are missing, malformed, or do not match.
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let acceptor = acceptor(&files)?;
        Ok(Tls { files, current: RwLock::new(acceptor) })
    }

    /// Re-reads the files. On error the current certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = acceptor(&self.files)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// The acceptor for the next handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn file_error(what: &'static str, path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File { what, path: path.display().to_string(), message: message.to_string() }
}

fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| file_error("certificate", &files.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error("certificate", &files.cert, e))?;
    if certs.is_empty() {
        return Err(file_error("certificate", &files.cert, "no CERTIFICATE block in it"));
    }
    // The error of a key file never quotes its content.
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| file_error("key", &files.key, format!("no usable private key ({})", kind_of(&e))))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Mismatch(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn kind_of(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(_) => "cannot read the file",
        Error::NoItemsFound => "no PRIVATE KEY block",
        _ => "malformed PEM",
    }
}
