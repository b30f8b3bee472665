//! Files between chat-cli processes: a 200 MiB file arrives verified by its SHA-256
//! while the signalling server is killed and started again mid-way (the received count
//! never goes back to zero); a transfer goes on after its receiver is killed and started
//! again with the same `--state-dir`; `/decline` and `/cancel` from either side end both
//! sides' transfers, and a cancelled file stays a `.part`.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::servers::*;
use support::*;
use tokio::process::Command;

/// A chat-cli in room "lobby" with extra arguments.
async fn cli(url: &str, name: &str, extra: &[&str]) -> Cli {
    let mut cmd = Command::new(BIN);
    cmd.args(["--url", url, "--key", KEY, "--room", "lobby", "--name", name, "--json"]).args(extra);
    Cli::spawn(cmd).await
}

fn write_file(path: &Path, size: usize) -> String {
    let mut data = vec![0u8; size];
    let mut x = 0x9e3779b9u32;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    std::fs::write(path, &data).unwrap();
    Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect()
}

fn file_sha(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_file_arrives_verified_across_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, src) = (dir.path().join("inbox"), dir.path().join("film.mkv"));
    let sha = write_file(&src, 200 << 20);
    let cfg = dir.path().join("server.toml");
    std::fs::write(
        &cfg,
        format!("[server]\nsecret = \"files-restart-secret-0123456789\"\n[[keys]]\nkey = \"{KEY}\"\n"),
    )
    .unwrap();
    let port = peerchat_testkit::ports::free_tcp_port();
    let mut server = start_server(&cfg, port).await;
    let url = format!("ws://127.0.0.1:{port}/v1");
    let mut a = cli(&url, "alice", &[]).await;
    let mut b = cli(&url, "bob", &["--accept-files", &inbox.to_string_lossy()]).await;
    a.expect("channel-open", |_| true).await;
    b.expect("channel-open", |_| true).await;

    a.say(&format!("/send {}", src.display())).await;
    let sent = a.expect("file-sending", |_| true).await;
    let offer = b.expect("file-offer", |_| true).await;
    assert_eq!(offer["id"], sent["id"]);
    assert_eq!((offer["name"].as_str(), offer["size"].as_u64()), (Some("film.mkv"), Some(200 << 20)));
    // Some way in, the server dies and comes back.
    b.expect_within(Duration::from_secs(60), "file-progress", |v| v["bytes"].as_u64() > Some(8 << 20)).await;
    kill(server.id().unwrap(), "-KILL");
    let _ = server.wait().await;
    server = start_server(&cfg, port).await;
    let mut lowest = u64::MAX;
    let seen =
        events_until(&mut b, Duration::from_secs(300), |v| v["event"] == "file-done" || v["event"] == "file-failed")
            .await;
    for v in &seen {
        if v["event"] == "file-progress" {
            lowest = lowest.min(v["bytes"].as_u64().unwrap());
        }
    }
    let done = seen.last().unwrap();
    assert_eq!(done["event"], "file-done", "{done}");
    assert_eq!(done["sha256"], Value::String(sha.clone()));
    assert!(lowest >= 8 << 20, "the count never went back (lowest {lowest})");
    let path = done["path"].as_str().unwrap();
    assert_eq!(Path::new(path), inbox.join("film.mkv"));
    assert_eq!(file_sha(Path::new(path)), sha, "the file on disk has the sender's hash");
    let mine = a.expect_within(Duration::from_secs(30), "file-done", |_| true).await;
    assert_eq!(mine["sha256"], Value::String(sha));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_goes_on_after_its_receiver_is_killed_and_started_again() {
    let s = signal_server::Server::spawn(config("")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (inbox, src, state) = (dir.path().join("inbox"), dir.path().join("disk.img"), dir.path().join("bob-state"));
    let sha = write_file(&src, 160 << 20);
    let bob_args =
        ["--accept-files", &inbox.to_string_lossy(), "--state-dir", &state.to_string_lossy()].map(String::from);
    let bob_args: Vec<&str> = bob_args.iter().map(String::as_str).collect();
    let mut a = cli(&s.url(), "alice", &[]).await;
    let mut b = cli(&s.url(), "bob", &bob_args).await;
    a.expect("channel-open", |_| true).await;
    b.expect("channel-open", |_| true).await;
    a.say(&format!("/send {}", src.display())).await;
    let id = a.expect("file-sending", |_| true).await["id"].clone();
    b.expect_within(Duration::from_secs(60), "file-progress", |v| v["bytes"].as_u64() > Some(8 << 20)).await;
    // A crash: no chance to say anything or tidy up.
    kill(b.child.id().unwrap(), "-KILL");
    let _ = b.child.wait().await;
    let mut b = cli(&s.url(), "bob", &bob_args).await;
    let kept = b.expect("file-restored", |_| true).await;
    assert_eq!(kept["id"], id, "{kept}");
    let from = kept["bytes"].as_u64().unwrap();
    assert!(from >= 8 << 20, "kept from the last confirm point before the crash ({kept})");
    let seen =
        events_until(&mut b, Duration::from_secs(300), |v| v["event"] == "file-done" || v["event"] == "file-failed")
            .await;
    let lowest = seen.iter().filter(|v| v["event"] == "file-progress").filter_map(|v| v["bytes"].as_u64()).min();
    let done = seen.last().unwrap();
    assert_eq!(done["event"], "file-done", "{done}");
    assert_eq!(done["sha256"], Value::String(sha.clone()));
    assert!(lowest.is_none_or(|l| l >= from), "never back below the kept bytes ({lowest:?})");
    assert_eq!(file_sha(Path::new(done["path"].as_str().unwrap())), sha);
    assert_eq!(a.expect_within(Duration::from_secs(30), "file-done", |_| true).await["sha256"], Value::String(sha));
    assert_eq!(std::fs::read_dir(state.join("transfers")).unwrap().count(), 0, "the record is gone");
}

/// The id of the next file offered to `b`.
async fn offer_id(b: &mut Cli) -> String {
    let o = b.expect("file-offer", |_| true).await;
    o["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_and_cancel_from_either_side() {
    let s = signal_server::Server::spawn(config("")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (inbox, src) = (dir.path().join("inbox"), dir.path().join("notes.txt"));
    write_file(&src, 40 << 20);
    let (mut a, mut b) = pair(&s.url()).await;

    a.say(&format!("/send {} bob", src.display())).await;
    let id = offer_id(&mut b).await;
    b.say(&format!("/decline {id}")).await;
    let f = a.expect("file-failed", |_| true).await;
    assert_eq!((f["kind"].as_str(), f["direction"].as_str()), (Some("declined"), Some("send")));

    a.say(&format!("/send {}", src.display())).await;
    let id = offer_id(&mut b).await;
    b.say(&format!("/accept {id} {}", inbox.display())).await;
    b.expect("file-progress", |v| v["bytes"].as_u64() > Some(0)).await;
    b.say(&format!("/cancel {id}")).await;
    let f = b.expect("file-failed", |_| true).await;
    assert_eq!(f["kind"], "cancelled");
    assert!(f["part"].as_str().unwrap().ends_with("notes.txt.part"));
    assert!(!inbox.join("notes.txt").exists(), "a cancelled file is never shown as complete");
    assert_eq!(a.expect("file-failed", |_| true).await["kind"], "cancelled_by_peer");

    a.say(&format!("/send {}", src.display())).await;
    let id = offer_id(&mut b).await;
    b.say(&format!("/accept {id} {}", inbox.display())).await;
    a.expect("file-progress", |v| v["bytes"].as_u64() > Some(0)).await;
    a.say(&format!("/cancel {id}")).await;
    assert_eq!(a.expect("file-failed", |_| true).await["kind"], "cancelled");
    assert_eq!(b.expect("file-failed", |_| true).await["kind"], "cancelled_by_peer");
    a.say("/cancel nosuchid").await;
    assert_eq!(a.expect("error", |_| true).await["kind"], "unknown_transfer");
    assert_eq!(a.finish().await, 0);
    assert_eq!(b.finish().await, 0);
}
