//! Two app processes on one machine: the second reuses the first's embedded server (same
//! keyring, same key), and they chat over a DataChannel.

use crate::support::{screenshots, serial, wait_connected_to, wait_message, Driver, Home};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_app_processes_chat() {
    let _one = serial().await;
    let first = Home::new();
    let second = Home { dir: tempfile::tempdir().unwrap(), local_port: first.local_port };
    first.write_settings(serde_json::json!({ "displayName": "pat" }));
    second.write_settings(serde_json::json!({ "displayName": "quinn" }));
    let (d1, d2) = (Driver::start(&first).await, Driver::start(&second).await);
    let s1 = d1.launch(&["--room", "lobby"]).await;
    let s2 = d2.launch(&["--room", "lobby"]).await;
    wait_connected_to(&s1, "quinn").await;
    wait_connected_to(&s2, "pat").await;

    s2.type_into("message-input", "hello from the second process\u{E007}").await.unwrap();
    let (sender, via) = wait_message(&s1, "hello from the second process").await;
    assert_eq!((sender.as_str(), via.as_str()), ("quinn", "p2p"));
    screenshots(&s1, "two-processes-first").await;
    screenshots(&s2, "two-processes-second").await;
    s2.quit().await;
    s1.quit().await;
}
