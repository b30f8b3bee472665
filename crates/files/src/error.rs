//! Why a transfer did not end verified, with stable kind names for UIs and JSON.

/// Why a transfer did not end verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    #[error("declined{}", reason_suffix(.0))]
    Declined(Option<String>),
    #[error("cancelled here")]
    Cancelled,
    #[error("cancelled by the other side{}", reason_suffix(.0))]
    CancelledByPeer(Option<String>),
    #[error("no progress for {0} s")]
    Stalled(u64),
    #[error("the file that arrived differs from the one sent (SHA-256 mismatch)")]
    HashMismatch,
    #[error("{got} bytes arrived where {want} were offered")]
    SizeMismatch { got: u64, want: u64 },
    #[error("the file is {size} bytes; at most {max} are accepted")]
    TooLarge { size: u64, max: u64 },
    #[error("not a valid file offer: {0}")]
    BadOffer(String),
    #[error("the other side broke the protocol: {0}")]
    Protocol(String),
    #[error("the connection did not come back within {0} s")]
    ConnectionLost(u64),
    #[error("nobody answered the offer within {0} s")]
    NotAnswered(u64),
    #[error("{0}")]
    Io(String),
    #[error("not enough free space: the file needs {need} bytes, {free} are free")]
    NoSpace { need: u64, free: u64 },
    #[error("the peer left")]
    PeerLeft,
    #[error("the other side could not verify the file: {0}")]
    FailedThere(String),
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
}

impl TransferError {
    /// A stable snake_case name.
    pub fn kind(&self) -> &'static str {
        match self {
            TransferError::Declined(_) => "declined",
            TransferError::Cancelled => "cancelled",
            TransferError::CancelledByPeer(_) => "cancelled_by_peer",
            TransferError::Stalled(_) => "stalled",
            TransferError::HashMismatch => "hash_mismatch",
            TransferError::SizeMismatch { .. } => "size_mismatch",
            TransferError::TooLarge { .. } => "too_large",
            TransferError::BadOffer(_) => "bad_offer",
            TransferError::Protocol(_) => "protocol",
            TransferError::ConnectionLost(_) => "connection_lost",
            TransferError::NotAnswered(_) => "not_answered",
            TransferError::Io(_) => "io",
            TransferError::NoSpace { .. } => "no_space",
            TransferError::PeerLeft => "peer_left",
            TransferError::FailedThere(_) => "failed_there",
        }
    }
}
