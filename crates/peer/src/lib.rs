//! peerchat's peer SDK: join a room through the signalling server, see remote peers come
//! and go, and talk to each one over a native WebRTC peer connection.
//!
//! * [`Peer`]: connects with a publishable key, joins a room, sends server-routed data
//!   with [`Peer::send`] / [`Peer::send_to`]; what happens arrives on the separate
//!   [`PeerEvents`] stream handed out with it.
//! * [`RemotePeer`]: one per person in the room: its [`PeerState`], its state changes,
//!   its current native connection ([`RemotePeer::pc`]); the channels it opens arrive on
//!   the [`IncomingChannels`] that come with [`PeerEvent::PeerJoined`].
//! * [`DataChannel`]: backpressure-aware sends with typed overflow and size errors; its
//!   incoming [`Messages`] are a stream of their own.
//! * [`RemotePeer::security`]: both sides' certificate fingerprints and the
//!   [`SafetyNumber`] two people compare to know nobody sits between them; a
//!   [`Certificate`] kept with [`identity::load_or_create`] keeps it stable across restarts.
//!
//! Reconnects are the SDK's job: a dropped signalling socket reconnects with backoff and
//! resume while peer connections keep carrying data; a broken path is repaired by an ICE
//! restart, then by rebuilding the connection. Apps re-open their channels on every
//! transition of a remote peer to [`PeerState::Connected`].
//!
//! The negotiation follows the peer conventions of `docs/protocol.md`, so any WebRTC
//! stack (a browser page too) can be the other peer.

mod backoff;
mod check;
pub mod datachannel;
pub mod engine;
pub mod error;
pub mod events;
pub mod identity;
pub mod options;
pub mod path;
mod peer;
pub mod remote;
pub mod safety;
mod signalling;

pub use check::{check_key, server_proves_key};
pub use datachannel::{DataChannel, DataChannelError, DataChannelOptions, DataChannelOverflowError, Message, Messages};
pub use engine::{Certificate, ChannelInit, NativePeerConnection};
pub use error::{PeerError, TlsFailure};
pub use events::{PeerEvent, PeerEvents, SignallingState};
pub use options::{EngineSettings, IceServer, IceTransportPolicy, PeerOptions, ReconnectPolicy, TlsOptions};
pub use path::{CandidateKind, PathInfo, Route};
pub use peer::Peer;
pub use peerchat_protocol::PublishableKey;
pub use remote::{
    IncomingChannels, NameUpdates, OpenChannelError, PeerState, RemotePeer, SecurityUpdates, StateChange, StateChanges,
};
pub use safety::{Fingerprint, PeerSecurity, SafetyNumber};
pub use signalling::transport::is_exposed_plaintext;
