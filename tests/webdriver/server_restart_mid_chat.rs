//! The signalling server restarts mid-chat: chat keeps flowing over the DataChannel
//! while it is down, the "reconnecting" banner shows and then clears, and presence is
//! right afterwards (sessions resume: the restarted server shares the signing secret).

use std::net::SocketAddr;
use std::time::Duration;

use signal_server::config::Config;
use signal_server::server::Server;

use crate::support::{
    free_port, keyring_store, peer_names, screenshots, serial, shown, two_windows, wait_message, Driver, Home,
};
use crate::wd::until;

const KEY: &str = "pk_live_e2e_restart_42";

fn config(port: u16) -> Config {
    let mut cfg = Config::for_keys(&[KEY]);
    cfg.listen = SocketAddr::from(([127, 0, 0, 1], port));
    cfg.secret = b"e2e restart secret, fixed across restarts".to_vec();
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_chat() {
    let _one = serial().await;
    let port = free_port();
    let server = Server::spawn(config(port)).await.unwrap();
    let url = server.url();
    let home = Home::new();
    keyring_store(&url, KEY);
    home.write_settings(serde_json::json!({ "serverUrl": url, "displayName": "eve" }));
    let driver = Driver::start(&home).await;
    let (s, w1, w2) = two_windows(&driver, "ops", "eve").await;

    server.shutdown();
    server.stopped().await;
    shown(&s, "the reconnecting banner", "reconnecting-banner").await;
    s.type_into("message-input", "while the server is down\u{E007}").await.unwrap();
    s.switch_to(&w2).await.unwrap();
    assert!(s.visible("reconnecting-banner").await.unwrap());
    let (_, via) = wait_message(&s, "while the server is down").await;
    assert_eq!(via, "p2p");
    screenshots(&s, "server-down").await;

    let server = Server::spawn(config(port)).await.unwrap();
    for w in [&w1, &w2] {
        s.switch_to(w).await.unwrap();
        until("the banner to clear", Duration::from_secs(45), || async {
            Ok((!s.visible("reconnecting-banner").await?).then_some(()))
        })
        .await;
    }
    s.type_into("message-input", "after the restart\u{E007}").await.unwrap();
    s.switch_to(&w1).await.unwrap();
    wait_message(&s, "after the restart").await;
    assert_eq!(peer_names(&s).await.unwrap(), vec!["eve 2".to_string()], "one peer, no ghost");
    s.switch_to(&w2).await.unwrap();
    assert_eq!(peer_names(&s).await.unwrap(), vec!["eve".to_string()]);
    let stats = server.stats().await;
    assert_eq!((stats.sessions, stats.connections), (2, 2), "both sessions are back on the server");
    screenshots(&s, "server-restarted").await;
    s.quit().await;
    server.shutdown();
}
