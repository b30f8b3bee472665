//! Two apps (each its own data folder) on one machine. What was said is there after an
//! app restarts, with the mark of its delivery; a line said while the other person was
//! away waits for them across a restart of both apps, reaches them when they are back,
//! and its receipt comes home; the per-person bound refuses what does not fit, visibly.
//! A damaged history is reported and the chat goes on.

use std::sync::Arc;

use peerchat_chat::{ChatEvent, MessageKind};
use peerchat_desktop::backend::Backend;
use peerchat_desktop::keystore::{MemoryStore, SecretStore};

use crate::support::{backend_in, free_port, window, Window};

struct Apps {
    keyring: Arc<dyn SecretStore>,
    port: u16,
    ann_dir: tempfile::TempDir,
    ben_dir: tempfile::TempDir,
}

impl Apps {
    fn new() -> Apps {
        Apps {
            keyring: Arc::new(MemoryStore::default()),
            port: free_port(),
            ann_dir: tempfile::tempdir().unwrap(),
            ben_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Starts (or starts again) one app and joins `lobby` as `name` in its main window.
    async fn start(&self, ann: bool) -> (Arc<Backend>, Window, peerchat_desktop::backend::JoinInfo) {
        let (dir, name) = if ann { (&self.ann_dir, "ann") } else { (&self.ben_dir, "ben") };
        let b = backend_in(dir.path(), self.keyring.clone(), self.port);
        b.use_local_server("main", false).await.unwrap();
        let (w, sink) = window("main");
        let info = b.join("main", "lobby", name, sink).await.unwrap();
        (b, w, info)
    }
}

/// Waits until the window knows the other's safety number and its channel is open (in
/// either order).
async fn connected(w: &mut Window) {
    let (mut security, mut channel) = (false, false);
    while !(security && channel) {
        let ev = w
            .wait_for("the safety number and the channel", |e| {
                matches!(e, ChatEvent::Security(_) | ChatEvent::ChannelOpen { .. })
            })
            .await;
        security |= matches!(ev, ChatEvent::Security(_));
        channel |= matches!(ev, ChatEvent::ChannelOpen { .. });
    }
}

async fn chat_line(w: &mut Window, text: &str) -> ChatEvent {
    let what = format!("the line {text:?}");
    w.wait_for(&what, |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, text: t, .. } if t == text)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_the_outbox_survive_restarts_of_both_apps() {
    let apps = Apps::new();
    let (ann, mut aw, _) = apps.start(true).await;
    let (ben, mut bw, _) = apps.start(false).await;
    connected(&mut aw).await;
    connected(&mut bw).await;

    let hello = ann.send_message("main", "hello ben").await.unwrap();
    assert!(hello.waiting.is_empty(), "ben is here");
    chat_line(&mut bw, "hello ben").await;
    aw.wait_for("ben's receipt", |e| matches!(e, ChatEvent::Delivered { id, .. } if *id == hello.sent.id)).await;
    ben.send_message("main", "hi ann").await.unwrap();
    chat_line(&mut aw, "hi ann").await;

    // Ben quits. Ann keeps two lines for him at most.
    let mut s = ann.get_settings();
    s.outbox_per_member = 2;
    ann.set_settings(s).unwrap();
    ben.shutdown().await;
    aw.wait_for("ben leaving", |e| matches!(e, ChatEvent::PeerLeft { .. })).await;
    let later = ann.send_message("main", "see you tomorrow").await.unwrap();
    assert_eq!(later.waiting, ["ben"]);
    assert!(later.sent.p2p.is_empty() && later.sent.server.is_empty());
    let second = ann.send_message("main", "bring the map").await.unwrap();
    assert_eq!(second.waiting, ["ben"]);
    // The join read the bound when it began: a rejoin applies the new one.
    let third = ann.send_message("main", "and the compass").await.unwrap();
    assert_eq!((third.waiting.len(), third.not_kept.len()), (1, 0), "the bound of the session's start (100) holds");

    // Ann's app restarts: the history is there, marks and all, before the new session.
    ann.shutdown().await;
    drop(ann);
    let (ann, mut aw, _) = apps.start(true).await;
    let page = ann.history_page("main", None).await.unwrap();
    let texts: Vec<&str> = page.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["and the compass", "bring the map", "see you tomorrow", "hi ann", "hello ben"]);
    assert!(page.older.is_none());
    let hello_line = &page.lines[4];
    assert!(hello_line.mine && hello_line.state == "delivered", "{hello_line:?}");
    let hi = &page.lines[3];
    assert!(!hi.mine && hi.sender == "ben" && hi.state == "received", "{hi:?}");
    for l in &page.lines[..3] {
        assert_eq!((l.state.as_str(), l.waiting.clone()), ("waiting", vec!["ben".to_string()]), "{l:?}");
        assert_eq!(l.via, "outbox", "nobody was there to take it");
    }
    // Now the bound of 2 is in force: a fourth line is not kept for ben, and says so.
    let fourth = ann.send_message("main", "one too many").await.unwrap();
    assert_eq!((fourth.waiting.clone(), fourth.not_kept.clone()), (vec![], vec!["ben".to_string()]));

    // Ben comes back: the three kept lines reach him, and their receipts come home.
    let (ben, mut bw, _) = apps.start(false).await;
    // (In any order: the chat channel is unordered.)
    let mut kept = vec!["see you tomorrow", "bring the map", "and the compass"];
    while !kept.is_empty() {
        let got = bw.wait_for("a kept line", |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
        let ChatEvent::Message { text, .. } = got else { unreachable!() };
        assert!(kept.contains(&text.as_str()), "{text:?} came, or came twice");
        kept.retain(|t| *t != text);
    }
    let mut ids: Vec<String> = [&later, &second, &third].iter().map(|l| l.sent.id.clone()).collect();
    while !ids.is_empty() {
        let got = aw.wait_for("a kept line's receipt", |e| matches!(e, ChatEvent::Delivered { .. })).await;
        let ChatEvent::Delivered { id, .. } = got else { unreachable!() };
        ids.retain(|i| *i != id);
        assert!(ann.line_waiting("main", &id).await.unwrap().is_empty());
    }
    let page = ann.history_page("main", None).await.unwrap();
    assert!(page.lines.iter().take(3).all(|l| l.state == "delivered" && l.waiting.is_empty()), "{page:?}");
    // The whole history, as another reader of the file sees it (this session's lines
    // too): the line nobody could keep reached no one, and says so.
    let file = peerchat_history::History::open(&apps.ann_dir.path().join("data/history.sqlite3")).unwrap();
    let all = file.page("lobby", None, 50).unwrap();
    let too_many = all.lines.iter().find(|l| l.line.text == "one too many").expect("kept");
    assert_eq!((too_many.line.state.as_str(), too_many.line.via.as_str()), ("not_delivered", "outbox"));
    assert_eq!(all.lines.len(), 6);
    // Ben's own history from before his restart is there too.
    let bens: Vec<String> = ben.history_page("main", None).await.unwrap().lines.into_iter().map(|l| l.text).collect();
    assert_eq!(bens, ["hi ann", "hello ben"]);

    ben.shutdown().await;
    ann.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_history_is_reported_and_the_chat_goes_on() {
    let apps = Apps::new();
    let data = apps.ann_dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("history.sqlite3"), vec![0x5a; 16 * 1024]).unwrap();
    let (ann, mut aw, info) = apps.start(true).await;
    let problem = info.history_problem.expect("the damaged file is reported at join");
    assert_eq!(problem.kind, "history_corrupt", "{problem:?}");
    let (ben, mut bw, _) = apps.start(false).await;
    aw.wait_for("the channel to ben", |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    ann.send_message("main", "still here").await.unwrap();
    chat_line(&mut bw, "still here").await;
    ben.send_message("main", "me too").await.unwrap();
    chat_line(&mut aw, "me too").await;
    assert!(ann.history_page("main", None).await.unwrap().lines.is_empty());
    assert_eq!(ann.clear_history("main").await.unwrap_err().kind, "history_corrupt");
    let before = std::fs::read(data.join("history.sqlite3")).unwrap();
    assert_eq!(before, vec![0x5a; 16 * 1024], "the damaged file is left as it was");
    ben.shutdown().await;
    ann.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_member_gets_every_waiting_line_a_few_at_a_time() {
    let apps = Apps::new();
    let (ann, mut aw, _) = apps.start(true).await;
    let (ben, mut bw, _) = apps.start(false).await;
    connected(&mut aw).await;
    connected(&mut bw).await;
    ben.shutdown().await;
    aw.wait_for("ben leaving", |e| matches!(e, ChatEvent::PeerLeft { .. })).await;
    // More than go out at once (16): the rest follow as receipts come back.
    let mut texts: Vec<String> = (0..40).map(|i| format!("line {i}")).collect();
    for t in &texts {
        assert_eq!(ann.send_message("main", t).await.unwrap().waiting, ["ben"]);
    }
    let (ben, mut bw, _) = apps.start(false).await;
    while !texts.is_empty() {
        let got = bw.wait_for("a kept line", |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
        let ChatEvent::Message { text, written_ms, at_ms, .. } = got else { unreachable!() };
        assert!(written_ms.is_some_and(|w| w <= at_ms), "when it was written comes with it");
        assert!(texts.contains(&text), "{text:?} came, or came twice");
        texts.retain(|t| *t != text);
    }
    let mut receipts = 0;
    while receipts < 40 {
        aw.wait_for("a receipt", |e| matches!(e, ChatEvent::Delivered { .. })).await;
        receipts += 1;
    }
    ben.shutdown().await;
    ann.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_waits_no_longer_than_the_setting() {
    let apps = Apps::new();
    let data = apps.ann_dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(apps.ann_dir.path().join("settings.json"), r#"{"displayName":"ann","outboxDays":2}"#).unwrap();
    // What an earlier run left: two lines waiting for ben, said 3 days and 1 hour ago.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    {
        let mut h = peerchat_history::History::open(&data.join("history.sqlite3")).unwrap();
        for (id, text, ago) in [("old-1", "three days ago", 3 * 86_400_000), ("new-1", "an hour ago", 3_600_000)] {
            let line = peerchat_history::NewLine {
                room: "lobby".into(),
                line_id: id.into(),
                direction: peerchat_history::Direction::Sent,
                sender: "ann".into(),
                sender_key: None,
                text: text.into(),
                at_ms: now - ago,
                via: "outbox".into(),
                state: "waiting".into(),
            };
            h.add(&line).unwrap();
            h.queue("lobby", id, text, now - ago, &[("K-ben".into(), "ben".into())], 100).unwrap();
        }
    }
    let (ann, _aw, _) = apps.start(true).await;
    let page = ann.history_page("main", None).await.unwrap();
    let seen: Vec<(&str, &str, Vec<String>)> =
        page.lines.iter().map(|l| (l.text.as_str(), l.state.as_str(), l.waiting.clone())).collect();
    assert_eq!(
        seen,
        [("an hour ago", "waiting", vec!["ben".to_string()]), ("three days ago", "not_delivered", vec![])],
        "a line older than the 2 days of the setting is given up, visibly"
    );
    ann.shutdown().await;
}
