//! Who the person verified: for each name, the certificate fingerprint whose safety
//! number they compared out loud. A peer is `verified` while it shows that fingerprint,
//! `changed` (a loud warning) when it shows another, `unverified` otherwise.
//!
//! [`TrustBook`] decides (sans-IO); [`TrustStore`] shares it between the sessions of one
//! app and keeps it in a JSON file readable by the user alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use peerchat_peer::Fingerprint;
use serde::{Deserialize, Serialize};

/// Names remembered at most (a file edited by hand cannot make the app hold more).
pub const MAX_VERIFIED: usize = 10_000;
/// Longest name remembered, in bytes (the server allows 64).
const MAX_NAME_BYTES: usize = 256;

/// How far a peer is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// Nobody compared this peer's safety number (or not for this name).
    Unverified,
    /// It shows the certificate whose number the person compared.
    Verified,
    /// It shows another certificate than the one verified under this name: someone
    /// may sit in between, or the other person reinstalled. Compare the number again.
    Changed,
}

/// Why a verification could not be kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    #[error("{0} names are verified already")]
    Full(usize),
    #[error("the name is empty or longer than {MAX_NAME_BYTES} bytes")]
    BadName,
    #[error("cannot save {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Name → verified fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustBook {
    verified: BTreeMap<String, Fingerprint>,
}

impl TrustBook {
    /// How a peer called `name` showing `fingerprint` stands.
    pub fn check(&self, name: &str, fingerprint: &Fingerprint) -> Trust {
        match self.verified.get(name) {
            None => Trust::Unverified,
            Some(f) if f == fingerprint => Trust::Verified,
            Some(_) => Trust::Changed,
        }
    }

    /// Remembers that the person compared the number of `name` showing `fingerprint`
    /// (replacing an earlier verification of that name).
    pub fn verify(&mut self, name: &str, fingerprint: &Fingerprint) -> Result<(), TrustError> {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(TrustError::BadName);
        }
        if !self.verified.contains_key(name) && self.verified.len() >= MAX_VERIFIED {
            return Err(TrustError::Full(MAX_VERIFIED));
        }
        self.verified.insert(name.to_string(), fingerprint.clone());
        Ok(())
    }

    /// Forgets the verification of `name`; true if there was one.
    pub fn forget(&mut self, name: &str) -> bool {
        self.verified.remove(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.verified.len()
    }

    pub fn is_empty(&self) -> bool {
        self.verified.is_empty()
    }

    /// Reads a book from JSON; entries beyond the bounds are dropped (and counted).
    fn from_json(text: &str) -> Result<(TrustBook, usize), serde_json::Error> {
        let mut book: TrustBook = serde_json::from_str(text)?;
        let before = book.verified.len();
        book.verified.retain(|n, _| !n.is_empty() && n.len() <= MAX_NAME_BYTES);
        while book.verified.len() > MAX_VERIFIED {
            book.verified.pop_last();
        }
        let dropped = before - book.verified.len();
        Ok((book, dropped))
    }
}

/// The book of one app, shared by its sessions, saved on every change when it has a file.
#[derive(Debug, Default)]
pub struct TrustStore {
    book: Mutex<TrustBook>,
    path: Option<PathBuf>,
}

impl TrustStore {
    /// A book kept in memory only (forgotten at exit).
    pub fn in_memory() -> TrustStore {
        TrustStore::default()
    }

    /// The book kept at `path`. A missing file is an empty book; a file that cannot be
    /// read is set aside (`.unreadable`, nothing deleted) and the book starts empty.
    pub fn open(path: &Path) -> TrustStore {
        let book = match std::fs::read_to_string(path) {
            Ok(text) => match TrustBook::from_json(&text) {
                Ok((book, 0)) => book,
                Ok((book, dropped)) => {
                    tracing::warn!(path = %path.display(), dropped, "verified peers beyond the bounds were ignored");
                    book
                }
                Err(e) => {
                    let aside = path.with_extension("unreadable");
                    tracing::warn!(path = %path.display(), error = %e, aside = %aside.display(), "the verified peers could not be read; set aside");
                    let _ = std::fs::rename(path, aside);
                    TrustBook::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TrustBook::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the verified peers could not be read");
                TrustBook::default()
            }
        };
        TrustStore { book: Mutex::new(book), path: Some(path.to_path_buf()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrustBook> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn check(&self, name: &str, fingerprint: &Fingerprint) -> Trust {
        self.lock().check(name, fingerprint)
    }

    /// Verifies `name` at `fingerprint` and saves the book; on a failed save the book
    /// is left as it was.
    pub fn verify(&self, name: &str, fingerprint: &Fingerprint) -> Result<(), TrustError> {
        let mut book = self.lock();
        let mut next = book.clone();
        next.verify(name, fingerprint)?;
        self.save(&next)?;
        *book = next;
        Ok(())
    }

    /// Forgets `name` and saves the book.
    pub fn forget(&self, name: &str) -> Result<bool, TrustError> {
        let mut book = self.lock();
        let mut next = book.clone();
        if !next.forget(name) {
            return Ok(false);
        }
        self.save(&next)?;
        *book = next;
        Ok(true)
    }

    fn save(&self, book: &TrustBook) -> Result<(), TrustError> {
        let Some(path) = &self.path else { return Ok(()) };
        let json = serde_json::to_vec_pretty(book).unwrap_or_default();
        peerchat_peer::identity::write_private(path, &json)
            .map_err(|source| TrustError::Io { path: path.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(n: u8) -> Fingerprint {
        Fingerprint::parse(&format!("sha-256 {}", vec![format!("{n:02X}"); 32].join(":"))).unwrap()
    }

    #[test]
    fn a_verified_name_is_verified_only_with_its_fingerprint() {
        let mut book = TrustBook::default();
        assert_eq!(book.check("ada", &fp(1)), Trust::Unverified);
        book.verify("ada", &fp(1)).unwrap();
        assert_eq!(book.check("ada", &fp(1)), Trust::Verified);
        assert_eq!(book.check("ada", &fp(2)), Trust::Changed, "another certificate under a verified name");
        assert_eq!(book.check("bob", &fp(1)), Trust::Unverified, "a verified certificate under another name");
        assert!(book.forget("ada"));
        assert_eq!(book.check("ada", &fp(2)), Trust::Unverified);
    }

    #[test]
    fn the_book_is_bounded() {
        let mut book = TrustBook::default();
        for i in 0..MAX_VERIFIED {
            book.verify(&format!("p{i}"), &fp(1)).unwrap();
        }
        assert!(matches!(book.verify("one more", &fp(1)), Err(TrustError::Full(_))));
        book.verify("p0", &fp(2)).unwrap();
        assert!(matches!(book.verify("", &fp(1)), Err(TrustError::BadName)));
        assert!(matches!(book.verify(&"x".repeat(MAX_NAME_BYTES + 1), &fp(1)), Err(TrustError::BadName)));
    }

    #[test]
    fn a_book_read_from_a_file_keeps_only_what_is_in_bounds() {
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        let text = format!(r#"{{"verified": {{"ada": "{}", "{long}": "{}", "": "{}"}}}}"#, fp(1), fp(2), fp(3));
        let (book, dropped) = TrustBook::from_json(&text).unwrap();
        assert_eq!((book.len(), dropped), (1, 2));
        assert!(TrustBook::from_json(r#"{"verified": {"ada": "sha-256 nope"}}"#).is_err());
    }

    #[test]
    fn the_store_survives_a_restart_and_sets_a_damaged_file_aside() {
        let dir = std::env::temp_dir().join(format!("peerchat-trust-{}-{}", std::process::id(), rand_suffix()));
        let path = dir.join("verified.json");
        let store = TrustStore::open(&path);
        store.verify("ada", &fp(1)).unwrap();
        assert_eq!(TrustStore::open(&path).check("ada", &fp(1)), Trust::Verified);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "{ not json").unwrap();
        assert!(TrustStore::open(&path).lock().is_empty());
        assert_eq!(std::fs::read_to_string(path.with_extension("unreadable")).unwrap(), "{ not json");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn rand_suffix() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    }
}
