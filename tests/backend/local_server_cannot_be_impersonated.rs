//! The local server on its fixed port: another program that holds the port (it got there
//! first, or in the moment between one app process quitting and another taking over)
//! never receives the key, however it answers; and the resume-token secret is random and
//! kept in the keyring, so the key alone forges no session.

use std::sync::{Arc, Mutex};

use peerchat_desktop::keystore::{MemoryStore, SecretStore};
use peerchat_peer::PublishableKey;
use signal_server::token::{TokenClaims, TokenSigner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{app, app_with};

/// A program on a loopback port that answers like a peerchat server to anything without
/// a key (401 `invalid_key`, what the old check accepted) and with a made-up proof to a
/// challenge; returns its port and everything it was sent.
async fn impostor() -> (u16, Arc<Mutex<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = Arc::new(Mutex::new(String::new()));
    let log = heard.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut n = 0;
                while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(r) => n += r,
                    }
                }
                let req = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                log.lock().unwrap().push_str(&req);
                let (status, body) = if req.contains("peerchat-challenge") {
                    ("401 Unauthorized", format!(r#"{{"error":"invalid_key","proofs":["{}"]}}"#, "ab".repeat(32)))
                } else {
                    ("401 Unauthorized", r#"{"error":"invalid_key"}"#.to_string())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (port, heard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_on_the_port_that_cannot_prove_the_key_never_receives_it() {
    let (port, heard) = impostor().await;
    let store = MemoryStore::default();
    let t = app_with(Arc::new(store.clone()), port);
    let err = t.backend.use_local_server("main", false).await.unwrap_err();
    assert_eq!(err.kind, "local_server", "{err:?}");
    let (_, sink) = crate::support::window("main");
    let err = t.backend.join("main", "lobby", "ann", sink).await.unwrap_err();
    assert_eq!(err.kind, "local_server", "{err:?}");

    let key = store.get(&format!("ws://127.0.0.1:{port}/v1")).unwrap().expect("the local key was provisioned");
    let heard = heard.lock().unwrap().clone();
    assert!(heard.contains("peerchat-challenge"), "the app asked for a proof: {heard}");
    assert!(!heard.contains(&key.expose().to_lowercase()), "the impostor was sent the key: {heard}");
}

/// The SDK itself, reconnecting to the local port (the takeover moment), asks for the
/// proof before each attempt: a real server proves the key, an impostor never gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_sends_the_key_only_to_a_server_that_proves_it() {
    let key = PublishableKey::new("pk_local_proof_test");
    let tls = peerchat_peer::TlsOptions { require_key_proof: true, ..Default::default() };
    let wait = std::time::Duration::from_secs(5);

    let mut cfg = signal_server::Config::for_keys(&[key.expose()]);
    cfg.local_proof = true;
    let real = signal_server::Server::spawn(cfg).await.unwrap();
    assert!(peerchat_peer::server_proves_key(&real.url(), &key, &tls, wait).await);
    assert!(!peerchat_peer::server_proves_key(&real.url(), &PublishableKey::new("pk_other"), &tls, wait).await);
    peerchat_peer::check_key(&real.url(), &key, &tls, wait).await.expect("a proving server gets the key");

    // A server without `local_proof` proves nothing (its keys stay where they are).
    let plain = signal_server::Server::spawn(signal_server::Config::for_keys(&[key.expose()])).await.unwrap();
    assert!(!peerchat_peer::server_proves_key(&plain.url(), &key, &tls, wait).await);

    let (port, heard) = impostor().await;
    let url = format!("ws://127.0.0.1:{port}/v1");
    let refused = peerchat_peer::check_key(&url, &key, &tls, std::time::Duration::from_secs(2)).await;
    assert!(refused.is_err(), "{refused:?}");
    let heard = heard.lock().unwrap().clone();
    assert!(heard.contains("peerchat-challenge") && !heard.contains(&key.expose().to_lowercase()), "{heard}");
}

/// What the resume secret was before: derived from the key, so anyone with the key (it
/// is handed to any process that asks the local port) could sign tokens.
fn secret_derived_from(key: &PublishableKey) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"peerchat local server resume secret v1\0");
    h.update(key.expose().as_bytes());
    h.finalize().to_vec()
}

/// Connects to the local server with a resume token for peer `pid` signed with `secret`;
/// returns the `welcome` frame.
async fn resume_with(url: &str, key: &PublishableKey, secret: &[u8], pid: &str) -> serde_json::Value {
    use futures_util::StreamExt;
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    let claims = TokenClaims {
        pid: pid.into(),
        name: "mallory".into(),
        ch: vec!["lobby".into()],
        kid: key.fingerprint(),
        iid: "forged".into(),
        exp,
        n: 0,
    };
    let token = TokenSigner::new(secret).sign(&claims);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("peerchat-key", key.expose().parse().unwrap());
    req.headers_mut().insert("peerchat-resume", token.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let first = tokio::time::timeout(crate::support::WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    serde_json::from_str(first.to_text().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resume_secret_is_random_and_kept_in_the_keyring() {
    let (t, store) = app();
    t.backend.use_local_server("main", false).await.unwrap();
    let url = t.backend.server_url().0;
    let key = store.get(&url).unwrap().unwrap();
    let secret = store.get(&format!("{url}#resume-secret")).unwrap().expect("the resume secret is in the keyring");
    assert_eq!(secret.expose().len(), 64);

    // The key alone forges nothing: a token signed with a secret derived from it is not
    // honoured (a new session), one signed with the keyring's secret is (which shows the
    // server really uses it).
    let forged = resume_with(&url, &key, &secret_derived_from(&key), "p_forged1").await;
    assert_eq!((forged["resumed"].as_bool(), forged["peerId"] == "p_forged1"), (Some(false), false), "{forged}");
    let real = resume_with(&url, &key, secret.expose().as_bytes(), "p_forged2").await;
    assert_eq!((real["resumed"].as_bool(), real["peerId"].as_str()), (Some(true), Some("p_forged2")), "{real}");
    t.backend.shutdown().await;
}
