//! What a chat session needs: the peer's options, the room, the name, and how it
//! behaves (how long joining may take, whether lines may go through the server, whose
//! verification it keeps).

use std::sync::Arc;
use std::time::Duration;

use peerchat_peer::PeerOptions;

use crate::trust::TrustStore;

/// What a session needs.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub options: PeerOptions,
    pub room: String,
    pub name: String,
    /// How long the first connection and join may take (default 20 s).
    pub join_wait: Duration,
    /// Send to peers without an open channel through the server (default off: P2P only,
    /// as chat-cli's contract says).
    pub server_fallback: bool,
    /// The peers the person verified (shared by an app's sessions; in memory by default).
    pub trust: Arc<TrustStore>,
    /// Files: where they go, how big they may be, how many at once.
    pub files: crate::files::FilesConfig,
}

impl ChatConfig {
    pub fn new(options: PeerOptions, room: impl Into<String>, name: impl Into<String>) -> ChatConfig {
        ChatConfig {
            options,
            room: room.into(),
            name: name.into(),
            join_wait: Duration::from_secs(20),
            server_fallback: false,
            trust: Arc::new(TrustStore::in_memory()),
            files: crate::files::FilesConfig::default(),
        }
    }
}
