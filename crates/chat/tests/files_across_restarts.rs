//! A file transfer outlives a restart of either side: each session keeps its certificate
//! and its transfers in a state folder, as the app and `chat-cli --state-dir` do. The
//! receiver's session ends mid-way and a new one starts in its place: it announces the
//! kept transfer from the partial file's last confirm point, and the sender (who waited)
//! goes on from there. Then the sender's session ends and a new one takes the transfer
//! back, hashes the file again up to where the receiver is, and goes on. The file
//! arrives verified with the sender's SHA-256, and no count ever goes back to zero.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use peerchat_chat::{ChatConfig, ChatEvent, ChatEvents, ChatSession, Direction};
use peerchat_peer::{PeerOptions, PublishableKey};
use sha2::{Digest, Sha256};
use signal_server::config::Config;
use signal_server::server::{Server, ServerHandle};
use support::next_matching;

const KEY: &str = "pk_files_restart";
/// Long enough for a restart of each side in a debug build on loopback.
const SIZE: usize = 160 << 20;

/// A session named `name` whose certificate and transfers are kept in `state`.
async fn session(server: &ServerHandle, state: &Path, name: &str, inbox: Option<&Path>) -> (ChatSession, ChatEvents) {
    let mut o = PeerOptions::new(server.url(), PublishableKey::new(KEY));
    o.engine.udp_addrs = vec!["127.0.0.1:0".into()];
    o.certificate = Some(peerchat_peer::identity::load_or_create(&state.join("dtls.pem")).unwrap().0);
    let mut cfg = ChatConfig::new(o, "room", name);
    cfg.files.state_dir = Some(state.join("transfers"));
    if let Some(dir) = inbox {
        cfg.files.download_dir = Some(dir.to_path_buf());
        cfg.files.auto_accept = true;
    }
    ChatSession::start(cfg).await.unwrap()
}

fn file_of(dir: &Path) -> (PathBuf, String) {
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 13 % 251) as u8).collect();
    let path = dir.join("film.mkv");
    std::fs::write(&path, &data).unwrap();
    (path, Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect())
}

/// The receiver's progress reached `at` bytes.
fn reached(at: u64) -> impl Fn(&ChatEvent) -> bool {
    move |e| matches!(e, ChatEvent::FileProgress { bytes, direction: Direction::Receive, .. } if *bytes >= at)
}

/// The kept transfer a new session announced: its id and how many bytes it has.
fn restored(e: &ChatEvent) -> Option<(String, u64)> {
    match e {
        ChatEvent::FileRestored { id, bytes, .. } => Some((id.clone(), *bytes)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_goes_on_after_the_receiver_and_then_the_sender_restart() {
    let server = Server::spawn(Config::for_keys(&[KEY])).await.unwrap();
    let (a_state, b_state, inbox, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (path, sha) = file_of(files.path());
    let (a, mut ae) = session(&server, a_state.path(), "alice", None).await;
    let (b, mut be) = session(&server, b_state.path(), "bob", Some(inbox.path())).await;
    next_matching(&mut ae, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    next_matching(&mut be, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    let id = a.send_file(&path, None).await.unwrap().remove(0).id;

    // The receiver restarts once a few megabytes are in.
    next_matching(&mut be, reached(4 << 20)).await;
    b.leave().await;
    drop(be);
    let (b, mut be) = session(&server, b_state.path(), "bob", Some(inbox.path())).await;
    let (kept, from) = restored(&next_matching(&mut be, |e| restored(e).is_some()).await).unwrap();
    assert_eq!(kept, id, "the same transfer, kept");
    assert!(from >= 1 << 20, "kept from a confirm point, not from zero ({from})");
    next_matching(&mut be, reached(from + (8 << 20))).await;

    // Then the sender restarts.
    a.leave().await;
    drop(ae);
    let (a, mut ae) = session(&server, a_state.path(), "alice", None).await;
    let (kept, _) = restored(&next_matching(&mut ae, |e| restored(e).is_some()).await).unwrap();
    assert_eq!(kept, id);

    let mut lowest = u64::MAX;
    let done = tokio::time::timeout(Duration::from_secs(180), async {
        loop {
            match be.next().await.expect("events go on") {
                ChatEvent::FileProgress { bytes, .. } => lowest = lowest.min(bytes),
                e @ (ChatEvent::FileDone { .. } | ChatEvent::FileFailed { .. }) => return e,
                _ => {}
            }
        }
    })
    .await
    .expect("the transfer ends");
    let ChatEvent::FileDone { sha256, path: Some(got), .. } = done else { panic!("{done:?}") };
    assert!(lowest > from, "never back to zero after the sender's restart (lowest {lowest})");
    assert_eq!(sha256, sha);
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(&got).unwrap(), &mut hasher).unwrap();
    let on_disk: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(on_disk, sha, "the saved file is the sender's");
    let mine = next_matching(&mut ae, |e| matches!(e, ChatEvent::FileDone { .. } | ChatEvent::FileFailed { .. })).await;
    assert!(matches!(&mine, ChatEvent::FileDone { sha256, .. } if *sha256 == sha), "{mine:?}");
    // Both folders forget a transfer that ended.
    for state in [a_state.path(), b_state.path()] {
        assert_eq!(std::fs::read_dir(state.join("transfers")).unwrap().count(), 0);
    }
    a.leave().await;
    b.leave().await;
}
