//! The history rows: keeping lines through the app's history thread (queued writes, as
//! the app keeps each line it sees) beside bare SQLite inserts of the same rows with
//! the same settings (the reference: what the layer costs); opening a history of that
//! size (migrations check and `quick_check`, what the first join waits for); and reading
//! a page deep in a long room with the keyset cursor, beside the same page read with
//! `OFFSET` (what the cursor saves).

use std::time::{Duration, Instant};

use peerchat_history::{Cursor, Direction, History, HistoryHandle, NewLine};

pub struct Results {
    pub lines: usize,
    pub ours_write: Duration,
    pub bare_write: Duration,
    pub open: Duration,
    pub file_mib: f64,
    pub page_deep: Duration,
    pub offset_deep: Duration,
    pub depth: usize,
}

fn line(i: usize) -> NewLine {
    NewLine {
        room: "lobby".into(),
        line_id: format!("peer-{i}"),
        direction: if i.is_multiple_of(2) { Direction::Sent } else { Direction::Received },
        sender: "bob".into(),
        sender_key: Some("sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89".into()),
        text: format!("line {i}: the quick brown fox jumps over the lazy dog, now and then"),
        at_ms: 1_700_000_000_000 + i as i64 * 50,
        via: "p2p".into(),
        state: "received".into(),
    }
}

pub async fn run(lines: usize) -> anyhow::Result<Results> {
    let dir = tempfile::Builder::new().prefix("peerchat-bench-history").tempdir()?;
    let ours_path = dir.path().join("ours.sqlite3");
    let h = HistoryHandle::open(&ours_path).await?;
    let t = Instant::now();
    for i in 0..lines {
        let l = line(i);
        // As the app does: queued, not awaited (a full queue waits for room here).
        loop {
            let (tx, rx) = std::sync::mpsc::channel();
            let l2 = l.clone();
            h.submit(move |h| h.add(&l2).map(drop), move |e| drop(tx.send(e)));
            match rx.try_recv() {
                Ok(e) if e.to_string().contains("behind") => tokio::task::yield_now().await,
                _ => break,
            }
        }
    }
    h.call(|h| h.version()).await?;
    let ours_write = t.elapsed();
    drop(h);

    // The reference: the same rows, bare SQLite, same journal settings, no thread.
    let bare_path = dir.path().join("bare.sqlite3");
    let bare_write = {
        let c = rusqlite::Connection::open(&bare_path)?;
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON;
             CREATE TABLE lines (seq INTEGER PRIMARY KEY, room TEXT NOT NULL, line_id TEXT NOT NULL,
               direction TEXT NOT NULL, sender TEXT NOT NULL, sender_key TEXT, text TEXT NOT NULL,
               at_ms INTEGER NOT NULL, via TEXT NOT NULL, state TEXT NOT NULL);
             CREATE UNIQUE INDEX lines_once ON lines (room, COALESCE(sender_key, ''), line_id);
             CREATE INDEX lines_by_time ON lines (room, at_ms, seq);
             CREATE INDEX lines_by_id ON lines (room, line_id);",
        )?;
        let t = Instant::now();
        let mut stmt = c.prepare(
            "INSERT OR IGNORE INTO lines (room, line_id, direction, sender, sender_key, text, at_ms, via, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for i in 0..lines {
            let l = line(i);
            let dir = if l.direction == Direction::Sent { "sent" } else { "received" };
            stmt.execute(rusqlite::params![
                l.room,
                l.line_id,
                dir,
                l.sender,
                l.sender_key,
                l.text,
                l.at_ms,
                l.via,
                l.state
            ])?;
        }
        t.elapsed()
    };

    let t = Instant::now();
    let h = History::open(&ours_path)?;
    let open = t.elapsed();
    let file_mib = std::fs::metadata(&ours_path)?.len() as f64 / (1 << 20) as f64;

    // A page of 50 lines, `depth` lines back from the newest.
    let depth = lines.saturating_sub(100);
    let mut cursor = None;
    let mut skipped = 0;
    while skipped < depth {
        let p = h.page("lobby", cursor, 500)?;
        skipped += p.lines.len();
        cursor = p.older;
    }
    let t = Instant::now();
    let deep = h.page("lobby", cursor.or(Some(Cursor::kept_until(i64::MAX))), 50)?;
    let page_deep = t.elapsed();
    anyhow::ensure!(deep.lines.len() == 50, "the deep page has {} lines", deep.lines.len());
    let bare = rusqlite::Connection::open(&ours_path)?;
    let t = Instant::now();
    let n: i64 = bare.query_row(
        "SELECT COUNT(*) FROM (SELECT seq FROM lines WHERE room = 'lobby' ORDER BY at_ms DESC, seq DESC LIMIT 50 OFFSET ?1)",
        [depth as i64],
        |r| r.get(0),
    )?;
    let offset_deep = t.elapsed();
    anyhow::ensure!(n == 50, "the OFFSET page has {n} lines");
    Ok(Results { lines, ours_write, bare_write, open, file_mib, page_deep, offset_deep, depth })
}

pub fn rows(r: &Results) -> Vec<String> {
    let per_s = |d: Duration| r.lines as f64 / d.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    vec![
        format!(
            "| history: {} lines kept through the history thread, queued as the app keeps them (reference: bare SQLite inserts, same settings and indexes) | {:.0} lines/s | {:.0} lines/s | {:.2}× | – | – |",
            r.lines,
            per_s(r.ours_write),
            per_s(r.bare_write),
            per_s(r.ours_write) / per_s(r.bare_write)
        ),
        format!(
            "| history: opening it with {} lines ({:.1} MiB; version check and quick_check, what the first join waits for) | {:.1} ms | – | – | – | – |",
            r.lines,
            r.file_mib,
            ms(r.open)
        ),
        format!(
            "| history: a page of 50 lines {} lines back (reference: the same page by OFFSET) | {:.2} ms | {:.2} ms | {:.2}× | – | – |",
            r.depth,
            ms(r.page_deep),
            ms(r.offset_deep),
            ms(r.page_deep) / ms(r.offset_deep)
        ),
    ]
}
