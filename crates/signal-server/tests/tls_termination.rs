//! The binary terminating TLS itself: `--tls-cert`/`--tls-key` serve `wss://`; SIGHUP
//! swaps in a new certificate for new handshakes while open connections carry on; bad
//! files refuse to start with a clear error, and a bad reload keeps the old certificate.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use peerchat_testkit::tls::{ServerCert, TestCa, Validity};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use support::process::*;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Wss = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;

/// A TLS handshake with `port` trusting only `ca`; the rustls error on failure.
async fn handshake(port: u16, ca: &TestCa) -> Result<TlsStream<TcpStream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())
}

/// A WebSocket over TLS, with the key in the `Peerchat-Key` header.
async fn wss(port: u16, ca: &TestCa) -> Wss {
    let tls = handshake(port, ca).await.expect("TLS handshake");
    let mut req = format!("wss://localhost:{port}/v1").into_client_request().unwrap();
    req.headers_mut().insert("peerchat-key", "pk_tls".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, tls).await.expect("upgrade");
    let welcome = next_text(&mut ws).await;
    assert!(welcome.contains("\"welcome\""), "{welcome}");
    ws
}

async fn next_text(ws: &mut Wss) -> String {
    let deadline = Duration::from_secs(5);
    loop {
        match tokio::time::timeout(deadline, ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

fn install(from: &ServerCert, to: &Path) {
    std::fs::copy(&from.cert, to.join("live.pem")).unwrap();
    std::fs::copy(&from.key, to.join("live.key")).unwrap();
}

fn port_of(url: &str) -> u16 {
    url.trim_start_matches("wss://127.0.0.1:").trim_end_matches("/v1").parse().unwrap()
}

#[tokio::test]
async fn sighup_swaps_the_certificate_and_open_connections_carry_on() {
    let (old_ca, new_ca) = (TestCa::new("old CA"), TestCa::new("new CA"));
    let dir = tempfile::tempdir().unwrap();
    install(&old_ca.issue("old", &["localhost"], Validity::Current), dir.path());
    let (cert, key) = (dir.path().join("live.pem"), dir.path().join("live.key"));
    let r = start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--key",
            "pk_tls",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(r.url.starts_with("wss://"), "{}", r.url);
    let port = port_of(&r.url);
    let mut open = wss(port, &old_ca).await;
    assert!(handshake(port, &new_ca).await.unwrap_err().contains("UnknownIssuer"));

    // A reload with a broken key file keeps the old certificate.
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n").unwrap();
    signal(&r.child, "-HUP");
    // Two SIGHUPs close together may be handled as one: let the first be seen.
    r.wait_for_log("TLS reload failed; keeping the current certificate");
    install(&new_ca.issue("new", &["localhost"], Validity::Current), dir.path());
    signal(&r.child, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while handshake(port, &new_ca).await.is_err() {
        assert!(Instant::now() < deadline, "the new certificate was not served within 10 s of SIGHUP");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(handshake(port, &old_ca).await.unwrap_err().contains("UnknownIssuer"));
    wss(port, &new_ca).await;
    // The connection made before the reload still works.
    open.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert!(next_text(&mut open).await.contains("\"pong\""));

    let (code, logs, _) = stop(r);
    assert_eq!(code, 0);
    assert!(logs.contains("TLS reload failed; keeping the current certificate"), "{logs}");
    assert!(logs.contains("TLS certificate and key reloaded"), "{logs}");
    assert!(!logs.contains("not base64"), "key file content in the log: {logs}");
}

#[test]
fn unusable_tls_files_refuse_to_start_with_a_clear_error() {
    let ca = TestCa::new("CA");
    let good = ca.issue("good", &["localhost"], Validity::Current);
    let other = ca.issue("other", &["localhost"], Validity::Current);
    let missing = ca.dir().join("missing.pem");
    for (cert, key, expect) in [
        (&missing, &good.key, "TLS certificate"),
        (&good.cert, &missing, "TLS key"),
        (&good.cert, &other.key, "cannot be used together"),
    ] {
        let out = std::process::Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--key", "pk_tls", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(expect), "{expect}: {err}");
        assert!(out.stdout.is_empty(), "no ready line");
    }
    let out = std::process::Command::new(BIN).args(["--key", "pk_tls", "--tls-cert"]).arg(&good.cert).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--tls-cert without --tls-key is a usage error");
}
