//! The window comes back at the size the person left it (the window-state plugin; the
//! app keeps it as each window closes).

use crate::support::{serial, shown, Driver, Home, UI_WAIT};
use crate::wd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_size_is_remembered() {
    let _one = serial().await;
    let home = Home::new();
    home.write_settings(serde_json::json!({ "displayName": "pat" }));
    let driver = Driver::start(&home).await;
    let s = driver.launch(&[]).await;
    shown(&s, "the join screen", "join-button").await;
    let first = s.window_size().await.unwrap();
    let want = (first.0 + 173, first.1 - 61);
    s.set_window_size(want.0, want.1).await.unwrap();
    let now = wd::until("the window resized", UI_WAIT, || async {
        let got = s.window_size().await?;
        Ok((got != first).then_some(got))
    })
    .await;
    // Closed as the person closes it (Ctrl+W's command; the window manager's button
    // does the same): the app keeps the size.
    let _ = s.js("window.__TAURI__.core.invoke('close_window'); return true;", serde_json::json!([])).await;
    let kept = home.dir.path().join("config/dev.peerchat.app/.window-state.json");
    wd::until("the window state kept", UI_WAIT, || async { Ok(kept.exists().then_some(())) }).await;
    s.quit().await;
    let s = driver.launch(&[]).await;
    shown(&s, "the join screen", "join-button").await;
    assert_eq!(s.window_size().await.unwrap(), now, "the size it was left at (it started at {first:?})");
    s.quit().await;
}
