//! The embedded signalling server, started the way the app starts it, answers on
//! 127.0.0.1 and cannot be reached through this machine's other addresses, and no web
//! page can talk to it.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::{app, routed_address};

#[tokio::test]
async fn embedded_server_is_loopback_only() {
    let (t, _store) = app();
    let status = t.backend.use_local_server("main", false).await.unwrap();
    let port: u16 = status.server_url.rsplit(':').next().unwrap().trim_end_matches("/v1").parse().unwrap();
    let wait = Duration::from_secs(2);
    assert!(TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), wait).is_ok(), "loopback answers");
    let other = SocketAddr::new(routed_address(), port);
    let err = match TcpStream::connect_timeout(&other, wait) {
        Ok(_) => panic!("the embedded server answered on {other}"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{other}: {err}");
    t.backend.shutdown().await;
}

/// A web page open in a browser on this machine cannot probe or flood the embedded
/// server: an upgrade with an `Origin` header is refused (403) before its key is read.
#[tokio::test]
async fn embedded_server_refuses_web_pages() {
    use std::io::{Read, Write};
    let (t, _store) = app();
    let status = t.backend.use_local_server("main", false).await.unwrap();
    let port: u16 = status.server_url.rsplit(':').next().unwrap().trim_end_matches("/v1").parse().unwrap();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let req = format!(
            "GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: cGVlcmNoYXQtcHJvYmUtMQ==\r\nOrigin: https://evil.example\r\n\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains(r#"{"error":"browser_not_allowed"}"#), "{answer}");
    t.backend.shutdown().await;
}
