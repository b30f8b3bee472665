//! Who belongs to a room and what waits for them. Members are known by their
//! certificate's fingerprint (the `key`), which stays the same across their sessions
//! while peer ids do not. A line said while a member was away is queued for that member
//! (bounded per member; its text kept once however many wait for it) until it is
//! delivered to them, or until it is too old.

use rusqlite::params;

use crate::store::field;
use crate::{History, HistoryError};

/// Members remembered per room (the ones seen longest ago are forgotten first).
pub const MAX_MEMBERS: usize = 256;

/// A member of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub key: String,
    pub name: String,
    pub last_seen_ms: i64,
}

/// A line waiting for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub line_id: String,
    pub text: String,
    pub at_ms: i64,
}

/// Whether a line could be queued for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub key: String,
    pub name: String,
    /// False: that member's queue is full (`max_per_member` lines wait already).
    pub kept: bool,
}

/// A queued line given up on: too old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub room: String,
    pub line_id: String,
    pub name: String,
}

impl History {
    /// `key` was seen in `room` as `name` at `now_ms`.
    pub fn saw_member(&mut self, room: &str, key: &str, name: &str, now_ms: i64) -> Result<(), HistoryError> {
        for (what, v) in [("room", room), ("key", key), ("name", name)] {
            field(what, v)?;
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO members (room, key, name, last_seen_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (room, key) DO UPDATE SET name = ?3, last_seen_ms = MAX(last_seen_ms, ?4)",
            params![room, key, name, now_ms],
        )?;
        tx.execute(
            "DELETE FROM members WHERE room = ?1 AND key NOT IN
             (SELECT key FROM members WHERE room = ?1 ORDER BY last_seen_ms DESC, key LIMIT ?2)",
            params![room, MAX_MEMBERS as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Members of `room` seen at or after `since_ms`, the most recently seen first.
    pub fn members(&self, room: &str, since_ms: i64) -> Result<Vec<Member>, HistoryError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, name, last_seen_ms FROM members WHERE room = ?1 AND last_seen_ms >= ?2
             ORDER BY last_seen_ms DESC, key",
        )?;
        let rows = stmt.query_map(params![room, since_ms], |r| {
            Ok(Member { key: r.get(0)?, name: r.get(1)?, last_seen_ms: r.get(2)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queues line `line_id` of `room` (its text kept once) for each of `to`
    /// (`(key, name)`), unless that member has `max_per_member` lines waiting already;
    /// what became of each.
    pub fn queue(
        &mut self,
        room: &str,
        line_id: &str,
        text: &str,
        at_ms: i64,
        to: &[(String, String)],
        max_per_member: usize,
    ) -> Result<Vec<Queued>, HistoryError> {
        if text.len() > crate::MAX_TEXT_BYTES {
            return Err(HistoryError::Refused(format!("a line of {} bytes", text.len())));
        }
        field("line id", line_id)?;
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(to.len());
        for (key, name) in to {
            field("key", key)?;
            field("name", name)?;
            let waiting: i64 =
                tx.query_row("SELECT COUNT(*) FROM outbox_to WHERE room = ?1 AND key = ?2", params![room, key], |r| {
                    r.get(0)
                })?;
            let kept = (waiting as usize) < max_per_member
                && tx.execute(
                    "INSERT OR IGNORE INTO outbox_to (room, line_id, key, name) VALUES (?1, ?2, ?3, ?4)",
                    params![room, line_id, key, name],
                )? == 1;
            out.push(Queued { key: key.clone(), name: name.clone(), kept });
        }
        if out.iter().any(|q| q.kept) {
            tx.execute(
                "INSERT OR IGNORE INTO outbox (room, line_id, text, at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![room, line_id, text, at_ms],
            )?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// The oldest `limit` lines waiting for `key` in `room`, oldest first.
    pub fn waiting_for(&self, room: &str, key: &str, limit: usize) -> Result<Vec<Waiting>, HistoryError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.line_id, o.text, o.at_ms FROM outbox_to t
             JOIN outbox o ON o.room = t.room AND o.line_id = t.line_id
             WHERE t.room = ?1 AND t.key = ?2 ORDER BY o.at_ms, o.rowid LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![room, key, limit as i64], |r| {
            Ok(Waiting { line_id: r.get(0)?, text: r.get(1)?, at_ms: r.get(2)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Line `line_id` reached `key`: it waits for them no more (nor at all, when they
    /// were the last). The names it still waits for.
    pub fn delivered(&mut self, room: &str, line_id: &str, key: &str) -> Result<Vec<String>, HistoryError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM outbox_to WHERE room = ?1 AND line_id = ?2 AND key = ?3", params![room, line_id, key])?;
        drop_unwaited(&tx)?;
        tx.commit()?;
        self.waiting_names(room, line_id)
    }

    /// The names line `line_id` of `room` waits for.
    pub fn waiting_names(&self, room: &str, line_id: &str) -> Result<Vec<String>, HistoryError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT name FROM outbox_to WHERE room = ?1 AND line_id = ?2 ORDER BY name")?;
        let rows = stmt.query_map(params![room, line_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Takes line `line_id` of `room` back from the outbox (it was never sent).
    pub fn unqueue(&mut self, room: &str, line_id: &str) -> Result<(), HistoryError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM outbox_to WHERE room = ?1 AND line_id = ?2", params![room, line_id])?;
        drop_unwaited(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Gives up on every queued line said before `before_ms`; which, for whom.
    pub fn expire_outbox(&mut self, before_ms: i64) -> Result<Vec<Expired>, HistoryError> {
        let tx = self.conn.transaction()?;
        let expired = {
            let mut stmt = tx.prepare(
                "SELECT t.room, t.line_id, t.name FROM outbox o
                 JOIN outbox_to t ON o.room = t.room AND o.line_id = t.line_id
                 WHERE o.at_ms < ?1 ORDER BY o.at_ms, t.name",
            )?;
            let rows = stmt.query_map(params![before_ms], |r| {
                Ok(Expired { room: r.get(0)?, line_id: r.get(1)?, name: r.get(2)? })
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.execute(
            "DELETE FROM outbox_to WHERE (room, line_id) IN (SELECT room, line_id FROM outbox WHERE at_ms < ?1)",
            params![before_ms],
        )?;
        drop_unwaited(&tx)?;
        tx.commit()?;
        Ok(expired)
    }
}

/// Forgets the text of lines nobody waits for any more.
fn drop_unwaited(tx: &rusqlite::Transaction<'_>) -> Result<(), HistoryError> {
    tx.execute(
        "DELETE FROM outbox WHERE NOT EXISTS
         (SELECT 1 FROM outbox_to t WHERE t.room = outbox.room AND t.line_id = outbox.line_id)",
        [],
    )?;
    Ok(())
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
