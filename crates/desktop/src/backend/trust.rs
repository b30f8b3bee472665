//! The app's DTLS certificate and the peers the person verified, both kept in the app's
//! data directory, readable by the user alone; and the commands behind a peer's safety
//! number in its details view.

use std::path::Path;
use std::sync::Arc;

use peerchat_chat::trust::TrustStore;
use peerchat_chat::{ChatSession, SecurityView};
use peerchat_peer::identity::{load_or_create, Loaded};
use peerchat_peer::Certificate;

use super::Backend;
use crate::error::{AppProblem, CommandError};

/// What every session of the app shares.
pub(crate) struct Identity {
    /// `None` when the file could not be kept: each session then has its own
    /// certificate, so numbers change at every join (logged).
    pub certificate: Option<Certificate>,
    pub trust: Arc<TrustStore>,
}

impl Identity {
    pub fn open(data_dir: &Path) -> Identity {
        let certificate = match load_or_create(&data_dir.join("dtls.pem")) {
            Ok((cert, how)) => {
                match how {
                    Loaded::Replaced { moved_to, reason } => tracing::warn!(
                        %reason, moved_to = %moved_to.display(),
                        "the kept certificate was unreadable; a new one is in use (verified peers will see a changed number)"
                    ),
                    Loaded::Created => tracing::info!(fingerprint = %cert.fingerprint(), "new DTLS certificate"),
                    _ => {}
                }
                Some(cert)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the DTLS certificate cannot be kept; safety numbers will change at every join");
                None
            }
        };
        Identity { certificate, trust: Arc::new(TrustStore::open(&data_dir.join("verified.json"))) }
    }
}

impl Backend {
    pub(crate) fn session(&self, window: &str) -> Result<ChatSession, CommandError> {
        let session = self.sessions_lock().get(window).map(|e| e.session.clone());
        session.ok_or_else(|| AppProblem::NotJoined.error("join a room first"))
    }

    /// `peer_id`'s safety number and where it stands (`None`: not known yet).
    pub fn peer_security(&self, window: &str, peer_id: &str) -> Result<Option<SecurityView>, CommandError> {
        Ok(self.session(window)?.security(peer_id))
    }

    /// The person compared the number with `peer_id`: remember it.
    pub async fn verify_peer(&self, window: &str, peer_id: &str) -> Result<SecurityView, CommandError> {
        Ok(self.session(window)?.verify(peer_id).await?)
    }

    /// Forgets the verification of `peer_id`'s name.
    pub async fn unverify_peer(&self, window: &str, peer_id: &str) -> Result<(), CommandError> {
        Ok(self.session(window)?.unverify(peer_id).await?)
    }
}
