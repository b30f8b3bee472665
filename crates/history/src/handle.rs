//! [`HistoryHandle`]: the history owned by a thread of its own, for async callers. The
//! thread holds the one [`History`] connection; callers send it a job over a bounded
//! queue and await the answer, so SQLite's blocking calls never run on a runtime's
//! threads. The thread ends, closing the database, when the last handle is dropped.

use std::path::Path;

use tokio::sync::{mpsc, oneshot};

use crate::{History, HistoryError};

/// Jobs waiting for the history's thread before callers wait for room.
const QUEUE: usize = 256;

type Job = Box<dyn FnOnce(&mut History) + Send>;

/// A cheap, cloneable way to the history's thread.
#[derive(Clone)]
pub struct HistoryHandle {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for HistoryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HistoryHandle")
    }
}

impl HistoryHandle {
    /// Opens the history at `path` on a new thread; the thread's handle, or why the
    /// history cannot be used.
    pub async fn open(path: &Path) -> Result<HistoryHandle, HistoryError> {
        let (jobs, mut rx) = mpsc::channel::<Job>(QUEUE);
        let (opened, is_open) = oneshot::channel();
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("history".into())
            .spawn(move || {
                let mut history = match History::open(&path) {
                    Ok(h) => {
                        let _ = opened.send(Ok(()));
                        h
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        return;
                    }
                };
                while let Some(job) = rx.blocking_recv() {
                    job(&mut history);
                }
            })
            .map_err(HistoryError::from)?;
        match is_open.await {
            Ok(Ok(())) => Ok(HistoryHandle { jobs }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(HistoryError::Io("the history's thread stopped while opening".into())),
        }
    }

    /// Runs `job` on the history's thread; its answer.
    pub async fn call<T, F>(&self, job: F) -> Result<T, HistoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut History) -> Result<T, HistoryError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |h| {
            let _ = tx.send(job(h));
        });
        self.jobs.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

fn stopped() -> HistoryError {
    HistoryError::Io("the history's thread has stopped".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_histories_thread_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let h = HistoryHandle::open(&dir.path().join("h.sqlite3")).await.unwrap();
        let main = std::thread::current().id();
        let there = h.call(move |_| Ok(std::thread::current().id() != main)).await.unwrap();
        assert!(there, "the job ran on the history's own thread");
        let v = h.clone().call(|h| h.version()).await.unwrap();
        assert_eq!(v, crate::migrations::latest());
    }

    #[tokio::test]
    async fn a_history_that_cannot_open_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite3");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let e = HistoryHandle::open(&path).await.unwrap_err();
        assert_eq!(e.kind(), "history_corrupt");
    }
}
