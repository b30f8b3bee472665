//! Files between two chat sessions over real WebRTC: a file arrives verified with the
//! sender's SHA-256 and lands under a name nothing else had; a transfer crosses a forced
//! rebuild of the connection and resumes (the received count never goes back to zero);
//! declines and cancels from either side end both sides' transfers; hostile offers from a
//! raw SDK peer are refused or cleaned, and nothing is written outside the folder.

mod support;

use std::path::Path;
use std::time::Duration;

use peerchat_chat::{ChatConfig, ChatEvent, ChatEvents, ChatSession, Direction};
use peerchat_peer::{
    ChannelInit, DataChannelOptions, Message, Peer, PeerEvent, PeerOptions, PeerState, PublishableKey,
};
use sha2::{Digest, Sha256};
use signal_server::config::Config;
use signal_server::server::{Server, ServerHandle};
use support::{next_matching, WAIT};

const KEY: &str = "pk_files";

fn opts(server: &ServerHandle) -> PeerOptions {
    let mut o = PeerOptions::new(server.url(), PublishableKey::new(KEY));
    o.engine.udp_addrs = vec!["127.0.0.1:0".into()];
    o
}

/// Two sessions in one room with their chat channels open; bob keeps files in `dir`.
async fn pair(server: &ServerHandle, dir: &Path) -> ((ChatSession, ChatEvents), (ChatSession, ChatEvents)) {
    let (a, mut ae) = ChatSession::start(ChatConfig::new(opts(server), "room", "alice")).await.unwrap();
    let mut cfg = ChatConfig::new(opts(server), "room", "bob");
    cfg.files.download_dir = Some(dir.to_path_buf());
    let (b, mut be) = ChatSession::start(cfg).await.unwrap();
    next_matching(&mut ae, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    next_matching(&mut be, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    ((a, ae), (b, be))
}

fn file_of(dir: &Path, name: &str, size: usize) -> (std::path::PathBuf, String) {
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 253) as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    let sha: String = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    (path, sha)
}

fn offer_id(e: &ChatEvent) -> Option<String> {
    match e {
        ChatEvent::FileOffer { id, .. } => Some(id.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_arrives_verified_under_a_fresh_name_and_the_sender_sees_it_verified() {
    let server = Server::spawn(Config::for_keys(&[KEY])).await.unwrap();
    let (out_dir, in_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ((a, mut ae), (b, mut be)) = pair(&server, in_dir.path()).await;
    let (path, sha) = file_of(out_dir.path(), "report.pdf", 3 * 1024 * 1024 + 17);
    std::fs::write(in_dir.path().join("report.pdf"), b"bob's own").unwrap();
    let sent = a.send_file(&path, None).await.unwrap();
    assert_eq!(sent.len(), 1);
    let offer = next_matching(&mut be, |e| matches!(e, ChatEvent::FileOffer { .. })).await;
    let ChatEvent::FileOffer { id, name, size, .. } = offer else { unreachable!() };
    assert_eq!((id.as_str(), name.as_str(), size), (sent[0].id.as_str(), "report.pdf", 3 * 1024 * 1024 + 17));
    b.accept_file(&id, None).await.unwrap();
    let done = next_matching(&mut be, |e| matches!(e, ChatEvent::FileDone { .. } | ChatEvent::FileFailed { .. })).await;
    let ChatEvent::FileDone { path: Some(got), sha256, direction: Direction::Receive, .. } = done else {
        panic!("{done:?}")
    };
    assert_eq!(sha256, sha);
    assert_eq!(Path::new(&got), in_dir.path().join("report (1).pdf"));
    let on_disk: String = Sha256::digest(std::fs::read(&got).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(on_disk, sha);
    assert_eq!(std::fs::read(in_dir.path().join("report.pdf")).unwrap(), b"bob's own", "never replaced");
    let mine = next_matching(&mut ae, |e| matches!(e, ChatEvent::FileDone { .. } | ChatEvent::FileFailed { .. })).await;
    assert!(
        matches!(&mine, ChatEvent::FileDone { sha256, direction: Direction::Send, .. } if *sha256 == sha),
        "{mine:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_resumes_after_a_forced_rebuild_without_starting_over() {
    let server = Server::spawn(Config::for_keys(&[KEY])).await.unwrap();
    let (out_dir, in_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ((a, mut ae), (b, mut be)) = pair(&server, in_dir.path()).await;
    let (path, sha) = file_of(out_dir.path(), "big.bin", 48 * 1024 * 1024);
    a.send_file(&path, None).await.unwrap();
    let id = offer_id(&next_matching(&mut be, |e| offer_id(e).is_some()).await).unwrap();
    b.accept_file(&id, None).await.unwrap();
    // Once some megabytes are in, the connection is rebuilt under the transfer.
    let progressed = |e: &ChatEvent| matches!(e, ChatEvent::FileProgress { bytes, direction: Direction::Receive, .. } if *bytes >= 4 << 20);
    next_matching(&mut be, progressed).await;
    let bob = a.peer().remotes().await.into_iter().next().unwrap();
    bob.rebuild().await;
    // Everything bob reports afterwards: the count never drops to zero again.
    let mut lowest = u64::MAX;
    let mut saw_reconnect = false;
    let done = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match be.next().await.expect("events go on") {
                ChatEvent::FileProgress { bytes, .. } => lowest = lowest.min(bytes),
                ChatEvent::StateChange { to: PeerState::Reconnecting, .. } => saw_reconnect = true,
                e @ (ChatEvent::FileDone { .. } | ChatEvent::FileFailed { .. }) => return e,
                _ => {}
            }
        }
    })
    .await
    .expect("the transfer ends");
    assert!(saw_reconnect, "the connection was rebuilt under the transfer");
    assert!(lowest >= 1 << 20, "resumed from a confirm point, not from zero (lowest {lowest})");
    let ChatEvent::FileDone { sha256, .. } = done else { panic!("{done:?}") };
    assert_eq!(sha256, sha);
    next_matching(&mut ae, |e| matches!(e, ChatEvent::FileDone { .. })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_and_cancelling_end_the_transfer_on_both_sides() {
    let server = Server::spawn(Config::for_keys(&[KEY])).await.unwrap();
    let (out_dir, in_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ((a, mut ae), (b, mut be)) = pair(&server, in_dir.path()).await;
    let (path, _) = file_of(out_dir.path(), "x.bin", 20 * 1024 * 1024);
    let kind_of = |e: &ChatEvent| match e {
        ChatEvent::FileFailed { kind, .. } => Some(kind.clone()),
        _ => None,
    };

    a.send_file(&path, None).await.unwrap();
    let id = offer_id(&next_matching(&mut be, |e| offer_id(e).is_some()).await).unwrap();
    b.decline_file(&id).await.unwrap();
    assert_eq!(kind_of(&next_matching(&mut ae, |e| kind_of(e).is_some()).await).unwrap(), "declined");
    assert_eq!(kind_of(&next_matching(&mut be, |e| kind_of(e).is_some()).await).unwrap(), "declined");

    // The receiver cancels mid-way: the sender hears of it; the part stays a part.
    a.send_file(&path, None).await.unwrap();
    let id = offer_id(&next_matching(&mut be, |e| offer_id(e).is_some()).await).unwrap();
    b.accept_file(&id, None).await.unwrap();
    next_matching(&mut be, |e| matches!(e, ChatEvent::FileProgress { bytes, .. } if *bytes > 0)).await;
    b.cancel_file(&id).await.unwrap();
    assert_eq!(kind_of(&next_matching(&mut ae, |e| kind_of(e).is_some()).await).unwrap(), "cancelled_by_peer");
    let ev = next_matching(&mut be, |e| kind_of(e).is_some()).await;
    let ChatEvent::FileFailed { kind, part: Some(part), .. } = ev else { panic!("{ev:?}") };
    assert_eq!(kind, "cancelled");
    assert!(part.ends_with("x.bin.part") && Path::new(&part).exists());
    assert!(!in_dir.path().join("x.bin").exists(), "never shown as complete");

    // The sender cancels mid-way.
    a.send_file(&path, None).await.unwrap();
    let id = offer_id(&next_matching(&mut be, |e| offer_id(e).is_some()).await).unwrap();
    b.accept_file(&id, None).await.unwrap();
    next_matching(&mut ae, |e| matches!(e, ChatEvent::FileProgress { bytes, .. } if *bytes > 0)).await;
    a.cancel_file(&id).await.unwrap();
    assert_eq!(kind_of(&next_matching(&mut be, |e| kind_of(e).is_some()).await).unwrap(), "cancelled_by_peer");
    assert_eq!(kind_of(&next_matching(&mut ae, |e| kind_of(e).is_some()).await).unwrap(), "cancelled");
    assert!(b.cancel_file(&id).await.is_err(), "an ended transfer is gone");
}

/// A raw SDK peer that offers whatever it likes on `file` channels. It keeps the
/// channels bob opens to it (unread): closing them at once can make bob's engine fail
/// them and rebuild the connection (issue 18), which would take our channels along.
async fn mallory(server: &ServerHandle) -> (Peer, peerchat_peer::RemotePeer, peerchat_peer::IncomingChannels) {
    let (m, mut events) = Peer::new(opts(server));
    m.join("room", "mallory").await.unwrap();
    let r = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(PeerEvent::PeerJoined(r, channels)) = events.next().await {
                return (r, channels);
            }
        }
    })
    .await
    .unwrap();
    let (r, channels) = r;
    assert!(tokio::time::timeout(WAIT, r.wait_for(PeerState::Connected)).await.unwrap());
    tokio::spawn(async move { while events.next().await.is_some() {} });
    (m, r, channels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_offers_are_refused_or_cleaned_and_nothing_lands_outside_the_folder() {
    support::logs();
    let server = Server::spawn(Config::for_keys(&[KEY])).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let inbox = root.path().join("inbox");
    let mut cfg = ChatConfig::new(opts(&server), "room", "bob");
    cfg.files.download_dir = Some(inbox.clone());
    cfg.files.auto_accept = true;
    cfg.files.max_size = 1 << 20;
    let (_b, mut be) = ChatSession::start(cfg).await.unwrap();
    let (_m, r, _bobs_channels) = mallory(&server).await;
    // Bob's chat channel to mallory is open before mallory's first file channel.
    next_matching(&mut be, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    let offer =
        |id: &str, name: &str, size: i64| format!(r#"{{"type":"offer","id":"{id}","name":"{name}","size":{size}}}"#);
    let cases = [(offer("t1", "../../x", 3), "x"), (offer("t2", "a\\u0000b\\u001b[2J.txt", 3), "ab[2J.txt")];
    let refused = [
        offer("t3", "big", 1 << 21),
        offer("t4", "neg", -1),
        r#"{"type":"offer","id":"../t5","name":"x","size":1}"#.to_string(),
        r#"{"type":"offer","id":"t6","name":"x","size":1,"resume":true}"#.to_string(),
        r#"{"type":"accept","id":"t7","offset":0}"#.to_string(),
    ];
    // Every channel is opened before any closes: a channel opened while another is being
    // closed can get a stream id still being reset and never open (an engine fault,
    // issue 18; the SDK then rebuilds the connection, which would end them all).
    // Each carries its first message at once (bob closes a file channel that says nothing
    // for 10 s).
    let mut channels = Vec::new();
    let firsts = cases.iter().map(|(json, _)| json.clone()).chain(refused.iter().cloned());
    for json in firsts.collect::<Vec<_>>() {
        let (dc, replies) =
            r.open_channel("file", ChannelInit::reliable(), DataChannelOptions::default()).await.unwrap();
        dc.opened().await.unwrap();
        channels.push((dc, replies, json));
    }
    for (dc, _, json) in &channels {
        dc.send(json.clone()).await.unwrap();
    }
    let mut channels = channels.into_iter();
    for _ in 0..cases.len() {
        let (dc, mut replies, json) = channels.next().unwrap();
        let id = json_id(&json);
        // Accepted (auto): the bytes, then a wrong hash; bob answers `done`, not ok.
        let accept = tokio::time::timeout(WAIT, replies.recv()).await.unwrap().unwrap();
        assert!(matches!(&accept, Message::Text(t) if t.contains(r#""type":"accept""#)), "{accept:?}");
        dc.send(Message::Binary(b"abc".to_vec())).await.unwrap();
        dc.send(format!(r#"{{"type":"end","id":"{id}","sha256":"{}"}}"#, "0".repeat(64))).await.unwrap();
        let verdict = tokio::time::timeout(WAIT, async {
            loop {
                match replies.recv().await {
                    Some(Message::Text(t)) if t.contains(r#""type":"done""#) => return t,
                    Some(_) => continue,
                    None => panic!("closed before its verdict"),
                }
            }
        })
        .await
        .unwrap();
        assert!(verdict.contains(r#""ok":false"#), "{verdict}");
    }
    for (_dc, mut replies, json) in channels {
        // Declined with a reason, or the channel closed: never accepted.
        let reply = tokio::time::timeout(WAIT, replies.recv()).await.unwrap();
        assert!(
            !matches!(&reply, Some(Message::Text(t)) if t.contains(r#""type":"accept""#)),
            "{json} was accepted: {reply:?}"
        );
    }
    // What bob reported: the two offers under their cleaned names, each failed on its
    // hash; the refused ones failed as offers (the one that was not an offer is silent).
    let mut offered = Vec::new();
    let mut kinds = std::collections::BTreeMap::new();
    while kinds.len() < 5 {
        match next_matching(&mut be, |e| matches!(e, ChatEvent::FileOffer { .. } | ChatEvent::FileFailed { .. })).await
        {
            ChatEvent::FileOffer { name, .. } => offered.push(name),
            ChatEvent::FileFailed { id, kind, .. } => drop(kinds.insert(id, kind)),
            _ => unreachable!(),
        }
    }
    offered.sort();
    assert_eq!(offered, ["ab[2J.txt", "x"]);
    let kinds: Vec<(&str, &str)> = kinds.iter().map(|(i, k)| (i.as_str(), k.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("t1", "hash_mismatch"),
            ("t2", "hash_mismatch"),
            ("t3", "too_large"),
            ("t6", "bad_offer"),
            ("../t5", "bad_offer")
        ]
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    // Only the cleaned partial files, inside the folder.
    let mut names: Vec<String> =
        std::fs::read_dir(&inbox).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["ab[2J.txt.part", "x.part"]);
    let outside: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(outside, [std::ffi::OsString::from("inbox")]);
}

/// The `id` of a JSON message a test wrote.
fn json_id(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["id"].as_str().unwrap().to_string()
}
