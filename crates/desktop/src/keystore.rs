//! Where publishable keys live: the OS keyring (Secret Service on Linux, Keychain on
//! macOS, Credential Manager on Windows), one entry per server URL under the app's
//! identifier. A key can also be held for this session only, in memory, when no keyring
//! is reachable. Keys never go to a file or a log: [`PublishableKey`] prints redacted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use peerchat_peer::PublishableKey;
use serde::Serialize;

/// Why the keyring could not be used.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// No keyring service answered (no Secret Service on the session bus, say).
    #[error("the system keyring is not available: {0}")]
    Unavailable(String),
    /// The keyring is there but refused access (locked, or the request was denied).
    #[error("the system keyring refused access: {0}")]
    Denied(String),
    /// Anything else the keyring reported.
    #[error("the system keyring failed: {0}")]
    Failed(String),
}

peerchat_peer::error_kinds!(KeyStoreError {
    KeyStoreError::Unavailable(_) => "keyring_unavailable",
    KeyStoreError::Denied(_) => "keyring_denied",
    KeyStoreError::Failed(_) => "keyring_failed",
});

/// A place that stores one secret per account. Calls may block (D-Bus): run them off
/// the async runtime.
pub trait SecretStore: Send + Sync + 'static {
    fn get(&self, account: &str) -> Result<Option<PublishableKey>, KeyStoreError>;
    fn set(&self, account: &str, key: &PublishableKey) -> Result<(), KeyStoreError>;
    /// Deletes the entry; deleting a missing entry is not an error.
    fn delete(&self, account: &str) -> Result<(), KeyStoreError>;
}

/// The OS keyring through the `keyring` crate.
pub struct OsKeyring {
    service: String,
}

impl OsKeyring {
    pub fn new(service: impl Into<String>) -> OsKeyring {
        OsKeyring { service: service.into() }
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, KeyStoreError> {
        keyring::Entry::new(&self.service, account).map_err(map_err)
    }
}

fn map_err(e: keyring::Error) -> KeyStoreError {
    match e {
        keyring::Error::NoDefaultStore => {
            KeyStoreError::Unavailable("no Secret Service, Keychain or Credential Manager answered".into())
        }
        keyring::Error::PlatformFailure(p) => KeyStoreError::Unavailable(p.to_string()),
        keyring::Error::NoStorageAccess(p) => KeyStoreError::Denied(p.to_string()),
        other => KeyStoreError::Failed(other.to_string()),
    }
}

impl SecretStore for OsKeyring {
    fn get(&self, account: &str) -> Result<Option<PublishableKey>, KeyStoreError> {
        match self.entry(account)?.get_password() {
            Ok(k) => Ok(Some(PublishableKey::new(k))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn set(&self, account: &str, key: &PublishableKey) -> Result<(), KeyStoreError> {
        self.entry(account)?.set_password(key.expose()).map_err(map_err)
    }

    fn delete(&self, account: &str) -> Result<(), KeyStoreError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }
}

/// Secrets in memory, gone with the process: for "this session only" and for tests.
#[derive(Default, Clone)]
pub struct MemoryStore {
    keys: Arc<Mutex<HashMap<String, PublishableKey>>>,
}

impl MemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, PublishableKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, account: &str) -> Result<Option<PublishableKey>, KeyStoreError> {
        Ok(self.map().get(account).cloned())
    }
    fn set(&self, account: &str, key: &PublishableKey) -> Result<(), KeyStoreError> {
        self.map().insert(account.to_string(), key.clone());
        Ok(())
    }
    fn delete(&self, account: &str) -> Result<(), KeyStoreError> {
        self.map().remove(account);
        Ok(())
    }
}

/// Where the key in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    Keyring,
    Session,
}

/// The keyring plus the session-only keys that stand in when it is unreachable.
pub struct KeyVault {
    os: Arc<dyn SecretStore>,
    session: MemoryStore,
}

impl KeyVault {
    pub fn new(os: Arc<dyn SecretStore>) -> KeyVault {
        KeyVault { os, session: MemoryStore::default() }
    }

    /// The key for `account`: a session key first (the person chose it for now), then
    /// the keyring. A keyring error is returned when there is no session key, so the UI
    /// can say so.
    pub async fn get(&self, account: &str) -> Result<Option<(PublishableKey, KeySource)>, KeyStoreError> {
        match self.lookup(account).await {
            (Some(found), _) => Ok(Some(found)),
            (None, answered) => answered.map(|()| None),
        }
    }

    /// Saves a key in the keyring (replacing a session key for the same account).
    pub async fn save(&self, account: &str, key: PublishableKey) -> Result<(), KeyStoreError> {
        let (os, acc) = (self.os.clone(), account.to_string());
        blocking(move || os.set(&acc, &key)).await?;
        self.session.delete(account)
    }

    /// Holds a key in memory for this run only.
    pub fn save_for_session(&self, account: &str, key: PublishableKey) {
        let _ = self.session.set(account, &key);
    }

    /// Forgets the key for `account` everywhere.
    pub async fn forget(&self, account: &str) -> Result<(), KeyStoreError> {
        self.session.delete(account)?;
        let (os, account) = (self.os.clone(), account.to_string());
        blocking(move || os.delete(&account)).await
    }

    /// The key for `account` and whether the keyring answered, from one keyring lookup
    /// (what the UI's status needs: a session key still wants to know about the keyring).
    pub async fn lookup(&self, account: &str) -> (Option<(PublishableKey, KeySource)>, Result<(), KeyStoreError>) {
        let (os, acc) = (self.os.clone(), account.to_string());
        let stored = blocking(move || os.get(&acc)).await;
        let session = self.session.get(account).ok().flatten().map(|k| (k, KeySource::Session));
        match stored {
            Ok(found) => (session.or(found.map(|k| (k, KeySource::Keyring))), Ok(())),
            Err(e) => (session, Err(e)),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeyStoreError> + Send + 'static,
) -> Result<T, KeyStoreError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(KeyStoreError::Failed(e.to_string())))
}

/// A key as the UI may show it: its first and last few characters only.
pub fn mask(key: &PublishableKey) -> String {
    let k = key.expose();
    let chars: Vec<char> = k.chars().collect();
    if chars.len() <= 12 {
        return "•".repeat(8);
    }
    let head: String = chars[..chars.len().min(8).min(chars.len() / 3)].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}••••••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_keys_hide_most_of_the_key() {
        let k = PublishableKey::new("pk_live_0123456789abcdef");
        let m = mask(&k);
        assert_eq!(m, "pk_live_••••••••cdef");
        assert!(!m.contains("0123456789"));
        assert_eq!(mask(&PublishableKey::new("short")), "••••••••");
    }
}
