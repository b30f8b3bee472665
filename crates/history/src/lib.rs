//! The chat's history on disk. Every line of every room (sent and received, with its
//! sender, time, path and delivery state) is kept in one SQLite database in the app's
//! data folder, readable by the user alone. [`History`] opens it (creating it, or
//! migrating an older version forward), adds lines, updates their delivery state, reads
//! a room back a page at a time (newest first, without loading the rest), clears a room
//! and drops what is older than the retention setting. It also knows each room's
//! members by their certificate's fingerprint and keeps the outbox: lines waiting for a
//! member who was away. [`HistoryHandle`] runs it on a thread of its own for async
//! callers.
//!
//! A database that is locked, corrupt or on a full disk is a typed [`HistoryError`]:
//! the caller goes on without history and never loses the live conversation.

mod error;
mod handle;
mod line;
mod migrations;
mod outbox;
mod store;

pub use error::HistoryError;
pub use handle::HistoryHandle;
pub use line::{Cursor, Direction, Line, NewLine, Page};
pub use outbox::{Expired, Member, Queued, Waiting, MAX_MEMBERS};
pub use store::{History, MAX_PAGE, MAX_TEXT_BYTES};
