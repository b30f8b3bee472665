//! Plain `ws://` to a server on another address than loopback (this machine's own
//! non-loopback address stands in for another computer; nothing leaves the machine) is
//! refused until the person allows it in the settings, and the join then says the
//! signalling is unencrypted, so the UI can show it. The local server is never flagged.

use crate::support::{app, routed_address, window};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_beyond_this_machine_needs_consent_and_is_flagged() {
    let mut cfg = signal_server::Config::for_keys(&["pk_plain_test"]);
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    let server = signal_server::Server::spawn(cfg).await.unwrap();
    let url = format!("ws://{}:{}/v1", routed_address(), server.addr().port());

    let (t, _store) = app();
    let b = &t.backend;
    b.save_key("main", &url, "pk_plain_test", true).await.unwrap();
    let (_w, sink) = window("main");
    let err = b.join("main", "lobby", "ann", sink.clone()).await.unwrap_err();
    assert_eq!(err.kind, "plaintext_refused", "{err:?}");
    assert_eq!(b.check_key(None, None).await.unwrap_err().kind, "plaintext_refused");

    let mut s = b.get_settings();
    s.allow_plaintext = true;
    b.save_settings(s).await.unwrap();
    let joined = b.join("main", "lobby", "ann", sink).await.unwrap();
    assert!(joined.unencrypted, "{joined:?}");
    b.leave("main").await;

    let mut s = b.get_settings();
    s.server_url = None;
    b.save_settings(s).await.unwrap();
    b.use_local_server("main", true).await.unwrap();
    let (_w2, sink2) = window("main");
    let local = b.join("main", "lobby", "ann", sink2).await.unwrap();
    assert!(local.local && !local.unencrypted, "{local:?}");
    b.shutdown().await;
}
