//! The `signal-server` binary as scripts use it: the command line, the first stdout
//! line, exit codes, config errors, JSON logs, SIGTERM drain, SIGHUP key reload, and
//! the key never appearing in any log line.

mod support;
use serde_json::json;
use std::process::Command;
use std::time::Duration;
use support::*;

use support::process::*;

#[test]
fn without_keys_it_refuses_to_start_with_exit_2() {
    let out = Command::new(BIN).args(["--listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no publishable key"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_config_with_unknown_fields_is_an_error_with_exit_2() {
    let dir = std::env::temp_dir().join(format!("sigsrv-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:0\"\nmystery = true\n").unwrap();
    let out = Command::new(BIN).args(["--config", path.to_str().unwrap(), "--key", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mystery"));
    let out = Command::new(BIN).args(["--config", "/nonexistent/x.toml", "--key", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_bad_listen_address_is_a_clear_error() {
    let out = Command::new(BIN).args(["--listen", "localhost", "--key", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"));
}

#[tokio::test]
async fn sigterm_drains_with_going_away_and_exits_0_within_5s() {
    let r = start(&["--listen", "127.0.0.1:0", "--key", "pk_test_x"], &[]);
    let mut a = try_connect(&format!("{}?key=pk_test_x", r.url), None).await.unwrap();
    a.subscribe("lobby", "a").await;
    signal(&r.child, "-TERM");
    assert_eq!(a.recv_type("going_away").await["type"], "going_away");
    assert_eq!(a.closed().await.0, 1001);
    a.close().await;
    let (code, _, took) = stop_waited(r);
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn the_key_never_appears_in_logs_even_at_trace_level() {
    let secret = "pk_live_Zx9Q-never-log-me";
    for format in ["text", "json"] {
        let r = start(&["--listen", "127.0.0.1:0", "--key", secret, "--log-format", format], &[("RUST_LOG", "trace")]);
        let mut a = try_connect(&format!("{}?key={secret}", r.url), None).await.unwrap();
        a.subscribe("lobby", "a").await;
        let mut b = try_connect(&format!("{}?key={secret}&resume={}", r.url, a.token), None).await.unwrap();
        b.recv_type("presence").await;
        b.send_text("garbage").await;
        b.recv_type("error").await;
        b.request(json!({"type":"publish","channel":"lobby","data":{"k":secret}})).await;
        let _ = try_connect(&format!("{}?key={secret}x", r.url), None).await;
        b.close().await;
        let (code, logs, _) = stop(r);
        assert_eq!(code, 0);
        assert!(logs.lines().count() > 5, "trace logging produced output: {logs}");
        let leak: Vec<&str> = logs.lines().filter(|l| l.contains("Zx9Q")).collect();
        assert!(leak.is_empty(), "{format} logs leak the key: {leak:?}");
        assert!(!logs.contains("Zx9Q"), "{format} logs leak part of the key");
        if format == "json" {
            for line in logs.lines() {
                serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            }
        }
    }
}

#[tokio::test]
async fn sighup_reloads_keys_from_the_config_file() {
    let dir = std::env::temp_dir().join(format!("sigsrv-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keys.toml");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:0\"\n[[keys]]\nkey = \"pk_old\"\n").unwrap();
    let r = start(&["--config", path.to_str().unwrap()], &[]);
    let mut old = try_connect(&format!("{}?key=pk_old", r.url), None).await.unwrap();
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:0\"\n[[keys]]\nkey = \"pk_new\"\n").unwrap();
    signal(&r.child, "-HUP");
    assert_eq!(old.closed().await.0, 4001);
    try_connect(&format!("{}?key=pk_new", r.url), None).await.expect("new key accepted");
    let refused = try_connect(&format!("{}?key=pk_old", r.url), None).await.err().unwrap();
    assert_eq!(refused.status, 401);
    assert_eq!(stop(r).0, 0);
}

#[tokio::test]
async fn sigint_drains_like_sigterm() {
    let r = start(&["--listen", "127.0.0.1:0", "--key", "pk_test_x"], &[]);
    let mut a = try_connect(&format!("{}?key=pk_test_x", r.url), None).await.unwrap();
    signal(&r.child, "-INT");
    assert_eq!(a.recv_type("going_away").await["type"], "going_away");
    assert_eq!(a.closed().await.0, 1001);
    a.close().await;
    assert_eq!(stop_waited(r).0, 0);
}

#[test]
fn operator_listen_serves_healthz_from_the_binary() {
    use std::io::{Read, Write};
    let r = start(&["--listen", "127.0.0.1:0", "--operator-listen", "127.0.0.1:0", "--key", "pk_op"], &[]);
    r.wait_for_log("operator port");
    let logs = r.seen.lock().unwrap().clone();
    let line = logs.lines().find(|l| l.contains("operator port")).unwrap();
    let addr = line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("ok\n"), "{answer}");
    let (code, _, _) = stop(r);
    assert_eq!(code, 0);
}
