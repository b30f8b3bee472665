//! The real OS keyring (Secret Service): a key saved by one app run is there for the
//! next. `scripts/test.sh` runs the tests inside a private D-Bus session with an
//! unlocked gnome-keyring (`scripts/with-keyring.sh`), so this talks to a real daemon.

use std::sync::Arc;

use peerchat_desktop::keystore::{KeySource, OsKeyring};

use crate::support::{app_with, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn os_keyring_keeps_the_key_across_restarts() {
    let service = format!("dev.peerchat.test.{}", std::process::id());
    let port = free_port();
    let first = app_with(Arc::new(OsKeyring::new(service.clone())), port);
    let status = first.backend.status("main").await;
    assert!(
        status.keyring.available,
        "no Secret Service: run the tests through scripts/with-keyring.sh ({:?})",
        status.keyring.message
    );
    let url = "wss://chat.example.com/v1";
    first.backend.save_key("main", url, "pk_live_keyring_test_0001", false).await.unwrap();
    drop(first);

    // A new backend (a relaunch) with a fresh in-process state finds it in the keyring.
    let second = app_with(Arc::new(OsKeyring::new(service.clone())), port);
    second
        .backend
        .set_settings(peerchat_desktop::settings::Settings { server_url: Some(url.into()), ..Default::default() })
        .unwrap();
    let status = second.backend.status("main").await;
    let key = status.key.expect("the key survived the restart");
    assert_eq!(key.source, KeySource::Keyring);
    assert_eq!(key.masked, "pk_live_••••••••0001");

    let status = second.backend.forget_key("main").await.unwrap();
    assert!(status.key.is_none());
    let third = app_with(Arc::new(OsKeyring::new(service)), port);
    third
        .backend
        .set_settings(peerchat_desktop::settings::Settings { server_url: Some(url.into()), ..Default::default() })
        .unwrap();
    assert!(third.backend.status("main").await.key.is_none(), "forgotten for good");
}
