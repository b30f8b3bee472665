//! The members of a room and the outbox, against a real database file.

use super::*;
use crate::{Direction, NewLine};

fn open() -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap();
    let h = History::open(&dir.path().join("h.sqlite3")).unwrap();
    (dir, h)
}

fn to(who: &[(&str, &str)]) -> Vec<(String, String)> {
    who.iter().map(|(k, n)| (k.to_string(), n.to_string())).collect()
}

#[test]
fn members_are_known_by_key_with_their_latest_name() {
    let (_d, mut h) = open();
    h.saw_member("lobby", "K1", "bob", 100).unwrap();
    h.saw_member("lobby", "K2", "cy", 200).unwrap();
    h.saw_member("lobby", "K1", "bobby", 300).unwrap();
    h.saw_member("other", "K3", "dee", 300).unwrap();
    let m = h.members("lobby", 0).unwrap();
    assert_eq!(
        m.iter().map(|m| (m.key.as_str(), m.name.as_str())).collect::<Vec<_>>(),
        [("K1", "bobby"), ("K2", "cy")]
    );
    assert_eq!(h.members("lobby", 250).unwrap().len(), 1, "members seen too long ago are left out");
    // An earlier sighting never moves the last one back.
    h.saw_member("lobby", "K1", "bobby", 50).unwrap();
    assert_eq!(h.members("lobby", 250).unwrap()[0].last_seen_ms, 300);
}

#[test]
fn a_room_remembers_a_bounded_number_of_members() {
    let (_d, mut h) = open();
    for i in 0..MAX_MEMBERS as i64 + 10 {
        h.saw_member("big", &format!("K{i}"), "x", i).unwrap();
    }
    let m = h.members("big", 0).unwrap();
    assert_eq!(m.len(), MAX_MEMBERS);
    assert_eq!(m.last().unwrap().last_seen_ms, 10, "the members seen longest ago went first");
}

#[test]
fn a_line_waits_for_each_away_member_until_it_reaches_them() {
    let (_d, mut h) = open();
    let q = h.queue("lobby", "a-1", "see you", 10, &to(&[("K1", "bob"), ("K2", "cy")]), 100).unwrap();
    assert!(q.iter().all(|q| q.kept));
    h.queue("lobby", "a-2", "later", 20, &to(&[("K1", "bob")]), 100).unwrap();
    let texts: Vec<_> = h.waiting_for("lobby", "K1", 100).unwrap().into_iter().map(|w| w.text).collect();
    assert_eq!(texts, ["see you", "later"], "oldest first");
    assert_eq!(h.waiting_for("lobby", "K1", 1).unwrap().len(), 1, "as many as asked for");
    assert!(h.waiting_for("other", "K1", 100).unwrap().is_empty());
    assert_eq!(h.delivered("lobby", "a-1", "K1").unwrap(), ["cy"]);
    assert_eq!(h.waiting_names("lobby", "a-1").unwrap(), ["cy"]);
    assert_eq!(h.delivered("lobby", "a-1", "K2").unwrap(), Vec::<String>::new());
    assert_eq!(h.waiting_for("lobby", "K1", 100).unwrap().len(), 1);
    // Nobody waits for a-1 any more: its text is gone from the outbox.
    let left: i64 = h.conn.query_row("SELECT COUNT(*) FROM outbox WHERE line_id = 'a-1'", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0);
}

#[test]
fn a_line_that_was_never_sent_is_taken_back() {
    let (_d, mut h) = open();
    h.queue("lobby", "a-1", "oops", 10, &to(&[("K1", "bob"), ("K2", "cy")]), 100).unwrap();
    h.unqueue("lobby", "a-1").unwrap();
    assert!(h.waiting_for("lobby", "K1", 100).unwrap().is_empty());
    assert!(h.waiting_names("lobby", "a-1").unwrap().is_empty());
}

#[test]
fn a_full_queue_refuses_the_new_line_for_that_member_only() {
    let (_d, mut h) = open();
    for i in 0..3 {
        h.queue("lobby", &format!("a-{i}"), "x", i, &to(&[("K1", "bob")]), 3).unwrap();
    }
    let q = h.queue("lobby", "a-9", "one more", 9, &to(&[("K1", "bob"), ("K2", "cy")]), 3).unwrap();
    assert_eq!(q.iter().map(|q| (q.name.as_str(), q.kept)).collect::<Vec<_>>(), [("bob", false), ("cy", true)]);
    assert_eq!(h.waiting_for("lobby", "K1", 100).unwrap().len(), 3, "nothing of bob's queue was dropped");
    let e = h.queue("lobby", "a-10", &"x".repeat(crate::MAX_TEXT_BYTES + 1), 10, &to(&[("K2", "cy")]), 3);
    assert_eq!(e.unwrap_err().kind(), "history_refused");
}

#[test]
fn lines_too_old_to_wait_expire_and_say_which() {
    let (_d, mut h) = open();
    h.queue("lobby", "a-1", "old", 10, &to(&[("K1", "bob")]), 100).unwrap();
    h.queue("lobby", "a-2", "new", 500, &to(&[("K1", "bob")]), 100).unwrap();
    h.queue("lobby", "a-0", "older", 5, &to(&[("K1", "bob"), ("K2", "cy")]), 100).unwrap();
    let gone = h.expire_outbox(100).unwrap();
    let who: Vec<(&str, &str)> = gone.iter().map(|x| (x.line_id.as_str(), x.name.as_str())).collect();
    assert_eq!(who, [("a-0", "bob"), ("a-0", "cy"), ("a-1", "bob")]);
    assert_eq!(h.waiting_for("lobby", "K1", 100).unwrap().len(), 1);
    assert!(h.waiting_for("lobby", "K2", 100).unwrap().is_empty());
    // Nobody waits for a-1 any more: its text is gone from the outbox.
    let left: i64 = h.conn.query_row("SELECT COUNT(*) FROM outbox WHERE line_id = 'a-1'", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0);
}

#[test]
fn a_page_says_whom_our_lines_still_wait_for() {
    let (_d, mut h) = open();
    let mine = NewLine {
        room: "lobby".into(),
        line_id: "a-1".into(),
        direction: Direction::Sent,
        sender: "ann".into(),
        sender_key: None,
        text: "see you".into(),
        at_ms: 10,
        via: "p2p".into(),
        state: "waiting".into(),
    };
    h.add(&mine).unwrap();
    h.queue("lobby", "a-1", "see you", 10, &to(&[("K1", "bob")]), 100).unwrap();
    assert_eq!(h.page("lobby", None, 10).unwrap().lines[0].waiting, ["bob"]);
    h.delivered("lobby", "a-1", "K1").unwrap();
    assert!(h.page("lobby", None, 10).unwrap().lines[0].waiting.is_empty());
}
