//! The operator port: `GET /healthz` for load balancers (200 while serving) and
//! `GET /metrics` (Prometheus text). A separate listener, meant for a private address,
//! with a minimal HTTP/1.1 reader: one request per connection, its head bounded in size
//! and time, then the connection closes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::HubHandle;

/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request head.
const READ_WAIT: Duration = Duration::from_secs(5);
/// Operator requests served at once; more wait in the listen queue.
const MAX_CONCURRENT: usize = 16;

/// Serves the operator port until shutdown.
pub(crate) async fn run(listener: TcpListener, hub: HubHandle, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => match a {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "operator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let hub = hub.clone();
        tracker.spawn(async move {
            let _ = tokio::time::timeout(READ_WAIT * 2, answer(stream, &hub)).await;
            drop(permit);
        });
    }
    tracker.close();
    tracker.wait().await;
}

async fn answer(mut stream: TcpStream, hub: &HubHandle) {
    let Some(path) = read_request(&mut stream).await else {
        let _ = respond(&mut stream, "400 Bad Request", "text/plain", "bad request\n").await;
        return;
    };
    let _ = match path {
        Get::Healthz => respond(&mut stream, "200 OK", "text/plain", "ok\n").await,
        Get::Metrics => {
            let mut text = hub.metrics().render(&hub.stats().await);
            if let Some(c) = hub.cluster_metrics() {
                c.render(&mut text);
            }
            respond(&mut stream, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &text).await
        }
        Get::Other => respond(&mut stream, "404 Not Found", "text/plain", "not found\n").await,
    };
}

enum Get {
    Healthz,
    Metrics,
    Other,
}

/// Reads the request head; `None` when it is not a complete `GET` head in time.
async fn read_request(stream: &mut TcpStream) -> Option<Get> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 || head.len() + n > MAX_HEAD {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(READ_WAIT, read).await.ok()??;
    let line = std::str::from_utf8(&head).ok()?.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if method != "GET" || !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    Some(match target.split('?').next() {
        Some("/healthz") => Get::Healthz,
        Some("/metrics") => Get::Metrics,
        _ => Get::Other,
    })
}

async fn respond(stream: &mut TcpStream, status: &str, kind: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
