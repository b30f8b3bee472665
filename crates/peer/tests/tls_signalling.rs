//! Signalling over TLS: peers chat through a server that terminates TLS itself, sending
//! the key in a header; a certificate that is untrusted, expired or for another name
//! ends the attempt with a typed error within seconds (never a hang, never plaintext);
//! and plaintext `ws://` to a host that is not this machine is refused unless allowed.

mod support;

use std::time::{Duration, Instant};

use peerchat_peer::{check_key, PeerError, PeerEvent, PublishableKey, TlsFailure, TlsOptions};
use peerchat_testkit::tls::{ServerCert, TestCa, Validity};
use signal_server::tls::TlsFiles;
use signal_server::{Server, ServerHandle};
use support::*;

/// How long a refused TLS handshake may take: it is local, so seconds are generous.
const PROMPT: Duration = Duration::from_secs(5);

async fn tls_server(cert: &ServerCert) -> (ServerHandle, String) {
    let mut cfg = config("");
    cfg.tls = Some(TlsFiles { cert: cert.cert.clone(), key: cert.key.clone() });
    let s = Server::spawn(cfg).await.expect("server with TLS binds");
    assert!(s.url().starts_with("wss://"), "{}", s.url());
    let url = format!("wss://localhost:{}/v1", s.addr().port());
    (s, url)
}

fn trusting(ca: &TestCa) -> TlsOptions {
    TlsOptions { extra_ca_pem: Some(ca.cert_pem().to_string()), ..TlsOptions::default() }
}

async fn check(url: &str, tls: &TlsOptions) -> (Result<(), PeerError>, Duration) {
    let t = Instant::now();
    let r = check_key(url, &PublishableKey::new(KEY), tls, Duration::from_secs(20)).await;
    (r, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_chat_through_a_server_that_terminates_tls() {
    let ca = TestCa::new("peerchat test CA");
    let (s, url) = tls_server(&ca.issue("server", &["localhost"], Validity::Current)).await;
    let mut peers = Vec::new();
    for name in ["alice", "bob"] {
        let mut o = options(&s);
        o.url = url.clone();
        o.tls = trusting(&ca);
        let p = TestPeer::new(o);
        bounded("join over wss", p.join("lobby", name)).await.expect("joins over TLS");
        peers.push(p);
    }
    let ra = next_joined(&mut peers[0]).await;
    let mut rb = next_joined(&mut peers[1]).await;
    assert!(bounded("a connected", ra.wait_for(peerchat_peer::PeerState::Connected)).await);
    assert!(bounded("b connected", rb.wait_for(peerchat_peer::PeerState::Connected)).await);
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    roundtrip(&out, &mut inc, "hello over a signalling channel nobody can read").await;
    // Server-routed data goes through the TLS socket too.
    bounded("send", peers[0].send(&serde_json::json!({"via": "wss"}))).await.expect("server-routed send");
    let got = wait_event(&mut peers[1], |e| match e {
        PeerEvent::Message { data, .. } => Some(data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, serde_json::json!({"via": "wss"}));
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_is_refused_with_a_typed_error() {
    let ca = TestCa::new("nobody trusts this CA");
    let (_s, url) = tls_server(&ca.issue("server", &["localhost"], Validity::Current)).await;
    let (r, took) = check(&url, &TlsOptions::default()).await;
    assert_eq!(r, Err(PeerError::Tls(TlsFailure::UntrustedCertificate)), "took {took:?}");
    assert!(took < PROMPT, "took {took:?}");
    let e = r.unwrap_err();
    assert!(e.is_fatal());
    assert!(e.to_string().contains("not signed by a trusted authority"), "{e}");
    // A peer fails its join the same way, and says so on its event stream.
    let mut o = PeerOptions::new(url, PublishableKey::new(KEY));
    o.reconnect = Some(Default::default());
    let p = TestPeer::new(o);
    let t = Instant::now();
    assert_eq!(bounded("join", p.join("lobby", "x")).await, Err(PeerError::Tls(TlsFailure::UntrustedCertificate)));
    assert!(t.elapsed() < PROMPT, "join took {:?}", t.elapsed());
}

#[tokio::test]
async fn an_expired_certificate_is_refused_with_a_typed_error() {
    let ca = TestCa::new("peerchat test CA");
    let (_s, url) = tls_server(&ca.issue("old", &["localhost"], Validity::Expired)).await;
    let (r, took) = check(&url, &trusting(&ca)).await;
    assert_eq!(r, Err(PeerError::Tls(TlsFailure::Expired)));
    assert!(took < PROMPT, "took {took:?}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_with_a_typed_error() {
    let ca = TestCa::new("peerchat test CA");
    let (_s, url) = tls_server(&ca.issue("other", &["chat.example.org"], Validity::Current)).await;
    let (r, took) = check(&url, &trusting(&ca)).await;
    assert_eq!(r, Err(PeerError::Tls(TlsFailure::WrongName)));
    assert!(took < PROMPT, "took {took:?}");
}

#[tokio::test]
async fn a_plaintext_client_gets_no_answer_from_a_tls_server_and_says_so_in_time() {
    let ca = TestCa::new("peerchat test CA");
    let (s, _url) = tls_server(&ca.issue("server", &["localhost"], Validity::Current)).await;
    // ws:// to a TLS port: the server reads garbage for a TLS ClientHello and drops it.
    let url = format!("ws://127.0.0.1:{}/v1", s.addr().port());
    let (r, took) = check(&url, &TlsOptions::default()).await;
    assert_eq!(r, Err(PeerError::ConnectionLost));
    assert!(took < PROMPT, "took {took:?}");
}

#[tokio::test]
async fn plaintext_to_another_host_is_refused_before_any_connection_unless_allowed() {
    // Nothing is dialled (nor resolved): the policy refuses first.
    let (r, took) = check("ws://peerchat.invalid:8787/v1", &TlsOptions::default()).await;
    assert_eq!(r, Err(PeerError::PlaintextRefused("peerchat.invalid".into())));
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert!(r.unwrap_err().is_fatal());
    // Loopback stays allowed without opting in.
    let s = server().await;
    let (r, _) = check(&s.url(), &TlsOptions::default()).await;
    assert_eq!(r, Ok(()));
}

use peerchat_peer::PeerOptions;
