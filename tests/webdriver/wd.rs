//! A small WebDriver client (W3C protocol, JSON over HTTP/1.1 on loopback): just what
//! the app tests use. One request per connection; errors carry the driver's message.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

#[derive(Debug)]
pub struct WdError(pub String);

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, WdError>;

async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
    let io = |e: std::io::Error| WdError(format!("{method} {path}: {e}"));
    let mut s = TcpStream::connect(addr).await.map_err(io)?;
    let body = body.map(Value::to_string).unwrap_or_default();
    // No `Connection: close`: tauri-driver forwards it to WebKitWebDriver, and a pooled
    // connection closed that way sometimes ends the next request with no reply at all.
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.map_err(io)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_len, status, length, chunked) = loop {
        let n = s.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            return Err(WdError(format!("{method} {path}: no reply ({} bytes)", buf.len())));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let status: u16 = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()));
            break (i + 4, status, length, head.contains("transfer-encoding: chunked"));
        }
    };
    loop {
        let have = buf.len() - head_len;
        let done = match length {
            Some(l) => have >= l,
            None => chunked && buf.ends_with(b"0\r\n\r\n"),
        };
        if done {
            break;
        }
        let n = s.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let rest = String::from_utf8_lossy(&buf[head_len..]).to_string();
    let payload = if chunked { unchunk(&rest) } else { rest };
    let v: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
    Ok((status, v))
}

fn unchunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((len, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// One WebDriver session (one app process).
pub struct Session {
    addr: SocketAddr,
    id: String,
}

impl Session {
    /// Starts the app at `app` with `args` through the driver at `addr`.
    pub async fn start(addr: SocketAddr, app: &str, args: &[&str]) -> Result<Session> {
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app, "args": args}}}});
        let (status, v) = http(addr, "POST", "/session", Some(&caps)).await?;
        let id = v["value"]["sessionId"].as_str().map(str::to_string);
        match id {
            Some(id) if status == 200 => Ok(Session { addr, id }),
            _ => Err(WdError(format!("new session failed ({status}): {v}"))),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let full = format!("/session/{}{path}", self.id);
        let (status, v) = http(self.addr, method, &full, body.as_ref()).await?;
        if status != 200 {
            return Err(WdError(format!("{method} {path} ({status}): {}", v["value"])));
        }
        Ok(v["value"].clone())
    }

    /// Runs `script` in the current window and returns its result.
    pub async fn js(&self, script: &str, args: Value) -> Result<Value> {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Runs an async script: it gets a callback as its last argument.
    pub async fn js_async(&self, script: &str, args: Value) -> Result<Value> {
        self.call("POST", "/execute/async", Some(json!({"script": script, "args": args}))).await
    }

    async fn find(&self, css: &str) -> Result<String> {
        let v = self.call("POST", "/element", Some(json!({"using": "css selector", "value": css}))).await?;
        v[ELEMENT].as_str().map(str::to_string).ok_or_else(|| WdError(format!("no element {css}")))
    }

    /// Clicks the element with `data-testid` = `id`.
    pub async fn click(&self, id: &str) -> Result<()> {
        let e = self.find(&tid(id)).await?;
        self.call("POST", &format!("/element/{e}/click"), Some(json!({}))).await.map(|_| ())
    }

    /// Clears the input and types `text` into it (`\u{E007}` is Enter).
    pub async fn type_into(&self, id: &str, text: &str) -> Result<()> {
        let e = self.find(&tid(id)).await?;
        self.call("POST", &format!("/element/{e}/clear"), Some(json!({}))).await?;
        self.call("POST", &format!("/element/{e}/value"), Some(json!({"text": text}))).await.map(|_| ())
    }

    /// Sends `keys` to the element with `data-testid` = `id` as they are (no clearing):
    /// `\u{E007}` is Enter, `\u{E00C}` Escape, `\u{E004}` Tab.
    pub async fn keys(&self, id: &str, keys: &str) -> Result<()> {
        let e = self.find(&tid(id)).await?;
        self.call("POST", &format!("/element/{e}/value"), Some(json!({"text": keys}))).await.map(|_| ())
    }

    /// The `data-testid` of the focused element (empty when it has none).
    pub async fn focused(&self) -> Result<String> {
        let v = self
            .js("return (document.activeElement && document.activeElement.dataset.testid) || ''", json!([]))
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The visible text of the element with `data-testid` = `id`.
    pub async fn text(&self, id: &str) -> Result<String> {
        let e = self.find(&tid(id)).await?;
        Ok(self.call("GET", &format!("/element/{e}/text"), None).await?.as_str().unwrap_or_default().to_string())
    }

    /// Whether the element with `data-testid` = `id` is shown (not `hidden`).
    pub async fn visible(&self, id: &str) -> Result<bool> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return !!e && !e.closest('[hidden]');",
                json!([tid(id)]),
            )
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    pub async fn handles(&self) -> Result<Vec<String>> {
        let v = self.call("GET", "/window/handles", None).await?;
        Ok(v.as_array().map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_string)).collect()).unwrap_or_default())
    }

    pub async fn switch_to(&self, handle: &str) -> Result<()> {
        self.call("POST", "/window", Some(json!({"handle": handle}))).await.map(|_| ())
    }

    /// The current window's outer size (width, height).
    pub async fn window_size(&self) -> Result<(i64, i64)> {
        let v = self.call("GET", "/window/rect", None).await?;
        Ok((v["width"].as_i64().unwrap_or_default(), v["height"].as_i64().unwrap_or_default()))
    }

    /// Resizes the current window.
    pub async fn set_window_size(&self, width: i64, height: i64) -> Result<()> {
        self.call("POST", "/window/rect", Some(json!({"width": width, "height": height}))).await.map(|_| ())
    }

    /// The text of an open `alert()`, if any.
    pub async fn alert_text(&self) -> Option<String> {
        self.call("GET", "/alert/text", None).await.ok().and_then(|v| v.as_str().map(str::to_string))
    }

    /// Saves a PNG of the current window.
    pub async fn screenshot(&self, path: &std::path::Path) -> Result<()> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| WdError(e.to_string()))?;
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, png).map_err(|e| WdError(e.to_string()))
    }

    /// Ends the session: the app quits.
    pub async fn quit(self) {
        let _ = self.call("DELETE", "", None).await;
    }
}

fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// Waits until `f` returns `Some`, polling; panics with `what` after `within`.
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    let mut last = String::new();
    loop {
        match f().await {
            Ok(Some(v)) => return v,
            Ok(None) => {}
            Err(e) => last = e.0,
        }
        if start.elapsed() > within {
            panic!("{what}: not within {within:?} (last error: {last})");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
