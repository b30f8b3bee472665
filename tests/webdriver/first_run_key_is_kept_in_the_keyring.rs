//! First run: the person enters a server and key; the key lands in the Secret Service
//! (not in the settings file or the logs); after a relaunch the app does not ask again.

use signal_server::config::Config;
use signal_server::server::Server;

use crate::support::{keyring_lookup, screenshots, serial, shown, Driver, Home};

const KEY: &str = "pk_live_e2e_first_run_7c1d";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_key_is_kept_in_the_keyring() {
    let _one = serial().await;
    let server = Server::spawn(Config::for_keys(&[KEY])).await.unwrap();
    let url = server.url();
    let home = Home::new();
    let driver = Driver::start(&home).await;

    let s = driver.launch(&[]).await;
    shown(&s, "the key screen", "use-local").await;
    assert!(!s.visible("join-button").await.unwrap());
    s.type_into("server-url", &url).await.unwrap();
    s.type_into("key-input", KEY).await.unwrap();
    s.click("save-key").await.unwrap();
    shown(&s, "the join screen", "join-button").await;
    let info = s.text("server-info").await.unwrap();
    assert!(info.contains(&url) && info.contains("pk_live_••••••••7c1d"), "{info}");
    assert!(!info.contains(KEY));
    assert_eq!(keyring_lookup(&url).as_deref(), Some(KEY), "the key is in the Secret Service");
    screenshots(&s, "first-run").await;
    s.quit().await;

    let settings = std::fs::read_to_string(home.settings_path()).unwrap();
    assert!(settings.contains(&url) && !settings.contains(KEY), "{settings}");

    // Relaunch: straight to the join screen, and joining works with the stored key.
    let s = driver.launch(&[]).await;
    shown(&s, "the join screen after relaunch", "join-button").await;
    assert!(!s.visible("use-local").await.unwrap(), "the app did not ask again");
    s.type_into("name-input", "fran").await.unwrap();
    s.click("join-button").await.unwrap();
    shown(&s, "the chat screen", "message-input").await;
    screenshots(&s, "first-run-relaunched").await;
    s.quit().await;
    let logs = home.logs();
    assert!(logs.contains("joined"), "the app logged to its log directory");
    assert!(!logs.contains(KEY), "the key is not in the logs");
    server.shutdown();
}
