//! [`HistoryHandle`]: the history owned by a thread of its own, for async callers. The
//! thread holds the one [`History`] connection and runs jobs in the order they were
//! queued (bounded): [`HistoryHandle::call`] awaits a job's answer,
//! [`HistoryHandle::submit`] queues one without waiting (its failure goes to a callback),
//! so an event stream is never held up by the disk. SQLite's blocking calls never run on
//! a runtime's threads. A job that panics is reported as an error and the thread goes
//! on; it ends, closing the database, when the last handle is dropped.

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
                    // A panic is our bug: the job's caller hears of it (its answer is
                    // dropped), and the next job still runs.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut history)));
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

impl HistoryHandle {
    /// Queues `job` without waiting for it (jobs run in order, so a later
    /// [`HistoryHandle::call`] sees what it did). If it fails, or the queue is full,
    /// `failed` hears why.
    pub fn submit<F>(&self, job: F, failed: impl FnOnce(HistoryError) + Send + 'static)
    where
        F: FnOnce(&mut History) -> Result<(), HistoryError> + Send + 'static,
    {
        let failed = std::sync::Arc::new(std::sync::Mutex::new(Some(failed)));
        let report = failed.clone();
        let job: Job = Box::new(move |h| {
            if let Err(e) = job(h) {
                if let Some(f) = report.lock().ok().and_then(|mut f| f.take()) {
                    f(e);
                }
            }
        });
        if let Err(e) = self.jobs.try_send(job) {
            let why = match e {
                mpsc::error::TrySendError::Full(_) => {
                    HistoryError::Io("the history is behind; a change was not kept".into())
                }
                mpsc::error::TrySendError::Closed(_) => stopped(),
            };
            if let Some(f) = failed.lock().ok().and_then(|mut f| f.take()) {
                f(why);
            }
        }
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
    async fn a_submitted_job_runs_before_a_later_call_and_its_failure_is_heard() {
        let dir = tempfile::tempdir().unwrap();
        let h = HistoryHandle::open(&dir.path().join("h.sqlite3")).await.unwrap();
        h.submit(|h| h.saw_member("lobby", "K", "bob", 1), |e| panic!("{e}"));
        let (tx, rx) = tokio::sync::oneshot::channel();
        h.submit(
            |_| Err(HistoryError::Full),
            move |e| {
                let _ = tx.send(e.kind());
            },
        );
        assert_eq!(h.call(|h| h.members("lobby", 0)).await.unwrap().len(), 1, "ran in order");
        assert_eq!(rx.await.unwrap(), "history_full");
    }

    #[tokio::test]
    async fn a_job_that_panics_is_an_error_and_the_thread_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let h = HistoryHandle::open(&dir.path().join("h.sqlite3")).await.unwrap();
        let e = h.call(|_| -> Result<(), HistoryError> { panic!("a bug") }).await.unwrap_err();
        assert_eq!(e.kind(), "history_io");
        assert_eq!(h.call(|h| h.version()).await.unwrap(), crate::migrations::latest());
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
