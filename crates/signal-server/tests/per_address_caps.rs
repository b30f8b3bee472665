//! Caps per client address: one address cannot take every connection slot (HTTP 429
//! beyond `max_connections_per_ip`) nor hold unauthenticated handshakes open (closed at
//! once beyond `max_handshakes_per_ip`); behind a trusted proxy (a real nginx here) the
//! client its `X-Forwarded-For` names is counted, not the proxy.

mod support;
use std::time::Instant;

use peerchat_testkit::nginx::Nginx;
use peerchat_testkit::ports::free_tcp_port;
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A server whose loopback clients are counted (no trusted proxy), with `fields`.
fn counted(fields: &str) -> signal_server::Config {
    config(&format!("[server]\ntrusted_proxies = []\n{fields}\n[[keys]]\nkey = \"pk_test_x\""))
}

/// Retries `try_connect` until it is accepted (a closed socket's slot is given back
/// when its task ends, just after the close).
async fn connects_soon(url: &str, headers: &[(&str, &str)]) -> Client {
    let deadline = Instant::now() + WAIT;
    loop {
        match try_connect_with(url, headers).await {
            Ok(c) => return c,
            Err(r) if Instant::now() < deadline => assert_eq!(r.status, 429, "{r:?}"),
            Err(r) => panic!("still refused after {WAIT:?}: {r:?}"),
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn connections_beyond_the_per_address_cap_get_429_and_a_slot_frees_on_close() {
    let s = server_with(counted("max_connections_per_ip = 2")).await;
    let a = connect(&s).await;
    let _b = connect(&s).await;
    let refused = try_connect(&url(&s, KEY), None).await.err().expect("a third connection is refused");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body, r#"{"error":"too_many_connections_from_address"}"#);
    a.close().await;
    connects_soon(&url(&s, KEY), &[]).await;
}

#[tokio::test]
async fn handshakes_beyond_the_per_address_cap_are_closed_at_once() {
    let s = server_with(counted("max_handshakes_per_ip = 2\nhandshake_timeout_secs = 60")).await;
    // Two sockets that say nothing: handshakes in progress.
    let first = TcpStream::connect(s.addr()).await.unwrap();
    let _second = TcpStream::connect(s.addr()).await.unwrap();
    let mut third = TcpStream::connect(s.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, third.read(&mut buf)).await.expect("closed well before the timeout");
    assert!(matches!(read, Ok(0) | Err(_)), "the third socket is closed without a response: {read:?}");
    // A handshake in progress completes normally, and its slot frees.
    let req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url(&s, KEY)).unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(req, first).await.expect("the first handshake completes");
    let welcome = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws)).await.unwrap().unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains("\"welcome\""), "{welcome:?}");
    connect(&s).await;
}

#[tokio::test]
async fn a_trusted_proxy_is_not_capped_but_the_client_it_names_is() {
    let s = server_with(config(
        "[server]\nmax_connections_per_ip = 1\nmax_handshakes_per_ip = 1\ntrusted_proxies = [\"127.0.0.0/8\"]\n\
         [[keys]]\nkey = \"pk_test_x\"",
    ))
    .await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    let _a = try_connect_with(&url(&s, KEY), &from("203.0.113.9, 198.51.100.4")).await.unwrap();
    let again = try_connect_with(&url(&s, KEY), &from("198.51.100.4")).await.err().expect("same client");
    assert_eq!(again.status, 429);
    try_connect_with(&url(&s, KEY), &from("198.51.100.5")).await.expect("another client");
    // Without the header the proxy's request is not counted at all.
    connect(&s).await;
    connect(&s).await;
}

#[tokio::test]
async fn behind_a_real_nginx_every_client_is_counted_by_its_own_address() {
    // Loopback is a trusted proxy by default; nginx adds X-Forwarded-For.
    let s = server_with(config("[server]\nmax_connections_per_ip = 1\n[[keys]]\nkey = \"pk_test_x\"")).await;
    let port = free_tcp_port();
    let body = format!(
        "map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
         server {{\n  listen 127.0.0.1:{port};\n  location = /v1 {{\n\
         proxy_pass http://{upstream};\n    proxy_http_version 1.1;\n\
         proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection $connection_upgrade;\n\
         proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n  }}\n}}\n",
        upstream = s.addr(),
    );
    let _nginx = Nginx::start(&body, port);
    let through = format!("ws://127.0.0.1:{port}/v1?key={KEY}");
    let _a = try_connect(&through, None).await.expect("the first client through nginx");
    let refused = try_connect(&through, None).await.err().expect("nginx named the same client (127.0.0.1)");
    assert_eq!(refused.status, 429);
    // Straight from loopback, without the header: the proxy's own connections are free.
    connect(&s).await;
}
