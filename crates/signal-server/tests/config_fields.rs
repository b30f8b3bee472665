//! Each `[server]` field changes behaviour as documented (the defaults are exercised by
//! the other test files).

mod support;
use futures_util::StreamExt;
use std::time::Duration;
use support::*;
use tokio::io::AsyncReadExt;

fn with_server(fields: &str) -> signal_server::Config {
    config(&format!("[server]\n{fields}\n[[keys]]\nkey = \"pk_test_x\""))
}

#[tokio::test(start_paused = true)]
async fn grace_period_secs_sets_how_long_a_dropped_peer_stays() {
    let s = server_with(with_server("grace_period_secs = 5")).await;
    let (mut a, b) = pair_in(&s, "lobby", "a", "b").await;
    let id = b.peer_id.clone();
    b.close().await;
    let t = tokio::time::Instant::now();
    let next = tokio::time::timeout(Duration::from_secs(60), a.ws.next()).await.unwrap().unwrap().unwrap();
    let delta: serde_json::Value = serde_json::from_str(next.to_text().unwrap()).unwrap();
    assert_eq!(left(&delta), vec![id]);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_secs(5) && waited < Duration::from_secs(6), "{waited:?}");
}

#[tokio::test]
async fn grace_period_zero_ends_sessions_at_once() {
    let s = server_with(with_server("grace_period_secs = 0")).await;
    let (mut a, b) = pair_in(&s, "lobby", "a", "b").await;
    let id = b.peer_id.clone();
    b.close().await;
    assert_eq!(left(&a.recv_type("presence").await), vec![id]);
}

#[tokio::test(start_paused = true)]
async fn ping_interval_and_idle_timeout_are_configurable() {
    let s = server_with(with_server("ping_interval_secs = 2\nidle_timeout_secs = 5")).await;
    let mut a = connect(&s).await;
    let t = tokio::time::Instant::now();
    let first = a.ws.next().await.unwrap().unwrap();
    assert!(first.is_ping());
    assert!(t.elapsed() >= Duration::from_secs(2) && t.elapsed() < Duration::from_secs(3));
    // Stop reading (no pongs): dropped at the first tick at or after 5 s of silence.
    let mut watcher = connect(&s).await;
    // The watcher keeps reading, which answers the server's pings.
    tokio::spawn(async move { while let Some(Ok(_)) = watcher.ws.next().await {} });
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(s.stats().await.connections, 1, "only the reading client is left");
    drop(a);
}

#[tokio::test]
async fn going_away_retry_ms_is_announced_at_shutdown() {
    let s = server_with(with_server("going_away_retry_ms = 250")).await;
    let mut a = connect(&s).await;
    s.shutdown();
    assert_eq!(a.recv_type("going_away").await["retryAfterMs"], 250);
}

#[tokio::test]
async fn max_invalid_in_a_row_sets_the_policy_close() {
    let s = server_with(with_server("max_invalid_in_a_row = 3")).await;
    let mut a = connect(&s).await;
    for _ in 0..3 {
        a.send_text("nope").await;
    }
    a.recv_type("error").await;
    a.recv_type("error").await;
    a.recv_type("error").await;
    assert_eq!(a.closed().await.0, 1008);
}

#[tokio::test]
async fn handshake_timeout_secs_drops_sockets_that_never_upgrade() {
    let s = server_with(with_server("handshake_timeout_secs = 1")).await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    let t = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await.expect("closed in time");
    assert_eq!(n.unwrap_or(0), 0, "closed without a response");
    assert!(t.elapsed() >= Duration::from_millis(900), "{:?}", t.elapsed());
}

#[tokio::test]
async fn resume_token_ttl_secs_bounds_restoring_after_a_restart() {
    let toml = "grace_period_secs = 0\nresume_token_ttl_secs = 1\nsecret = \"0123456789abcdef-ttl\"";
    let first = server_with(with_server(toml)).await;
    let a = connect(&first).await;
    first.shutdown();
    first.stopped().await;
    let second = server_with(with_server(toml)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a2 = resume(&second, &a.token).await;
    assert_eq!(a2.welcome["resumed"], false, "an expired token starts a fresh session");
    let b = connect(&second).await;
    let third = server_with(with_server(toml)).await;
    let b2 = resume(&third, &b.token).await;
    assert_eq!((b2.welcome["resumed"].clone(), b2.peer_id.clone()), (serde_json::json!(true), b.peer_id.clone()));
}
