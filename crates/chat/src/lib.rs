//! The chat session that the desktop app and `chat-cli` share: the seed's
//! reconnect-aware DataChannel pattern on the peer SDK, as typed [`ChatEvent`]s.
//!
//! * On every transition of a remote peer to `connected`, its previous "messages"
//!   channel is closed and a fresh one is opened (unordered, no retransmits), wrapped in
//!   the backpressure-aware DataChannel (1 MiB buffered, 256 queued sends).
//! * The channels the other side opens are read too: each side sends on its own.
//! * On `peer-joined`, a `hello` goes to that peer through the server (announcing
//!   receipts). Names come from presence, never from a hello; two people sharing a name
//!   are both shown with a short id suffix (`names.rs`).
//! * [`ChatSession::send_line`] sends chat JSON to every peer with an open channel; a
//!   line that reaches nobody is an error, and a full queue is reported per peer
//!   ([`ChatEvent::Error`] with kind `overflow`), never dropped silently.
//! * Lines to peers that announced receipts are sent again until acknowledged, and
//!   reported as `not_delivered` if no ack comes (see [`receipts`]).
//! * Each peer's safety number is reported ([`ChatEvent::Security`]) with where it
//!   stands against the peers the person verified ([`trust`]);
//!   [`ChatSession::verify`] remembers one.
//! * [`ChatSession::typing`] tells the peers the person is writing ([`typing`]).

mod config;
mod driver;
mod error;
mod event;
pub mod files;
mod names;
mod path_report;
pub mod receipts;
mod remote;
mod security;
mod seen;
mod session;
mod shared;
pub mod trust;
pub mod typing;
pub mod wire;

pub use config::ChatConfig;
pub use error::ChatError;
pub use event::{ChatEvent, MessageKind, Problem, Via};
pub use files::{Direction, FileSent, FilesConfig};
pub use security::{Person, SecurityView};
pub use session::{ChatEvents, ChatSession, Sent};
pub use wire::{ChatMessage, LABEL, MAX_TEXT_BYTES};
