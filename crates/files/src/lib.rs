//! Files peer to peer, without I/O: the transfer protocol's messages ([`wire`]), the
//! sender's and the receiver's decisions ([`Outgoing`], [`Incoming`]: what to read and
//! send next, what to confirm, where to resume, when to give up; bytes and time passed
//! in), and safe names for what a peer offers ([`name`]).
//!
//! One transfer is one file to one peer, on a reliable, ordered DataChannel labelled
//! [`LABEL`] that the sender opens (again, after every reconnect) and both sides write
//! on. The protocol is written down in docs/protocol.md (peer conventions, "Files").
//!
//! The I/O around these machines (opening channels, reading and writing files, the
//! clock) lives in the chat crate.

mod error;
pub mod incoming;
pub mod name;
pub mod outgoing;
mod snapshots;
pub mod wire;

pub use error::TransferError;
pub use incoming::Incoming;
pub use outgoing::Outgoing;
pub use wire::FileMessage;

use std::time::Duration;

/// Label of a transfer's channel.
pub const LABEL: &str = "file";
/// Most bytes in one chunk (one binary DataChannel message): the SDK's and the SDP's
/// default message limit (RFC 8841), where the engine moves bytes fastest (1.7x its
/// 16 KiB rate) and far from its small-message limits (docs/sdk.md section 5). A sender
/// sends smaller chunks when the channel's maximum message size is smaller.
pub const CHUNK: usize = 64 * 1024;
/// The receiver confirms (after writing to disk) every this many bytes, and at the end;
/// a transfer resumes from the last confirmed point.
pub const CONFIRM_EVERY: u64 = 1024 * 1024;
/// Most bytes the sender has sent but not seen confirmed.
pub const WINDOW: u64 = 8 * CONFIRM_EVERY;
/// A transfer with no progress for this long fails as stalled.
pub const STALL: Duration = Duration::from_secs(30);
/// How long a transfer waits for its peer to come back after the connection broke.
pub const RESUME_WAIT: Duration = Duration::from_secs(300);
/// How long an offer waits for the person to accept or decline it.
pub const OFFER_WAIT: Duration = Duration::from_secs(600);

/// Progress of a transfer, as both sides show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Bytes the receiver confirmed (sender) or wrote (receiver).
    pub bytes: u64,
    pub size: u64,
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte arrived and the SHA-256 of the whole file matched the sender's.
    Verified { sha256: String },
    /// It failed, or someone cancelled or declined it.
    Failed(TransferError),
}

/// Whether `id` is a transfer id this side accepts (1 to 64 of `[A-Za-z0-9_-]`).
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
