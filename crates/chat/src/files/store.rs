//! Transfers kept across a restart. Each transfer that may resume after this process
//! restarts has a small JSON record in the session's transfers folder (a file readable by
//! the user alone, written whole under a temporary name and renamed): made when a sending
//! transfer starts or a receiving one is accepted, removed when it ends. A session that
//! starts in the same room under the same name takes its records back (`restore`). A
//! record names the other side by its certificate's fingerprint and its name in the room,
//! never by its peer id, which a restart changes. Keeping a record is best effort: when
//! it cannot be written the transfer goes on and only loses the restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Direction;

/// Records taken back at most (the newest); the rest are removed.
const MAX_RECORDS: usize = 64;
/// Records older than this are removed unread (their partial files stay).
const KEEP: Duration = Duration::from_secs(24 * 3600);
/// A record's file is never larger.
const MAX_RECORD_BYTES: u64 = 16 * 1024;

/// One transfer that may resume after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) direction: Direction,
    /// The session it belongs to: the room and our name in it.
    pub(crate) room: String,
    pub(crate) me: String,
    /// The other side: its certificate's fingerprint (as SDP writes it) and its name.
    pub(crate) fingerprint: String,
    pub(crate) peer_name: String,
    /// The file's name as offered, and its size.
    pub(crate) name: String,
    pub(crate) size: u64,
    /// Sender: the file sent. Receiver: the partial file.
    pub(crate) path: PathBuf,
    /// Receiver: the name the file gets once verified.
    #[serde(default)]
    pub(crate) final_path: Option<PathBuf>,
    /// Sender: the file's modification time when the transfer started (ns since the
    /// epoch), to notice a file that changed meanwhile.
    #[serde(default)]
    pub(crate) modified: Option<u128>,
    /// When the record was written (ms since the epoch).
    pub(crate) saved_ms: u64,
}

/// The transfers folder of a session, or nothing kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Store {
    dir: Option<PathBuf>,
}

impl Store {
    pub(crate) fn new(dir: Option<PathBuf>) -> Store {
        Store { dir }
    }

    /// Keeps `r` (replacing an earlier record of the same transfer), on the blocking pool.
    pub(crate) async fn save(&self, r: Record) {
        let Some(dir) = self.dir.clone() else { return };
        let (id, shown) = (r.id.clone(), dir.display().to_string());
        match tokio::task::spawn_blocking(move || write(&dir, &r)).await.map_err(std::io::Error::other) {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(transfer = %id, dir = %shown, error = %e, "cannot keep the transfer for a restart")
            }
        }
    }

    /// Forgets transfer `id` going `direction`, on the blocking pool.
    pub(crate) async fn remove(&self, id: &str, direction: Direction) {
        let Some(dir) = self.dir.clone() else { return };
        let path = record_path(&dir, id, direction);
        let _ = tokio::task::spawn_blocking(move || remove_file(&path)).await;
    }

    /// The records of the session in `room` named `me`, newest first; records too old,
    /// beyond [`MAX_RECORDS`] or unreadable are removed. On the blocking pool.
    pub(crate) async fn load(&self, room: &str, me: &str) -> Vec<Record> {
        let this = self.clone();
        let (room, me) = (room.to_string(), me.to_string());
        tokio::task::spawn_blocking(move || this.load_now(&room, &me)).await.unwrap_or_default()
    }

    fn load_now(&self, room: &str, me: &str) -> Vec<Record> {
        let Some(dir) = &self.dir else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        let now = now_ms();
        let mut all = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            match read(&path) {
                Some(r) if now.saturating_sub(r.saved_ms) <= KEEP.as_millis() as u64 => all.push(r),
                _ => {
                    tracing::warn!(record = %path.display(), "an old or unreadable transfer record removed");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        all.sort_by_key(|r| std::cmp::Reverse(r.saved_ms));
        for r in all.iter().skip(MAX_RECORDS) {
            remove_file(&record_path(dir, &r.id, r.direction));
        }
        all.truncate(MAX_RECORDS);
        all.retain(|r| r.room == room && r.me == me);
        all
    }
}

/// A transfer's record: its id and direction (one id may be used both ways).
fn record_path(dir: &Path, id: &str, direction: Direction) -> PathBuf {
    dir.join(format!("{id}-{}.json", stem(direction)))
}

fn stem(direction: Direction) -> &'static str {
    match direction {
        Direction::Send => "send",
        Direction::Receive => "receive",
    }
}

fn remove_file(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(record = %path.display(), error = %e, "cannot remove a transfer's record"),
    }
}

fn read(path: &Path) -> Option<Record> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_RECORD_BYTES {
        return None;
    }
    let r: Record = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    // The file's name is the id and direction; a record that says otherwise is not ours.
    let named = path.file_stem()? == format!("{}-{}", r.id, stem(r.direction)).as_str();
    (named && peerchat_files::is_valid_id(&r.id)).then_some(r)
}

fn write(dir: &Path, r: &Record) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = dir.join(format!(".{}-{}.tmp", r.id, stem(r.direction)));
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(&serde_json::to_vec(r).map_err(std::io::Error::other)?)?;
    f.sync_data()?;
    std::fs::rename(&tmp, record_path(dir, &r.id, r.direction))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A file's modification time in ns since the epoch.
pub(crate) fn modified(meta: &std::fs::Metadata) -> Option<u128> {
    meta.modified().ok()?.duration_since(UNIX_EPOCH).ok().map(|d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, room: &str, saved_ms: u64) -> Record {
        Record {
            id: id.into(),
            direction: Direction::Send,
            room: room.into(),
            me: "ada".into(),
            fingerprint: "sha-256 AB:CD".into(),
            peer_name: "bob".into(),
            name: "a.bin".into(),
            size: 10,
            path: "/tmp/a.bin".into(),
            final_path: None,
            modified: Some(1),
            saved_ms,
        }
    }

    #[tokio::test]
    async fn records_are_kept_per_session_and_removed_when_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Some(dir.path().join("transfers")));
        store.save(record("a1", "lobby", now_ms())).await;
        store.save(record("b2", "other", now_ms())).await;
        assert_eq!(
            store.load("lobby", "ada").await,
            vec![record("a1", "lobby", store.load("lobby", "ada").await[0].saved_ms)]
        );
        assert!(store.load("lobby", "bob").await.is_empty(), "another name's records are not ours");
        store.remove("a1", Direction::Send).await;
        assert!(store.load("lobby", "ada").await.is_empty());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("transfers/b2-send.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn old_damaged_or_misnamed_records_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Some(dir.path().to_path_buf()));
        store.save(record("old", "lobby", now_ms() - KEEP.as_millis() as u64 - 1)).await;
        std::fs::write(dir.path().join("bad.json"), b"{not json").unwrap();
        std::fs::write(dir.path().join("x-send.json"), serde_json::to_vec(&record("y", "lobby", now_ms())).unwrap())
            .unwrap();
        assert!(store.load("lobby", "ada").await.is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "all three removed");
    }

    #[tokio::test]
    async fn one_id_both_ways_keeps_two_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Some(dir.path().to_path_buf()));
        let mut theirs = record("same", "lobby", now_ms());
        theirs.direction = Direction::Receive;
        store.save(record("same", "lobby", now_ms())).await;
        store.save(theirs).await;
        assert_eq!(store.load("lobby", "ada").await.len(), 2);
        store.remove("same", Direction::Send).await;
        let left = store.load("lobby", "ada").await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].direction, Direction::Receive);
    }

    #[tokio::test]
    async fn no_folder_keeps_nothing() {
        let store = Store::new(None);
        store.save(record("a1", "lobby", now_ms())).await;
        assert!(store.load("lobby", "ada").await.is_empty());
    }
}
