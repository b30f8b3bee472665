//! Keeping a peer's DTLS certificate across restarts, so the safety numbers people have
//! verified stay valid: one PEM file, readable by the user alone, written whole or not at
//! all (a temporary file renamed over it; [`write_private`], for other private files too).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::Certificate;

/// Why the certificate could not be kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot make a certificate: {0}")]
    Engine(String),
}

/// Where a certificate from [`load_or_create`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Loaded {
    /// Read from the file.
    Existing,
    /// The file did not exist; a new certificate was written.
    Created,
    /// The file could not be read as a certificate: it was moved to `moved_to` (nothing
    /// is deleted) and a new certificate written. Peers who verified the old one will see
    /// a changed number.
    Replaced { moved_to: PathBuf, reason: String },
}

/// The certificate kept at `path`, made and written there (mode 0600) on first use.
pub fn load_or_create(path: &Path) -> Result<(Certificate, Loaded), IdentityError> {
    let io = |source| IdentityError::Io { path: path.to_path_buf(), source };
    match std::fs::read_to_string(path) {
        Ok(pem) => match Certificate::from_pem(&pem) {
            Ok(cert) => {
                private(path).map_err(io)?;
                Ok((cert, Loaded::Existing))
            }
            Err(e) => {
                let moved_to = path.with_extension("unreadable");
                std::fs::rename(path, &moved_to).map_err(io)?;
                let cert = create(path)?;
                Ok((cert, Loaded::Replaced { moved_to, reason: e.to_string() }))
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((create(path)?, Loaded::Created)),
        Err(e) => Err(io(e)),
    }
}

fn create(path: &Path) -> Result<Certificate, IdentityError> {
    let cert = Certificate::generate().map_err(|e| IdentityError::Engine(e.0))?;
    let pem = cert.to_pem().map_err(|e| IdentityError::Engine(e.0))?;
    write_private(path, pem.as_bytes()).map_err(|source| IdentityError::Io { path: path.to_path_buf(), source })?;
    Ok(cert)
}

/// Writes `bytes` to `path` readable by the user alone (0600, in a 0700 directory made if
/// missing), whole or not at all: a temporary file beside it, renamed over it.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        let mut f = open_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A key file others can read is made private again (a copy or an unpacked backup).
#[cfg(unix)]
fn private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "the DTLS key file was readable by others; made private");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn private(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("peerchat-identity-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_certificate_is_made_once_and_read_back_after() {
        let d = dir();
        let path = d.join("sub").join("dtls.pem");
        let (first, how) = load_or_create(&path).unwrap();
        assert_eq!(how, Loaded::Created);
        let (again, how) = load_or_create(&path).unwrap();
        assert_eq!(how, Loaded::Existing);
        assert_eq!(again.fingerprint(), first.fingerprint());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_readable_by_the_user_alone() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir();
        let path = d.join("new").join("dtls.pem");
        load_or_create(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        load_or_create(&path).unwrap();
        assert_eq!(mode(&path), 0o600, "a readable key file is made private again");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn an_unreadable_file_is_kept_aside_and_replaced() {
        let d = dir();
        let path = d.join("dtls.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let (_, how) = load_or_create(&path).unwrap();
        let Loaded::Replaced { moved_to, .. } = how else { panic!("{how:?}") };
        assert_eq!(std::fs::read_to_string(moved_to).unwrap(), "not a certificate");
        assert_eq!(load_or_create(&path).unwrap().1, Loaded::Existing);
        std::fs::remove_dir_all(d).unwrap();
    }
}
