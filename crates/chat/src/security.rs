//! Safety numbers in the chat: each remote peer's fingerprints as its connection shows
//! them, judged against the person's verified peers ([`crate::trust`]), reported as
//! [`ChatEvent::Security`] when they change, when the peer's name changes, and when the
//! person verifies or forgets someone.

use std::sync::Arc;

use peerchat_peer::{PeerSecurity, RemotePeer};
use serde::Serialize;

use crate::error::ChatError;
use crate::event::ChatEvent;
use crate::session::ChatSession;
use crate::shared::Inner;
use crate::trust::Trust;

/// What the person sees of one peer's safety: the number to compare, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityView {
    pub peer_id: String,
    pub name: String,
    /// Six groups of five digits, the same on both sides unless someone is in between.
    pub safety_number: String,
    /// Their certificate's fingerprint (`sha-256 AB:…`), as their description carried it.
    pub fingerprint: String,
    pub trust: Trust,
}

/// Someone in the room ([`ChatSession::people`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub peer_id: String,
    pub name: String,
    pub fingerprint: Option<String>,
}

/// Follows `r`'s fingerprints until it or the session ends.
pub(crate) async fn follow(inner: &Arc<Inner>, r: &RemotePeer) {
    let mut updates = r.security_updates();
    let mut now = r.security();
    loop {
        if let Some(s) = now {
            inner.lock().security.insert(r.id().to_string(), s);
            report(inner, r.id()).await;
        }
        now = updates.next().await;
        if now.is_none() {
            return;
        }
    }
}

/// The view of `peer_id` now, if its fingerprints are known.
pub(crate) fn view(inner: &Inner, peer_id: &str) -> Option<SecurityView> {
    let (raw, name, s): (String, String, PeerSecurity) = {
        let g = inner.lock();
        (g.names.raw(peer_id)?.to_string(), g.names.shown(peer_id), g.security.get(peer_id)?.clone())
    };
    // Verification is kept by the name the peer chose (the suffix is only for showing).
    let trust = inner.trust.check(&raw, &s.remote);
    Some(SecurityView {
        peer_id: peer_id.to_string(),
        name,
        safety_number: s.safety_number.to_string(),
        fingerprint: s.remote.to_string(),
        trust,
    })
}

/// Reports where `peer_id` stands now (nothing until its fingerprints are known).
pub(crate) async fn report(inner: &Arc<Inner>, peer_id: &str) {
    let Some(v) = view(inner, peer_id) else { return };
    if v.trust == Trust::Changed {
        tracing::warn!(peer = %peer_id, "a verified peer shows another certificate");
    }
    inner.emit(ChatEvent::Security(v)).await;
}

impl ChatSession {
    /// The safety number of `peer_id` and where it stands; `None` until its first
    /// offer and answer are through.
    pub fn security(&self, peer_id: &str) -> Option<SecurityView> {
        crate::security::view(&self.inner, peer_id)
    }

    /// Everyone in the room now: peer id, the name they chose, and their certificate's
    /// fingerprint once known (an identity that outlives their session).
    pub fn people(&self) -> Vec<Person> {
        let g = self.inner.lock();
        g.names
            .ids()
            .map(|id| Person {
                peer_id: id.clone(),
                name: g.names.raw(id).unwrap_or_default().to_string(),
                fingerprint: g.security.get(id).map(|s| s.remote.to_string()),
            })
            .collect()
    }

    /// The person compared `peer_id`'s safety number with them: remember its
    /// certificate under its name (kept in the trust store), and report it `verified`.
    pub async fn verify(&self, peer_id: &str) -> Result<SecurityView, ChatError> {
        let found = {
            let g = self.inner.lock();
            g.security.get(peer_id).map(|s| s.remote.clone()).zip(g.names.raw(peer_id).map(str::to_string))
        };
        let (fp, name) = found.ok_or_else(|| ChatError::NoSafetyNumber(peer_id.to_string()))?;
        self.inner.trust.verify(&name, &fp)?;
        self.report_name(&name).await;
        self.security(peer_id).ok_or_else(|| ChatError::NoSafetyNumber(peer_id.to_string()))
    }

    /// Forgets the verification of `peer_id`'s name.
    pub async fn unverify(&self, peer_id: &str) -> Result<(), ChatError> {
        let name = self.inner.lock().names.raw(peer_id).unwrap_or_default().to_string();
        if self.inner.trust.forget(&name)? {
            self.report_name(&name).await;
        }
        Ok(())
    }

    /// Reports every peer called `name` again (its trust changed).
    async fn report_name(&self, name: &str) {
        let ids: Vec<String> = {
            let g = self.inner.lock();
            g.names.ids().filter(|id| g.names.raw(id) == Some(name)).cloned().collect()
        };
        for id in ids {
            crate::security::report(&self.inner, &id).await;
        }
    }
}
