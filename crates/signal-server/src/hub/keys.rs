//! The table of publishable keys: read synchronously before the WebSocket upgrade, and
//! replaced as a whole when the configuration is reloaded.

use std::sync::{Arc, RwLock};

use crate::config::KeyConfig;
use crate::glob;
use crate::key::find_key;

/// One configured key, with its fingerprint (the id used in logs, tokens and counters).
#[derive(Debug)]
pub struct KeyEntry {
    pub config: KeyConfig,
    pub id: Arc<str>,
}

impl KeyEntry {
    /// Whether `channel` matches one of the key's channel globs.
    pub fn allows_channel(&self, channel: &str) -> bool {
        glob::any_matches(&self.config.channels, channel)
    }

    /// Whether a request with this `Origin` header may use the key. A key with an
    /// origin allow-list refuses requests without an `Origin`.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        if self.config.origins.is_empty() {
            return true;
        }
        origin.is_some_and(|o| glob::any_matches(&self.config.origins, o))
    }
}

#[derive(Debug, Default)]
struct Table {
    entries: Vec<Arc<KeyEntry>>,
    digests: Vec<[u8; 32]>,
}

/// Shared, swappable key table. The lock is only ever held for a lookup or a swap,
/// never across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    inner: Arc<RwLock<Table>>,
}

impl KeyTable {
    /// A table holding `keys`.
    pub fn new(keys: &[KeyConfig]) -> Self {
        let t = KeyTable::default();
        t.replace(keys);
        t
    }

    /// Replaces every key; returns the ids of keys that are no longer present.
    pub fn replace(&self, keys: &[KeyConfig]) -> Vec<Arc<str>> {
        let entries: Vec<Arc<KeyEntry>> =
            keys.iter().map(|k| Arc::new(KeyEntry { id: k.key.fingerprint().into(), config: k.clone() })).collect();
        let digests = keys.iter().map(|k| k.key.digest()).collect();
        let mut guard = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let removed = guard
            .entries
            .iter()
            .filter(|old| !entries.iter().any(|e| e.id == old.id))
            .map(|old| old.id.clone())
            .collect();
        *guard = Table { entries, digests };
        removed
    }

    /// Finds a presented key in constant time with respect to its contents.
    pub fn lookup(&self, presented: &str) -> Option<Arc<KeyEntry>> {
        let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
        find_key(&guard.digests, presented).map(|i| guard.entries[i].clone())
    }

    /// The digests of every key (what a local proof is keyed with).
    pub fn digests(&self) -> Vec<[u8; 32]> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).digests.clone()
    }

    /// The current entry for a key id, if the key is still configured.
    pub fn by_id(&self, id: &str) -> Option<Arc<KeyEntry>> {
        let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
        guard.entries.iter().find(|e| &*e.id == id).cloned()
    }
}
