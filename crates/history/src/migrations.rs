//! The database's versions: each step takes the schema from one version to the next, in
//! one transaction, and `PRAGMA user_version` says where a file stands. A file from a
//! newer peerchat is refused, never changed.

use rusqlite::Connection;

use crate::HistoryError;

/// Version `i + 1` is reached by `STEPS[i]`.
pub(crate) const STEPS: &[&str] = &[
    // 1: lines, looked up by room and time (pages) and by line id (delivery state).
    "CREATE TABLE lines (
        seq INTEGER PRIMARY KEY,
        room TEXT NOT NULL,
        line_id TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
        sender TEXT NOT NULL,
        sender_key TEXT,
        text TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        via TEXT NOT NULL,
        state TEXT NOT NULL,
        UNIQUE (room, line_id, direction)
    );
    CREATE INDEX lines_by_time ON lines (room, at_ms, seq);",
    // 2: a line is kept once per room and sender (two windows of one app in a room see
    // the same line sent and received: it is kept once, as sent; another peer cannot
    // take a line's place by using its id first), the members of each room known by
    // their certificate's fingerprint, and the outbox: lines (their text kept once)
    // waiting for members who were away when they were said.
    "CREATE TABLE lines2 (
        seq INTEGER PRIMARY KEY,
        room TEXT NOT NULL,
        line_id TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
        sender TEXT NOT NULL,
        sender_key TEXT,
        text TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        via TEXT NOT NULL,
        state TEXT NOT NULL
    );
    CREATE UNIQUE INDEX lines_once ON lines2 (room, COALESCE(sender_key, ''), line_id);
    INSERT OR IGNORE INTO lines2 SELECT * FROM lines ORDER BY direction = 'received', seq;
    DROP TABLE lines;
    ALTER TABLE lines2 RENAME TO lines;
    CREATE INDEX lines_by_time ON lines (room, at_ms, seq);
    CREATE INDEX lines_by_id ON lines (room, line_id);
    CREATE TABLE members (
        room TEXT NOT NULL,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        PRIMARY KEY (room, key)
    );
    CREATE TABLE outbox (
        room TEXT NOT NULL,
        line_id TEXT NOT NULL,
        text TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (room, line_id)
    );
    CREATE TABLE outbox_to (
        room TEXT NOT NULL,
        line_id TEXT NOT NULL,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (room, line_id, key)
    );
    CREATE INDEX outbox_to_by_key ON outbox_to (room, key);",
];

/// The version this build writes.
pub(crate) fn latest() -> i64 {
    STEPS.len() as i64
}

/// Brings `conn` to the latest version; the version it had.
pub(crate) fn run(conn: &mut Connection) -> Result<i64, HistoryError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest() {
        return Err(HistoryError::TooNew { found, known: latest() });
    }
    for (i, step) in STEPS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(found)
}
