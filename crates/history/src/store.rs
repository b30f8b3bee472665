//! The store: one SQLite connection, owned by whoever holds the [`History`] (calls block
//! on the disk; an async caller runs them on a thread of their own). The file and its
//! folder are created readable by the user alone before SQLite opens them; the
//! write-ahead log SQLite adds beside it inherits the file's permissions.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags};

use crate::line::{Cursor, Direction, Line, NewLine, Page};
use crate::{migrations, HistoryError};

/// Most lines in one page.
pub const MAX_PAGE: usize = 500;
/// Longest text kept for a line (the chat's own bound is 16 KiB).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Longest room, id, name, key, path or state kept.
const MAX_FIELD_BYTES: usize = 1024;
/// How long a call waits for another program holding the database.
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// The history of every room.
pub struct History {
    pub(crate) conn: Connection,
}

impl History {
    /// Opens (or creates) the history at `path`, bringing an older file to this version.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_WAIT)?;
        // A file that is not a database is found here, not at the first line.
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        // With the write-ahead log, NORMAL keeps every commit whole and loses at most
        // the last ones on a power cut, without a disk sync for each line.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // What is forgotten (cleared, pruned, delivered) is overwritten, not left in
        // free pages of the file.
        conn.pragma_update(None, "secure_delete", "ON")?;
        migrations::run(&mut conn)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(HistoryError::Corrupt(check));
        }
        Ok(History { conn })
    }

    /// The schema version of the open file.
    pub fn version(&self) -> Result<i64, HistoryError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Keeps `line`; its place, or `None` when it was kept already (a repeat).
    pub fn add(&mut self, line: &NewLine) -> Result<Option<i64>, HistoryError> {
        check(line)?;
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO lines (room, line_id, direction, sender, sender_key, text, at_ms, via, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                line.room,
                line.line_id,
                line.direction.as_str(),
                line.sender,
                line.sender_key,
                line.text,
                line.at_ms,
                line.via,
                line.state
            ],
        )?;
        Ok((added == 1).then(|| self.conn.last_insert_rowid()))
    }

    /// Sets the delivery state of a kept line; whether there was one.
    pub fn set_state(
        &mut self,
        room: &str,
        line_id: &str,
        direction: Direction,
        state: &str,
    ) -> Result<bool, HistoryError> {
        field("state", state)?;
        let n = self.conn.execute(
            "UPDATE lines SET state = ?4 WHERE room = ?1 AND line_id = ?2 AND direction = ?3",
            params![room, line_id, direction.as_str(), state],
        )?;
        Ok(n > 0)
    }

    /// How our line `line_id` went out (`via`), and its state then unless a receipt or
    /// failure already changed it.
    pub fn sent_as(&mut self, room: &str, line_id: &str, via: &str, state: &str) -> Result<bool, HistoryError> {
        field("via", via)?;
        field("state", state)?;
        let n = self.conn.execute(
            "UPDATE lines SET via = ?3, state = CASE WHEN state = 'sent' THEN ?4 ELSE state END
             WHERE room = ?1 AND line_id = ?2 AND direction = 'sent'",
            params![room, line_id, via, state],
        )?;
        Ok(n > 0)
    }

    /// Our line `line_id` reached someone: `delivered`, unless it failed to reach
    /// someone else (a failure stays visible) or is not ours.
    pub fn mark_delivered(&mut self, room: &str, line_id: &str) -> Result<bool, HistoryError> {
        let n = self.conn.execute(
            "UPDATE lines SET state = 'delivered'
             WHERE room = ?1 AND line_id = ?2 AND direction = 'sent' AND state IN ('sent', 'waiting')",
            params![room, line_id],
        )?;
        Ok(n > 0)
    }

    /// Up to `limit` lines of `room` (at most [`MAX_PAGE`]), newest first, before
    /// `before` (from the newest when `None`).
    pub fn page(&self, room: &str, before: Option<Cursor>, limit: usize) -> Result<Page, HistoryError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let c = before.unwrap_or(Cursor::kept_until(i64::MAX));
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, room, line_id, direction, sender, sender_key, text, at_ms, via, state FROM lines
             WHERE room = ?1 AND (at_ms < ?2 OR (at_ms = ?2 AND seq < ?3)) AND seq <= ?5
             ORDER BY at_ms DESC, seq DESC LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![room, c.at_ms, c.seq, limit as i64 + 1, c.upto], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(3)?,
                NewLine {
                    room: r.get(1)?,
                    line_id: r.get(2)?,
                    direction: Direction::Sent,
                    sender: r.get(4)?,
                    sender_key: r.get(5)?,
                    text: r.get(6)?,
                    at_ms: r.get(7)?,
                    via: r.get(8)?,
                    state: r.get(9)?,
                },
            ))
        })?;
        let mut lines = Vec::new();
        for row in rows {
            let (seq, direction, mut line) = row?;
            line.direction = Direction::parse(&direction)
                .ok_or_else(|| HistoryError::Corrupt(format!("line {seq} has direction {direction:?}")))?;
            lines.push(Line { seq, line, waiting: Vec::new() });
        }
        let more = lines.len() > limit;
        lines.truncate(limit);
        drop(stmt);
        for l in lines.iter_mut().filter(|l| l.line.direction == Direction::Sent) {
            l.waiting = self.waiting_names(room, &l.line.line_id)?;
        }
        let older = lines.last().filter(|_| more).map(|l| Cursor { at_ms: l.line.at_ms, seq: l.seq, upto: c.upto });
        Ok(Page { lines, older })
    }

    /// Forgets every line of `room`; how many. Lines still waiting in the outbox stay
    /// there (clearing what was said does not take back what is on its way).
    pub fn clear_room(&mut self, room: &str) -> Result<usize, HistoryError> {
        let n = self.conn.execute("DELETE FROM lines WHERE room = ?1", params![room])?;
        self.compact_log()?;
        Ok(n)
    }

    /// Forgets our line `line_id` of `room` (it was never sent).
    pub fn forget_sent(&mut self, room: &str, line_id: &str) -> Result<bool, HistoryError> {
        let n = self.conn.execute(
            "DELETE FROM lines WHERE room = ?1 AND line_id = ?2 AND direction = 'sent'",
            params![room, line_id],
        )?;
        Ok(n > 0)
    }

    /// Writes the write-ahead log into the file and empties it, so forgotten lines do
    /// not stay readable there.
    fn compact_log(&mut self) -> Result<(), HistoryError> {
        let _: (i64, i64, i64) =
            self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(())
    }

    /// The place of the last line kept (0: none yet), for [`Cursor::kept_until`].
    pub fn last_place(&self) -> Result<i64, HistoryError> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM lines", [], |r| r.get(0))?)
    }

    /// Forgets every line said before `before_ms` (ms since the epoch); how many.
    pub fn prune(&mut self, before_ms: i64) -> Result<usize, HistoryError> {
        let n = self.conn.execute("DELETE FROM lines WHERE at_ms < ?1", params![before_ms])?;
        if n > 0 {
            self.compact_log()?;
        }
        Ok(n)
    }
}

/// Refuses what the store does not keep: oversized fields.
fn check(l: &NewLine) -> Result<(), HistoryError> {
    if l.text.len() > MAX_TEXT_BYTES {
        return Err(HistoryError::Refused(format!("a line of {} bytes (at most {MAX_TEXT_BYTES})", l.text.len())));
    }
    for (what, v) in
        [("room", &l.room), ("line id", &l.line_id), ("sender", &l.sender), ("via", &l.via), ("state", &l.state)]
    {
        field(what, v)?;
    }
    l.sender_key.as_deref().map_or(Ok(()), |k| field("sender key", k))
}

pub(crate) fn field(what: &str, v: &str) -> Result<(), HistoryError> {
    if v.len() > MAX_FIELD_BYTES {
        return Err(HistoryError::Refused(format!("a {what} of {} bytes (at most {MAX_FIELD_BYTES})", v.len())));
    }
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
