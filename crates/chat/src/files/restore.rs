//! Transfers taken back after a restart. When a session starts, each transfer its
//! folder kept for the same room and name becomes a task again: a sender reopens its
//! file (refusing one that changed) and waits for the receiver to connect as itself; a
//! receiver hashes its partial file up to the last confirm point and waits for the
//! sender to offer again. Both are announced as `file-restored`; the machines' bounds
//! (5 minutes for the peer to come back) end the ones whose peer does not return.

use std::sync::Arc;

use peerchat_files::{Incoming, Outgoing, TransferError, CONFIRM_EVERY};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::read_ahead::ReadAhead;
use super::receive::{self, Part};
use super::store::{self, Record, Store};
use super::write_behind::WriteBehind;
use super::{failed, register, send, Cmd, Direction, Who, CMD_QUEUE, IO_BUFFER};
use crate::event::ChatEvent;
use crate::shared::Inner;

/// Takes back the session's kept transfers; the events that announce them (or say why
/// one could not be taken back), for after the session's `welcome`.
pub(crate) async fn restore(inner: &Arc<Inner>) -> Vec<ChatEvent> {
    let store = Store::new(inner.files.state_dir.clone());
    let mut said = Vec::new();
    for r in store.load(&inner.room, &inner.name).await {
        let (id, direction) = (r.id.clone(), r.direction);
        let (tx, rx) = mpsc::channel(CMD_QUEUE);
        let taken = match direction {
            Direction::Send => sender(inner, &r, rx).await,
            Direction::Receive => receiver(inner, &r, rx).await,
        };
        let bytes = match taken {
            Ok((bytes, task)) => match register(inner, &id, "", direction, tx, Some(r.fingerprint.clone())) {
                Ok(()) => {
                    inner.tasks.spawn(task);
                    bytes
                }
                Err(e) => {
                    store.remove(&id, direction).await;
                    said.push(failed(&id, "", direction, &TransferError::Io(e.to_string()), None));
                    continue;
                }
            },
            Err(why) => {
                store.remove(&id, direction).await;
                let part = (direction == Direction::Receive).then_some(r.path.as_path());
                said.push(failed(&id, "", direction, &why, part.filter(|p| p.exists())));
                continue;
            }
        };
        tracing::info!(transfer = %id, ?direction, bytes, "a file transfer kept across a restart goes on");
        said.push(ChatEvent::FileRestored { id, direction, peer_name: r.peer_name, name: r.name, size: r.size, bytes });
    }
    said
}

type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A sending transfer again, if its file is as it was.
async fn sender(inner: &Arc<Inner>, r: &Record, cmds: mpsc::Receiver<Cmd>) -> Result<(u64, Task), TransferError> {
    let io = |e: std::io::Error| TransferError::Io(format!("{}: {e}", r.path.display()));
    let file = std::fs::File::open(&r.path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.len() != r.size || store::modified(&meta) != r.modified {
        return Err(TransferError::Io(format!("{} changed since the transfer started", r.path.display())));
    }
    let machine = Outgoing::restored(&r.id, &r.name, r.size, Instant::now())?;
    let who = Who { fingerprint: r.fingerprint.clone(), name: r.peer_name.clone() };
    let task = send::Transfer::new(inner.clone(), None, Some(who), machine, ReadAhead::new(file, r.size), cmds)
        .keeping(r.clone(), true);
    Ok((0, Box::pin(task.run())))
}

/// A receiving transfer again, from its partial file's last confirm point.
async fn receiver(inner: &Arc<Inner>, r: &Record, cmds: mpsc::Receiver<Cmd>) -> Result<(u64, Task), TransferError> {
    let io = |e: std::io::Error| TransferError::Io(format!("{}: {e}", r.path.display()));
    let fin = r.final_path.clone().ok_or_else(|| TransferError::Io("a record without the file's name".into()))?;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&r.path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    // Everything up to a confirm point was synced before it was confirmed.
    let point = if len >= r.size { r.size } else { len - len % CONFIRM_EVERY };
    let mut machine = Incoming::restored(&r.id, &r.name, r.size, Instant::now());
    let file = Arc::new(file);
    let mut at = 0;
    while at < point {
        let n = (point - at).min(IO_BUFFER as u64) as usize;
        let f = file.clone();
        let block = tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut b = vec![0u8; n];
            f.read_exact_at(&mut b, at).map(|()| b)
        })
        .await
        .map_err(|e| io(std::io::Error::other(e)))?
        .map_err(io)?;
        machine.rehash(&block);
        at += n as u64;
    }
    machine.rehashed(Instant::now());
    let file = Arc::try_unwrap(file).map_err(|_| TransferError::Io("the partial file is still in use".into()))?;
    let part = Part { fin, part: r.path.clone(), writer: Some(WriteBehind::new(file)) };
    let who = Who { fingerprint: r.fingerprint.clone(), name: r.peer_name.clone() };
    let task = receive::Transfer::new(inner.clone(), String::new(), Some(who), machine, cmds, Some(part));
    Ok((point, Box::pin(task.run(None))))
}
