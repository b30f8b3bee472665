//! Why a chat session could not start or a line was not sent, with the stable kind
//! names UIs and chat-cli's JSON switch on.

use std::time::Duration;

use peerchat_peer::PeerError;

use crate::trust::TrustError;

/// Why a session could not start or a line was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    #[error("could not reach the signalling server within {0:?}")]
    Unreachable(Duration),
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error("no peer is connected; the line was not sent")]
    NoPeers,
    #[error("an empty line is not sent")]
    Empty,
    #[error("the line is {len} bytes; at most {max} are sent")]
    TooLong { len: usize, max: usize },
    #[error("the session has ended")]
    Ended,
    #[error("{0} lines still wait for delivery receipts; wait before sending more")]
    Backlog(usize),
    #[error("no safety number is known for {0} yet: wait until you are connected")]
    NoSafetyNumber(String),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("{0}")]
    File(String),
    #[error("no transfer {0} is under way")]
    UnknownTransfer(String),
    #[error("{0} transfers are under way already; wait for one to end")]
    TooManyTransfers(usize),
    #[error("no download folder is set: name one")]
    NoDownloadFolder,
    #[error("nobody in the room has the id {0}")]
    UnknownPeer(String),
}

impl ChatError {
    /// The names [`Self::kind`] returns besides the SDK's ([`PeerError::KINDS`]).
    pub const KINDS: &'static [&'static str] = &[
        "unreachable",
        "no_peers",
        "empty",
        "too_long",
        "ended",
        "backlog",
        "no_safety_number",
        "trust",
        "file",
        "unknown_transfer",
        "too_many_transfers",
        "no_download_folder",
        "unknown_peer",
    ];

    /// A stable snake_case name, for JSON output and UIs.
    pub fn kind(&self) -> &'static str {
        match self {
            ChatError::Unreachable(_) => "unreachable",
            ChatError::Peer(e) => e.kind(),
            ChatError::NoPeers => "no_peers",
            ChatError::Empty => "empty",
            ChatError::TooLong { .. } => "too_long",
            ChatError::Ended => "ended",
            ChatError::Backlog(_) => "backlog",
            ChatError::NoSafetyNumber(_) => "no_safety_number",
            ChatError::Trust(_) => "trust",
            ChatError::File(_) => "file",
            ChatError::UnknownTransfer(_) => "unknown_transfer",
            ChatError::TooManyTransfers(_) => "too_many_transfers",
            ChatError::NoDownloadFolder => "no_download_folder",
            ChatError::UnknownPeer(_) => "unknown_peer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed() {
        let all = [
            ChatError::Unreachable(Duration::from_secs(1)),
            ChatError::NoPeers,
            ChatError::Empty,
            ChatError::TooLong { len: 2, max: 1 },
            ChatError::Ended,
            ChatError::Backlog(1),
            ChatError::NoSafetyNumber("x".into()),
            ChatError::Trust(TrustError::BadName),
            ChatError::File("x".into()),
            ChatError::UnknownTransfer("x".into()),
            ChatError::TooManyTransfers(1),
            ChatError::NoDownloadFolder,
            ChatError::UnknownPeer("x".into()),
        ];
        let kinds: Vec<_> = all.iter().map(ChatError::kind).collect();
        assert_eq!(kinds, ChatError::KINDS);
        assert!(PeerError::KINDS.contains(&ChatError::Peer(PeerError::Closed).kind()));
    }
}
