//! Test support: a real server on 127.0.0.1:0 and a raw WebSocket client that speaks
//! the protocol as any third-party client would, from the JSON up.
#![allow(dead_code)]

pub mod process;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use signal_server::{Config, Server, ServerHandle};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const KEY: &str = "pk_test_x";
pub const WAIT: Duration = Duration::from_secs(5);

/// A server with default settings and `KEY`.
pub async fn server() -> ServerHandle {
    server_with(Config::for_keys(&[KEY])).await
}

pub async fn server_with(cfg: Config) -> ServerHandle {
    Server::spawn(cfg).await.expect("server binds")
}

/// A config built from TOML text (listen on port 0), as an operator would write it.
pub fn config(toml: &str) -> Config {
    let file = signal_server::FileConfig::parse(toml, "test").expect("test config parses");
    Config::build(file, Some("127.0.0.1:0".into()), vec![]).expect("test config is valid")
}

pub fn url(server: &ServerHandle, key: &str) -> String {
    format!("{}?key={key}", server.url())
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Value,
    pub peer_id: String,
    pub token: String,
    next_req: u64,
}

/// An HTTP refusal of the upgrade.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

pub async fn try_connect(url: &str, origin: Option<&str>) -> Result<Client, Refused> {
    let origin: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
    try_connect_with(url, &origin).await
}

/// Connects with extra request headers (`Peerchat-Key`, `Peerchat-Resume`, `Origin`).
pub async fn try_connect_with(url: &str, headers: &[(&str, &str)]) -> Result<Client, Refused> {
    let mut req = url.into_client_request().expect("valid url");
    for (name, value) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        req.headers_mut().insert(name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => {
            let mut c = Client { ws, welcome: Value::Null, peer_id: String::new(), token: String::new(), next_req: 0 };
            let w = c.recv().await;
            assert_eq!(w["type"], "welcome", "first frame is welcome: {w}");
            c.peer_id = w["peerId"].as_str().unwrap().to_string();
            c.token = w["resumeToken"].as_str().unwrap().to_string();
            c.welcome = w;
            Ok(c)
        }
        Err(WsError::Http(resp)) => Err(Refused {
            status: resp.status().as_u16(),
            body: resp.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(),
        }),
        Err(e) => panic!("connect failed: {e}"),
    }
}

pub async fn connect(server: &ServerHandle) -> Client {
    try_connect(&url(server, KEY), None).await.expect("upgrade accepted")
}

pub async fn resume(server: &ServerHandle, token: &str) -> Client {
    try_connect(&format!("{}&resume={token}", url(server, KEY)), None).await.expect("upgrade accepted")
}

impl Client {
    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.expect("send");
    }

    pub async fn send_text(&mut self, s: &str) {
        self.ws.send(Message::text(s.to_string())).await.expect("send");
    }

    /// Next text frame as JSON; panics on close or after `WAIT`.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame within the wait");
            match msg {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).expect("server sends JSON"),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Next frame, asserting its type.
    pub async fn recv_type(&mut self, ty: &str) -> Value {
        let v = self.recv().await;
        assert_eq!(v["type"], ty, "expected {ty}, got {v}");
        v
    }

    /// Reads until the server closes; returns the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next()).await.expect("close within the wait");
            match msg {
                Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
                Some(Ok(Message::Close(None))) => return (u16::from(CloseCode::Status), String::new()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket error before close frame: {e}"),
                None => panic!("stream ended without a close frame"),
            }
        }
    }

    /// Asserts no text frame arrives within `d`.
    pub async fn silent_for(&mut self, d: Duration) {
        if let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(d, self.ws.next()).await {
            panic!("unexpected frame: {t}");
        }
    }

    pub fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    /// Subscribes and returns the snapshot (checks snapshot-then-ack ordering).
    pub async fn subscribe(&mut self, channel: &str, name: &str) -> Value {
        let r = self.req();
        self.send(json!({"type":"subscribe","channel":channel,"name":name,"requestId":r})).await;
        let snap = self.recv_type("presence").await;
        assert_eq!(snap["channel"], channel);
        let ack = self.recv_type("ack").await;
        assert_eq!(ack["requestId"], r);
        snap
    }

    /// Sends a frame with a fresh requestId and returns the reply (ack or error).
    pub async fn request(&mut self, mut frame: Value) -> Value {
        let r = self.req();
        frame["requestId"] = json!(r);
        self.send(frame).await;
        let reply = self.recv().await;
        assert_eq!(reply["requestId"], r, "reply names the request: {reply}");
        reply
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.ws.next()).await {}
    }
}

/// Two clients in `room`, named `a` and `b`; `a` has already read `b`'s `joined`.
pub async fn pair_in(server: &ServerHandle, room: &str, a: &str, b: &str) -> (Client, Client) {
    let mut first = connect(server).await;
    let mut second = connect(server).await;
    first.subscribe(room, a).await;
    second.subscribe(room, b).await;
    first.recv_type("presence").await;
    (first, second)
}

/// Peer ids listed as joined in a presence frame.
pub fn joined(p: &Value) -> Vec<String> {
    p["joined"].as_array().unwrap().iter().map(|e| e["peerId"].as_str().unwrap().to_string()).collect()
}

pub fn left(p: &Value) -> Vec<String> {
    p["left"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect()
}
