//! The operator port: `/healthz` answers 200 while serving, `/metrics` counts what the
//! server sees (gauges from the hub, frames by type, 4011 closes), anything else is 404
//! and a malformed request 400. Nothing of it is on the client port.

mod support;
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(addr: std::net::SocketAddr, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut all = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut all)).await.expect("answered").unwrap();
    let (head, body) = all.split_once("\r\n\r\n").expect("a head and a body");
    (head.lines().next().unwrap().to_string(), body.to_string())
}

fn sample(text: &str, series: &str) -> u64 {
    let line =
        text.lines().find(|l| l.starts_with(&format!("{series} "))).unwrap_or_else(|| panic!("{series}: {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn healthz_and_metrics_tell_an_operator_what_the_server_holds() {
    let s = server_with(config("[server]\noperator_listen = \"127.0.0.1:0\"\n[[keys]]\nkey = \"pk_test_x\"")).await;
    let op = s.operator_addr().expect("operator port bound");
    assert_eq!(get(op, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await, ("HTTP/1.1 200 OK".into(), "ok\n".into()));

    let (mut w, mut a) = pair_in(&s, "lobby", "w", "a").await;
    assert_eq!(a.request(json!({"type":"publish","channel":"lobby","data":1})).await["type"], "ack");
    w.recv_type("message").await;
    let (status, text) = get(op, "GET /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(sample(&text, "peerchat_connections"), 2);
    assert_eq!(sample(&text, "peerchat_sessions"), 2);
    assert_eq!(sample(&text, "peerchat_rooms"), 1);
    assert_eq!(sample(&text, "peerchat_frames_in_total{type=\"subscribe\"}"), 2);
    assert_eq!(sample(&text, "peerchat_frames_in_total{type=\"publish\"}"), 1);
    assert!(sample(&text, "peerchat_frames_out_total") >= 6, "{text}");

    // A burst over the rate: the close is counted.
    for _ in 0..260 {
        let ping = tokio_tungstenite::tungstenite::Message::text(r#"{"type":"ping"}"#);
        if futures_util::SinkExt::send(&mut a.ws, ping).await.is_err() {
            break;
        }
    }
    assert_eq!(a.closed().await.0, 4011);
    let (_, text) = get(op, "GET /metrics HTTP/1.0\r\n\r\n").await;
    assert_eq!(sample(&text, "peerchat_rate_limit_closes_total"), 1, "{text}");

    assert_eq!(get(op, "GET /v1 HTTP/1.1\r\n\r\n").await.0, "HTTP/1.1 404 Not Found");
    assert_eq!(get(op, "POST /metrics HTTP/1.1\r\n\r\n").await.0, "HTTP/1.1 400 Bad Request");
    // The client port does not serve them.
    let mut c = TcpStream::connect(s.addr()).await.unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(WAIT, c.read_to_end(&mut got)).await;
    assert!(!String::from_utf8_lossy(&got).contains("peerchat_"), "metrics on the client port");
}
