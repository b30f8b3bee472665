//! Wire types of the peerchat signalling protocol v1, shared by the server and the SDK.
//!
//! The protocol is described in `docs/protocol.md` at the repository root. This crate only
//! turns JSON text into typed frames and back; it owns no sockets and no clocks.
//!
//! * [`ClientFrame`]: what a client sends, parsed with [`ClientFrame::parse`].
//! * [`ServerFrame`]: what the server sends, serialised with [`ServerFrame::to_json`] and
//!   parsed (by clients) with [`ServerFrame::parse`].
//! * [`signal`]: the payload of `signal` frames (descriptions and candidates).
//!
//! What peers say to each other is not the server's business: the SDK's control
//! messages live in the SDK, the chat's in the chat crate.

mod client;
mod codes;
mod error;
mod ids;
mod key;
pub mod local_proof;
mod server;
pub mod signal;

pub use client::ClientFrame;
pub use codes::{close, ErrorCode};
pub use error::FrameError;
pub use ids::{is_valid_peer_id, RequestId, MAX_PEER_ID_LEN};
pub use key::PublishableKey;
pub use server::{IceServer, Limits, PresenceEntry, ServerFrame, Welcome};

/// Re-exported so users of the crate name the same raw JSON type.
pub use serde_json::value::RawValue;

/// Path of the v1 WebSocket endpoint.
pub const PATH_V1: &str = "/v1";

/// Largest WebSocket message either side may send, in bytes.
pub const MAX_FRAME_BYTES: usize = 65_536;

/// Most `requestId` bytes accepted when it is a string.
pub const MAX_REQUEST_ID_LEN: usize = 128;
