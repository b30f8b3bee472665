//! The receiver's writes. One blocking thread owns the partial file and writes, syncs
//! and cuts it in the order it is asked to, so the transfer task never waits for the
//! disk (only for room in a bounded queue); chunks go to it in batches of
//! [`IO_BUFFER`] bytes, not one hand-over per chunk. A sync reports the offset it made durable;
//! only then may that offset be confirmed to the sender. The first error stops the
//! thread and is reported in place of the next sync.

use std::io::{self, Seek, Write};

use tokio::sync::{mpsc, oneshot};

use super::IO_BUFFER;

/// Operations waiting for the thread (a write is a batch of up to [`IO_BUFFER`] bytes).
const QUEUE: usize = 4;

enum Op {
    Write(Vec<Vec<u8>>),
    /// Flush and sync; report `offset` with `tag`.
    Sync {
        offset: u64,
        tag: u64,
    },
    /// Cut the file to `offset` and write on from there.
    Truncate(u64),
    /// Flush, sync and stop.
    Close(oneshot::Sender<io::Result<()>>),
}

/// A sync that finished: the offset now durable, tagged as asked, or why not.
pub(crate) struct Synced {
    pub(crate) tag: u64,
    pub(crate) result: io::Result<u64>,
}

/// The handle on a writer thread.
pub(crate) struct WriteBehind {
    ops: mpsc::Sender<Op>,
    synced: mpsc::Receiver<Synced>,
    /// Chunks not handed to the thread yet, and their bytes.
    batch: Vec<Vec<u8>>,
    batched: usize,
}

impl WriteBehind {
    /// Starts the thread that owns `file`.
    pub(crate) fn new(file: std::fs::File) -> WriteBehind {
        let (ops, rx) = mpsc::channel(QUEUE);
        let (tx, synced) = mpsc::channel(QUEUE);
        tokio::task::spawn_blocking(move || run(io::BufWriter::with_capacity(IO_BUFFER, file), rx, tx));
        WriteBehind { ops, synced, batch: Vec::new(), batched: 0 }
    }

    /// Appends `data`.
    pub(crate) async fn write(&mut self, data: Vec<u8>) -> io::Result<()> {
        self.batched += data.len();
        self.batch.push(data);
        if self.batched >= IO_BUFFER {
            self.hand_over().await?;
        }
        Ok(())
    }

    /// Asks for everything written so far to be made durable; [`WriteBehind::synced`]
    /// reports it as `offset`, with `tag`.
    pub(crate) async fn sync(&mut self, offset: u64, tag: u64) -> io::Result<()> {
        self.hand_over().await?;
        self.op(Op::Sync { offset, tag }).await
    }

    /// Cuts the file to `offset`; what is written next goes there.
    pub(crate) async fn truncate(&mut self, offset: u64) -> io::Result<()> {
        self.hand_over().await?;
        self.op(Op::Truncate(offset)).await
    }

    /// The next finished sync; never, while none is asked for.
    pub(crate) async fn synced(&mut self) -> Synced {
        match self.synced.recv().await {
            Some(s) => s,
            None => Synced { tag: 0, result: Err(stopped()) },
        }
    }

    /// Writes what is queued, syncs and stops the thread.
    pub(crate) async fn close(mut self) -> io::Result<()> {
        self.hand_over().await?;
        let (tx, rx) = oneshot::channel();
        self.op(Op::Close(tx)).await?;
        rx.await.map_err(|_| stopped())?
    }

    /// Hands the batch to the thread.
    async fn hand_over(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batched = 0;
        let batch = std::mem::take(&mut self.batch);
        self.op(Op::Write(batch)).await
    }

    async fn op(&self, op: Op) -> io::Result<()> {
        self.ops.send(op).await.map_err(|_| stopped())
    }
}

fn stopped() -> io::Error {
    io::Error::other("the file's writer stopped after an error")
}

/// The thread: does each operation in order until the handle is gone, closed, or an
/// operation failed (reported on `synced`).
fn run(mut file: io::BufWriter<std::fs::File>, mut ops: mpsc::Receiver<Op>, synced: mpsc::Sender<Synced>) {
    let sync = |f: &mut io::BufWriter<std::fs::File>| f.flush().and_then(|()| f.get_ref().sync_data());
    while let Some(op) = ops.blocking_recv() {
        let failed = match op {
            Op::Write(batch) => batch.iter().try_for_each(|data| file.write_all(data)).err(),
            Op::Sync { offset, tag } => match sync(&mut file) {
                Ok(()) => {
                    let _ = synced.blocking_send(Synced { tag, result: Ok(offset) });
                    None
                }
                Err(e) => Some(e),
            },
            Op::Truncate(offset) => {
                let cut = |f: &mut io::BufWriter<std::fs::File>| {
                    f.flush()?;
                    f.get_ref().set_len(offset)?;
                    f.seek(io::SeekFrom::Start(offset)).map(|_| ())
                };
                cut(&mut file).err()
            }
            Op::Close(done) => {
                let _ = done.send(sync(&mut file));
                return;
            }
        };
        if let Some(e) = failed {
            let _ = synced.blocking_send(Synced { tag: 0, result: Err(e) });
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_syncs_and_cuts_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.part");
        let mut w = WriteBehind::new(std::fs::File::create(&path).unwrap());
        w.write(b"hello ".to_vec()).await.unwrap();
        w.write(b"world".to_vec()).await.unwrap();
        w.sync(11, 7).await.unwrap();
        let s = w.synced().await;
        assert_eq!((s.tag, s.result.unwrap()), (7, 11));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
        w.truncate(6).await.unwrap();
        w.write(b"there".to_vec()).await.unwrap();
        w.close().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello there");
    }

    #[tokio::test]
    async fn a_failed_write_is_reported_and_stops_the_writer() {
        // /dev/full takes no bytes: the flush at the sync fails.
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let mut w = WriteBehind::new(full);
        w.write(vec![1; 10]).await.unwrap();
        w.sync(10, 1).await.unwrap();
        let s = w.synced().await;
        assert!(s.result.is_err(), "a sync of a full device succeeded");
        assert!(w.write(vec![1]).await.is_err() || w.close().await.is_err());
    }
}
