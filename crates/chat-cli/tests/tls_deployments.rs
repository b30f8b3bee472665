//! chat-cli over `wss://` in the two ways a server is deployed: the server terminating
//! TLS itself, and a real nginx terminating TLS in front of a plain server. The
//! certificates come from a CA made for the test, trusted through the system store's
//! standard override (`SSL_CERT_FILE`) or through `--ca-file`.

mod support;

use std::time::{Duration, Instant};

use peerchat_testkit::nginx::Nginx;
use peerchat_testkit::ports::free_tcp_port;
use peerchat_testkit::tls::{TestCa, Validity};
use signal_server::tls::TlsFiles;
use signal_server::Server;
use support::*;
use tokio::process::Command;

fn cli(url: &str, name: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--url", url, "--key", KEY, "--room", "lobby", "--name", name, "--json"]).args(extra);
    cmd
}

async fn chat_both_ways(a: &mut Cli, b: &mut Cli) {
    a.expect("channel-open", |_| true).await;
    b.expect("channel-open", |_| true).await;
    a.say("over wss, one way").await;
    assert_eq!(fate(a, b, "over wss, one way", Some("p2p"), WAIT).await, Fate::Delivered);
    b.say("over wss, the other way").await;
    assert_eq!(fate(b, a, "over wss, the other way", Some("p2p"), WAIT).await, Fate::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_through_a_server_terminating_tls_trusted_by_the_system_store() {
    let ca = TestCa::new("peerchat test CA");
    let cert = ca.issue("server", &["localhost"], Validity::Current);
    let mut cfg = config("");
    cfg.tls = Some(TlsFiles { cert: cert.cert, key: cert.key });
    let s = Server::spawn(cfg).await.unwrap();
    let url = format!("wss://localhost:{}/v1", s.addr().port());
    let mut peers = Vec::new();
    for name in ["alice", "bob"] {
        let mut cmd = cli(&url, name, &[]);
        cmd.env("SSL_CERT_FILE", ca.ca_file());
        peers.push(Cli::spawn(cmd).await);
    }
    let (mut a, mut b) = (peers.remove(0), peers.remove(0));
    chat_both_ways(&mut a, &mut b).await;
    assert_eq!(a.finish().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_server_ends_chat_cli_with_a_tls_error_promptly() {
    let ca = TestCa::new("a CA nobody trusts");
    let cert = ca.issue("server", &["localhost"], Validity::Current);
    let mut cfg = config("");
    cfg.tls = Some(TlsFiles { cert: cert.cert, key: cert.key });
    let s = Server::spawn(cfg).await.unwrap();
    let url = format!("wss://localhost:{}/v1", s.addr().port());
    let t = Instant::now();
    let out = cli(&url, "eve", &[]).stdin(std::process::Stdio::null()).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let err: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(err["event"], "error");
    assert_eq!(err["kind"], "tls", "{err}");
    assert!(err["message"].as_str().unwrap().contains("not signed by a trusted authority"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_to_another_host_needs_the_flag() {
    let out =
        cli("ws://peerchat.invalid:8787/v1", "eve", &[]).stdin(std::process::Stdio::null()).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"kind\":\"plaintext_refused\""), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_through_nginx_terminating_tls_and_the_key_stays_out_of_its_log() {
    let ca = TestCa::new("peerchat test CA");
    let cert = ca.issue("proxy", &["localhost"], Validity::Current);
    let upstream = Server::spawn(config("")).await.unwrap();
    let port = free_tcp_port();
    let nginx = Nginx::start(&peerchat_testkit::nginx::websocket_proxy(port, &cert, upstream.addr().port()), port);
    let url = format!("wss://localhost:{port}/v1");
    let ca_file = ca.ca_file().display().to_string();
    let mut a = Cli::spawn(cli(&url, "alice", &["--ca-file", &ca_file])).await;
    let mut b = Cli::spawn(cli(&url, "bob", &["--ca-file", &ca_file])).await;
    chat_both_ways(&mut a, &mut b).await;
    assert_eq!(a.finish().await, 0);
    drop(b);
    let log = nginx.access_log();
    assert!(log.contains("GET /v1 HTTP/1.1\" 101"), "both upgrades are in nginx's log:\n{log}");
    assert!(!log.contains(KEY) && !log.contains("key="), "the key reached nginx's access log:\n{log}");
}
