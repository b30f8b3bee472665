//! Instances as real processes sharing a real redis-server: one drained with SIGTERM
//! hands its clients over (they resume on another instance; nobody sees them leave), one
//! killed with SIGKILL is noticed through its heartbeat, and its peers leave after the
//! grace period unless they resumed elsewhere.

mod support;

use std::time::Duration;

use peerchat_testkit::redis::Redis;
use serde_json::json;
use support::process::{self, Running};
use support::*;

/// Instances that are killed when the test ends, however it ends.
struct Instances(Vec<Running>);

impl Drop for Instances {
    fn drop(&mut self) {
        for r in &mut self.0 {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

/// Starts `n` instances of one cluster with a `grace_secs` grace period.
fn instances(redis: &Redis, n: usize, grace_secs: u64) -> (tempfile::TempDir, Instances) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    let toml = format!(
        "[server]\nsecret = \"a-shared-secret-of-the-cluster\"\ngrace_period_secs = {grace_secs}\n\
         [cluster]\nredis = \"{}\"\nheartbeat_ms = 100\ninstance_ttl_ms = 500\ndrain_secs = 5\n\
         [[keys]]\nkey = \"{KEY}\"\n",
        redis.url()
    );
    std::fs::write(&path, toml).unwrap();
    let p = path.display().to_string();
    let started = (0..n).map(|_| process::start(&["--config", &p, "--listen", "127.0.0.1:0"], &[])).collect();
    (dir, Instances(started))
}

fn key_url(r: &Running) -> String {
    format!("{}?key={KEY}", r.url)
}

async fn client(r: &Running) -> Client {
    try_connect(&key_url(r), None).await.expect("upgrade accepted")
}

/// Subscribes to "lobby" and reads presence until each of `others` is in it.
async fn join_seeing(c: &mut Client, name: &str, others: &[&str]) {
    let r = c.req();
    c.send(json!({"type":"subscribe","channel":"lobby","name":name,"requestId":r})).await;
    let mut seen: Vec<String> = Vec::new();
    let mut acked = false;
    while !acked || others.iter().any(|o| !seen.iter().any(|s| s == o)) {
        let f = c.recv().await;
        match f["type"].as_str() {
            Some("presence") => seen.extend(joined(&f)),
            Some("ack") => acked = true,
            _ => panic!("unexpected {f}"),
        }
    }
}

#[tokio::test]
async fn a_drained_instance_hands_its_clients_over_and_nobody_sees_them_leave() {
    let redis = Redis::start();
    let (_dir, mut procs) = instances(&redis, 2, 30);
    let mut a = client(&procs.0[0]).await;
    let mut b = client(&procs.0[1]).await;
    join_seeing(&mut a, "ada", &[]).await;
    join_seeing(&mut b, "bob", &[&a.peer_id]).await;
    join_seeing(&mut a, "ada", &[&b.peer_id]).await;

    let drained = procs.0.pop().unwrap();
    process::signal(&drained.child, "-TERM");
    let going = b.recv_type("going_away").await;
    assert!(going["retryAfterMs"].as_u64().is_some(), "{going}");
    assert_eq!(b.closed().await.0, 1001);
    // b does what the SDK does: reconnect (here straight to the other instance, as the
    // load balancer would) and resume.
    let resumed = try_connect(&format!("{}&resume={}", key_url(&procs.0[0]), b.token), None).await.unwrap();
    assert_eq!(resumed.welcome["resumed"], true, "{}", resumed.welcome);
    assert_eq!(resumed.peer_id, b.peer_id);
    let (code, logs, _) = process::stop_waited(drained);
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("drain finished") && logs.contains("sessions_left=0"), "{logs}");
    // a saw neither a leave nor a join (a `joined` re-announce would be a flap too).
    a.silent_for(Duration::from_millis(300)).await;
    let reply = a.request(json!({"type":"send","to":b.peer_id,"data":"still here?"})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
}

#[tokio::test]
async fn a_killed_instance_is_noticed_and_its_peers_leave_after_the_grace_period_unless_they_resume() {
    let redis = Redis::start();
    let (_dir, mut procs) = instances(&redis, 2, 1);
    let mut a = client(&procs.0[0]).await;
    let mut b = client(&procs.0[1]).await;
    let mut c = client(&procs.0[1]).await;
    join_seeing(&mut a, "ada", &[]).await;
    join_seeing(&mut b, "bob", &[&a.peer_id]).await;
    join_seeing(&mut c, "cy", &[&a.peer_id, &b.peer_id]).await;
    join_seeing(&mut a, "ada", &[&b.peer_id, &c.peer_id]).await;

    let killed = procs.0.pop().unwrap();
    let t = std::time::Instant::now();
    process::signal(&killed.child, "-KILL");
    let (code, _, _) = process::stop_waited(killed);
    assert_eq!(code, -1, "killed by a signal");
    // b comes back on the surviving instance; c does not.
    let b2 = try_connect(&format!("{}&resume={}", key_url(&procs.0[0]), b.token), None).await.unwrap();
    assert_eq!((b2.peer_id.as_str(), b2.welcome["resumed"].as_bool()), (b.peer_id.as_str(), Some(true)));
    // c leaves after the instance's heartbeat lapsed (0.5 s) and the grace period (1 s).
    let p = a.recv_type("presence").await;
    assert_eq!(left(&p), vec![c.peer_id.clone()], "only the peer that did not resume leaves: {p}");
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(1_000), "not before the grace period: {took:?}");
    drop((b, c));
}
