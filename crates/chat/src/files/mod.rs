//! Files peer to peer on a chat session: the person sends a file to one peer or to
//! everyone in the room; each receiver sees the offer and accepts or declines it; both
//! sides see progress, and a transfer resumes from the last confirmed byte after the
//! connection breaks. The decisions are `peerchat-files`' sans-IO machines; this module
//! is the I/O around them: one task per transfer owns its machine, its channel and its
//! file ([`send`], [`receive`]), the session holds a handle per transfer.

mod disk;
mod progress;
mod read_ahead;
mod receive;
mod restore;
mod send;
mod store;
mod write_behind;

use std::path::{Path, PathBuf};

use peerchat_files::{Outgoing, TransferError};
use peerchat_peer::{DataChannel, Messages, RemotePeer};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::error::ChatError;
use crate::event::ChatEvent;
use crate::session::ChatSession;

pub(crate) use receive::incoming_channel;
pub(crate) use restore::restore;

/// What the session does with files.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// Where accepted files go when no folder is named (the Downloads folder, in the app).
    pub download_dir: Option<PathBuf>,
    /// Largest file accepted; bigger offers are declined at once.
    pub max_size: u64,
    /// Transfers at once, both ways; more are refused.
    pub max_transfers: usize,
    /// Accept every offer into `download_dir` (bots).
    pub auto_accept: bool,
    /// Where transfers are kept so they resume after this process restarts (the same
    /// room and name, the same certificate: `PeerOptions::certificate`). `None`: a
    /// restart ends them.
    pub state_dir: Option<PathBuf>,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig { download_dir: None, max_size: 16 << 30, max_transfers: 8, auto_accept: false, state_dir: None }
    }
}

/// Which way a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Send,
    Receive,
}

/// A transfer started by [`ChatSession::send_file`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSent {
    pub id: String,
    pub peer_id: String,
}

/// Commands to a transfer's task.
pub(crate) enum Cmd {
    Accept(PathBuf),
    Decline,
    Cancel,
    /// The sender opened a new channel for this transfer (after a break), from peer
    /// `String` (another id than before when the sender restarted); its offer.
    Channel(DataChannel, Messages, peerchat_files::FileMessage, String),
}

/// The session's handle on one transfer.
pub(crate) struct Handle {
    /// The other side's peer id of the moment (empty while a restored transfer waits).
    pub(crate) peer_id: String,
    pub(crate) direction: Direction,
    pub(crate) cmd: mpsc::Sender<Cmd>,
    /// The other side's certificate fingerprint, for a transfer that can resume after a
    /// restart of either side (whose peer id then changes).
    pub(crate) fingerprint: Option<String>,
}

/// Who the other side of a transfer is across restarts: its certificate's fingerprint
/// (as SDP writes it) and its name in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Who {
    pub(crate) fingerprint: String,
    pub(crate) name: String,
}

impl Who {
    /// `r`'s, once its fingerprint is known.
    pub(crate) fn of(r: &RemotePeer) -> Option<Who> {
        Some(Who { fingerprint: r.security()?.remote.to_string(), name: r.name().to_string() })
    }
}

/// Bytes read from or written to a file at a time (chunks are 16 KiB; file calls run on
/// tokio's blocking pool, so they are batched).
const IO_BUFFER: usize = 1 << 20;

/// Commands waiting for a transfer's task.
const CMD_QUEUE: usize = 8;
/// How long a side that sent the last word of a transfer (`done`, `cancel`, `decline`)
/// waits for the other side to close the channel: closing at once can reset the stream
/// before that word went out.
const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// Closes a transfer's channel; after our last word, once the other side closed it (or
/// after [`LINGER`]).
async fn close(dc: &DataChannel, messages: &mut Messages, told: bool) {
    if told {
        let _ = tokio::time::timeout(LINGER, async { while messages.recv().await.is_some() {} }).await;
    }
    dc.close().await;
}

impl ChatSession {
    /// Offers the file at `path` to the peer `to` (an id), or to everyone in the room;
    /// each gets its own transfer, announced as [`ChatEvent::FileSending`] and reported
    /// as `FileProgress`, then `FileDone` or `FileFailed`.
    pub async fn send_file(&self, path: &Path, to: Option<&str>) -> Result<Vec<FileSent>, ChatError> {
        let inner = &self.inner;
        let meta = tokio::fs::metadata(path).await.map_err(|e| ChatError::File(format!("{}: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(ChatError::File(format!("{} is not a file", path.display())));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
        let remotes: Vec<_> =
            inner.peer.remotes().await.into_iter().filter(|r| to.is_none_or(|t| r.id() == t)).collect();
        if remotes.is_empty() {
            return Err(match to {
                Some(t) => ChatError::UnknownPeer(t.to_string()),
                None => ChatError::NoPeers,
            });
        }
        let mut started = Vec::new();
        let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        for r in remotes {
            let id = new_id();
            let machine = Outgoing::new(&id, &name, meta.len(), tokio::time::Instant::now())
                .map_err(|e| ChatError::File(e.to_string()))?;
            let file = std::fs::File::open(path).map_err(|e| ChatError::File(format!("{}: {e}", path.display())))?;
            let (tx, rx) = mpsc::channel(CMD_QUEUE);
            let who = Who::of(&r);
            register(inner, &id, r.id(), Direction::Send, tx, who.as_ref().map(|w| w.fingerprint.clone()))?;
            let record = who.as_ref().map(|w| store::Record {
                id: id.clone(),
                direction: Direction::Send,
                room: inner.room.clone(),
                me: inner.name.clone(),
                fingerprint: w.fingerprint.clone(),
                peer_name: w.name.clone(),
                name: name.clone(),
                size: meta.len(),
                path: full.clone(),
                final_path: None,
                modified: store::modified(&meta),
                saved_ms: store::now_ms(),
            });
            let file = read_ahead::ReadAhead::new(file, meta.len());
            let mut task = send::Transfer::new(inner.clone(), Some(r.clone()), who, machine, file, rx);
            if let Some(record) = record {
                task = task.keeping(record, false);
            }
            let ev = ChatEvent::FileSending {
                id: id.clone(),
                peer_id: r.id().to_string(),
                name: name.clone(),
                size: meta.len(),
            };
            inner.emit(ev).await;
            inner.tasks.spawn(task.run());
            started.push(FileSent { id, peer_id: r.id().to_string() });
        }
        Ok(started)
    }

    /// Accepts the offered transfer `id` into `dir` (or the configured folder).
    pub async fn accept_file(&self, id: &str, dir: Option<&Path>) -> Result<(), ChatError> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => self.inner.files.download_dir.clone().ok_or(ChatError::NoDownloadFolder)?,
        };
        self.command(id, Some(Direction::Receive), Cmd::Accept(dir)).await
    }

    /// Declines the offered transfer `id`.
    pub async fn decline_file(&self, id: &str) -> Result<(), ChatError> {
        self.command(id, Some(Direction::Receive), Cmd::Decline).await
    }

    /// Cancels transfer `id`, either way.
    pub async fn cancel_file(&self, id: &str) -> Result<(), ChatError> {
        self.command(id, None, Cmd::Cancel).await
    }

    async fn command(&self, id: &str, want: Option<Direction>, cmd: Cmd) -> Result<(), ChatError> {
        let tx = {
            let g = self.inner.lock();
            match g.transfers.get(id) {
                Some(h) if want.is_none_or(|d| d == h.direction) => h.cmd.clone(),
                _ => return Err(ChatError::UnknownTransfer(id.to_string())),
            }
        };
        tx.send(cmd).await.map_err(|_| ChatError::UnknownTransfer(id.to_string()))
    }
}

/// Adds a transfer to the session's table, within `max_transfers`.
pub(crate) fn register(
    inner: &crate::shared::Inner,
    id: &str,
    peer_id: &str,
    direction: Direction,
    cmd: mpsc::Sender<Cmd>,
    fingerprint: Option<String>,
) -> Result<(), ChatError> {
    let mut g = inner.lock();
    if g.transfers.len() >= inner.files.max_transfers {
        return Err(ChatError::TooManyTransfers(inner.files.max_transfers));
    }
    if g.transfers.contains_key(id) {
        return Err(ChatError::File(format!("transfer {id} is already under way")));
    }
    g.transfers.insert(id.to_string(), Handle { peer_id: peer_id.to_string(), direction, cmd, fingerprint });
    Ok(())
}

/// A fresh transfer id: 16 random bytes in hex.
fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The event for a transfer that ended without a verified file.
fn failed(id: &str, peer_id: &str, direction: Direction, why: &TransferError, part: Option<&Path>) -> crate::ChatEvent {
    crate::ChatEvent::FileFailed {
        id: id.to_string(),
        peer_id: peer_id.to_string(),
        direction,
        kind: why.kind().to_string(),
        message: why.to_string(),
        part: part.map(|p| p.display().to_string()),
    }
}

/// A transfer's channel of the moment: the handle this side sends on, and what the other
/// side sends.
struct Channel {
    dc: DataChannel,
    messages: Messages,
}

/// The next message on the channel; never, while there is none.
async fn recv(chan: &mut Option<Channel>) -> Option<peerchat_peer::Message> {
    match chan {
        Some(c) => c.messages.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The progress event of a transfer.
fn progress_event(id: &str, peer_id: &str, direction: Direction, r: progress::Report) -> ChatEvent {
    ChatEvent::FileProgress {
        id: id.to_string(),
        peer_id: peer_id.to_string(),
        direction,
        bytes: r.bytes,
        size: r.size,
        rate: r.rate,
        eta_ms: r.eta_ms,
    }
}
