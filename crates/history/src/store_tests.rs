//! The history store against real database files: reopening, paging, versions, damage
//! and locks.

use super::*;

fn line(room: &str, id: &str, at_ms: i64, text: &str) -> NewLine {
    NewLine {
        room: room.into(),
        line_id: id.into(),
        direction: Direction::Received,
        sender: "bob".into(),
        sender_key: Some("sha-256 AB:CD".into()),
        text: text.into(),
        at_ms,
        via: "p2p".into(),
        state: "received".into(),
    }
}

fn texts(p: &Page) -> Vec<&str> {
    p.lines.iter().map(|l| l.line.text.as_str()).collect()
}

#[test]
fn lines_survive_closing_and_opening_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/history.sqlite3");
    let mut h = History::open(&path).unwrap();
    h.add(&line("lobby", "b-1", 1_000, "hello")).unwrap();
    let mut mine = line("lobby", "a-1", 2_000, "hi bob");
    mine.direction = Direction::Sent;
    mine.state = "sent".into();
    h.add(&mine).unwrap();
    assert!(h.mark_delivered("lobby", "a-1").unwrap());
    assert!(!h.mark_delivered("lobby", "b-1").unwrap(), "a line we received is not ours to mark");
    drop(h);
    let mut h = History::open(&path).unwrap();
    assert_eq!(h.add(&line("lobby", "a-1", 2_000, "hi bob")).unwrap(), None, "seen by another window too");
    let p = h.page("lobby", None, 10).unwrap();
    assert_eq!(texts(&p), ["hi bob", "hello"]);
    assert_eq!(p.lines[0].line.state, "delivered");
    assert_eq!(p.lines[0].line.direction, Direction::Sent);
    assert_eq!(p.older, None);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn pages_go_back_in_time_without_gaps_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&dir.path().join("h.sqlite3")).unwrap();
    // Two lines share each time stamp: the order falls back on the place in the history.
    for i in 0..25 {
        h.add(&line("lobby", &format!("l{i}"), 1_000 + i / 2, &format!("{i}"))).unwrap();
    }
    h.add(&line("other", "x", 5_000, "elsewhere")).unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let p = h.page("lobby", before, 10).unwrap();
        assert!(p.lines.len() <= 10);
        seen.extend(texts(&p).iter().map(|t| t.parse::<i64>().unwrap()));
        match p.older {
            Some(c) => before = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (0..25).rev().collect::<Vec<_>>());
    // A session's first page holds only what was kept before it began, even a line
    // kept later with an earlier time (it waited for us); its pages go on from there.
    let last = h.last_place().unwrap();
    h.add(&line("lobby", "late", 1_000, "written long ago, came now")).unwrap();
    let first = h.page("lobby", Some(Cursor::kept_until(last)), 20).unwrap();
    assert_eq!(texts(&first), (5..25).rev().map(|i| i.to_string()).collect::<Vec<_>>());
    let rest = h.page("lobby", first.older, 20).unwrap();
    assert_eq!(texts(&rest), ["4", "3", "2", "1", "0"]);
    assert!(texts(&h.page("lobby", None, 100).unwrap()).contains(&"written long ago, came now"));
    // A cursor goes to the window and back as text.
    let c = first.older.unwrap();
    assert_eq!(Cursor::from_token(&c.token()), Some(c));
    for bad in ["1.x.2", "1.2", "1.2.3.4", ""] {
        assert_eq!(Cursor::from_token(bad), None, "{bad:?}");
    }
}

#[test]
fn a_repeat_is_kept_once_and_oversized_lines_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&dir.path().join("h.sqlite3")).unwrap();
    assert!(h.add(&line("lobby", "b-1", 1, "once")).unwrap().is_some());
    assert_eq!(h.add(&line("lobby", "b-1", 1, "once")).unwrap(), None);
    let e = h.add(&line("lobby", "b-2", 2, &"x".repeat(MAX_TEXT_BYTES + 1))).unwrap_err();
    assert_eq!(e.kind(), "history_refused");
    let e = h.add(&line(&"r".repeat(2000), "b-3", 3, "x")).unwrap_err();
    assert_eq!(e.kind(), "history_refused");
    assert_eq!(texts(&h.page("lobby", None, 10).unwrap()), ["once"]);
}

#[test]
fn clearing_a_room_and_pruning_old_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&dir.path().join("h.sqlite3")).unwrap();
    for (i, room) in ["a", "a", "b", "b"].iter().enumerate() {
        h.add(&line(room, &format!("{i}"), i as i64 * 100, &format!("{room}{i} the-cleared-secret"))).unwrap();
    }
    assert_eq!(h.clear_room("a").unwrap(), 2);
    assert!(h.page("a", None, 10).unwrap().lines.is_empty());
    assert_eq!(h.prune(250).unwrap(), 1);
    assert_eq!(texts(&h.page("b", None, 10).unwrap()), ["b3 the-cleared-secret"]);
    // What was forgotten is not left readable in the file or its log.
    let wal = dir.path().join("h.sqlite3-wal");
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0, "the log was emptied");
    let file = std::fs::read(dir.path().join("h.sqlite3")).unwrap();
    for gone in ["a0 the-cleared", "a1 the-cleared", "b2 the-cleared"] {
        assert!(!file.windows(gone.len()).any(|w| w == gone.as_bytes()), "{gone:?} is still in the file");
    }
    assert!(file.windows(14).any(|w| w == b"b3 the-cleared"), "the kept line is there (the search works)");
}

#[test]
fn a_file_from_the_first_version_opens_with_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    {
        // What version 1 wrote, by hand.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(crate::migrations::STEPS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute_batch(
            "INSERT INTO lines (room, line_id, direction, sender, text, at_ms, via, state)
             VALUES ('lobby', 'old-1', 'received', 'ann', 'from before', 7, 'server', 'received');
             INSERT INTO lines (room, line_id, direction, sender, text, at_ms, via, state)
             VALUES ('lobby', 'w-1', 'received', 'me 2', 'between windows', 8, 'p2p', 'received');
             INSERT INTO lines (room, line_id, direction, sender, text, at_ms, via, state)
             VALUES ('lobby', 'w-1', 'sent', 'me', 'between windows', 8, 'p2p', 'delivered');",
        )
        .unwrap();
    }
    let mut h = History::open(&path).unwrap();
    assert_eq!(h.version().unwrap(), crate::migrations::latest());
    let p = h.page("lobby", None, 10).unwrap();
    assert_eq!(texts(&p), ["between windows", "from before"]);
    assert_eq!(p.lines[0].line.direction, Direction::Sent, "a line two windows saw is kept once, as sent");
    assert_eq!(p.lines[0].line.state, "delivered");
    assert_eq!(p.lines[1].line.sender_key, None);
    // The later versions' tables are there and work.
    h.saw_member("lobby", "sha-256 AA", "ann", 9).unwrap();
    assert_eq!(h.members("lobby", 0).unwrap().len(), 1);
}

#[test]
fn a_new_file_gets_every_step_and_a_newer_file_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    assert_eq!(History::open(&path).unwrap().version().unwrap(), crate::migrations::latest());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    match History::open(&path) {
        Err(HistoryError::TooNew { found: 99, .. }) => {}
        other => panic!("{:?}", other.err()),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "a newer file is never changed");
}

#[test]
fn a_damaged_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let e = History::open(&path).err().expect("a file of junk is not a history");
    assert_eq!(e.kind(), "history_corrupt", "{e}");
}

#[test]
fn a_database_another_program_holds_is_reported_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    drop(History::open(&path).unwrap());
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;").unwrap();
    let e = History::open(&path).err().expect("the other program holds it");
    assert_eq!(e.kind(), "history_locked", "{e}");
}

#[test]
fn a_full_disk_is_its_own_kind() {
    let e = HistoryError::from(std::io::Error::from_raw_os_error(28));
    assert_eq!(e.kind(), "history_full");
    let all = [
        HistoryError::Locked,
        HistoryError::Corrupt(String::new()),
        HistoryError::Full,
        HistoryError::TooNew { found: 2, known: 1 },
        HistoryError::Refused(String::new()),
        HistoryError::Io(String::new()),
    ];
    let kinds: Vec<_> = all.iter().map(HistoryError::kind).collect();
    assert_eq!(kinds, HistoryError::KINDS, "KINDS lists every kind");
}

#[test]
fn a_failure_to_reach_someone_stays_visible_after_another_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(&dir.path().join("h.sqlite3")).unwrap();
    let mut mine = line("lobby", "a-1", 1, "hi all");
    mine.direction = Direction::Sent;
    mine.state = "sent".into();
    h.add(&mine).unwrap();
    assert!(h.set_state("lobby", "a-1", Direction::Sent, "not_delivered").unwrap());
    assert!(!h.mark_delivered("lobby", "a-1").unwrap());
    assert_eq!(h.page("lobby", None, 1).unwrap().lines[0].line.state, "not_delivered");
}
