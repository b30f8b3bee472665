//! Closing one window (Ctrl+W) makes its peer leave the other's list at once (the
//! backend unsubscribes before closing, so nobody waits for the grace period).
//!
//! WebDriver's own "close window" only drops the webview and leaves the native window
//! (and its session) behind, which is not what a person does; Ctrl+W closes the window
//! the way the window manager's close button does.

use std::time::{Duration, Instant};

use crate::support::{peer_names, screenshots, serial, two_windows, Driver, Home};
use crate::wd::until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_window_removes_its_peer() {
    let _one = serial().await;
    let home = Home::new();
    home.write_settings(serde_json::json!({ "displayName": "cy" }));
    let driver = Driver::start(&home).await;
    let (s, w1, w2) = two_windows(&driver, "lobby", "cy").await;

    s.switch_to(&w2).await.unwrap();
    // The window may be gone before the driver answers the key press.
    let _ = s.type_into("message-input", "\u{E009}w").await;
    let closed = Instant::now();
    until("the window to close", Duration::from_secs(10), || async {
        Ok((s.handles().await?.len() == 1).then_some(()))
    })
    .await;
    s.switch_to(&w1).await.unwrap();
    until("cy 2 gone from the list", Duration::from_secs(10), || async {
        Ok((peer_names(&s).await?.is_empty() && s.visible("peer-empty").await?).then_some(()))
    })
    .await;
    assert!(closed.elapsed() < Duration::from_secs(10), "well before the 30 s grace period");
    let log = s.text("message-log").await.unwrap();
    assert!(log.contains("cy 2 left"), "{log}");
    screenshots(&s, "closed-window").await;
    s.quit().await;
}
