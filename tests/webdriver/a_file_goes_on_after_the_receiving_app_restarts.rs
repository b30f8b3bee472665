//! A file between two app processes goes on after the receiving app is closed and
//! started again: the new window shows the transfer kept from before the restart, the
//! sender (who waited) goes on from the receiver's partial file, and both end with
//! "Verified ✓"; the saved file has the sender's SHA-256. The receiving app keeps its
//! certificate and its transfers in its data folder, so the sender knows it is the same
//! app under a new peer id.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::{serial, transfer, wait_connected_to, Driver, Home, UI_WAIT};
use crate::wd;

/// The transfer row's text.
async fn row_text(s: &wd::Session) -> String {
    let v = s
        .js(
            "const li = document.querySelector('[data-testid=transfer]'); return li ? li.textContent : '';",
            serde_json::json!([]),
        )
        .await;
    v.ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_on_after_the_receiving_app_restarts() {
    let _one = serial().await;
    let sender = Home::new();
    let receiver = Home { dir: tempfile::tempdir().unwrap(), local_port: sender.local_port };
    let inbox = receiver.dir.path().join("inbox");
    sender.write_settings(serde_json::json!({ "displayName": "pat" }));
    receiver.write_settings(serde_json::json!({ "displayName": "quinn", "downloadDir": inbox }));
    let src = sender.dir.path().join("backup.tar");
    let data: Vec<u8> = (0..160u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let sha: String = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    drop(data);
    let (d1, d2) = (Driver::start(&sender).await, Driver::start(&receiver).await);
    let s1 = d1.launch(&["--room", "lobby"]).await;
    let s2 = d2.launch(&["--room", "lobby"]).await;
    wait_connected_to(&s1, "quinn").await;
    wait_connected_to(&s2, "pat").await;

    let sent = s1
        .js_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI__.core.invoke('send_file', { path: arguments[0] }).then(done, (e) => done({ error: e }));",
            serde_json::json!([src.display().to_string()]),
        )
        .await
        .unwrap();
    assert_eq!(sent.as_array().map(Vec::len), Some(1), "{sent}");
    wd::until("the offer", UI_WAIT, || async {
        Ok(s2.visible("transfer-accept").await.unwrap_or(false).then_some(()))
    })
    .await;
    s2.click("transfer-accept").await.unwrap();
    let before = wd::until("some megabytes in", Duration::from_secs(120), || async {
        Ok(transfer(&s2).await?.and_then(|(state, value, max)| {
            assert!(state.is_empty(), "the transfer ended before the restart ({state}): use a bigger file");
            (value >= f64::from(4u32 << 20) && value < max).then_some(value)
        }))
    })
    .await;

    // The receiving app closes and starts again.
    s2.quit().await;
    let s2 = d2.launch(&["--room", "lobby"]).await;
    let kept = wd::until("the kept transfer shown", UI_WAIT, || async {
        let t = row_text(&s2).await;
        Ok(t.contains("Kept from before the restart").then_some(t))
    })
    .await;
    assert!(kept.contains("backup.tar") && kept.contains("pat"), "{kept}");
    let lowest = std::cell::Cell::new(f64::MAX);
    let (state, value, max) = wd::until("the transfer to end", Duration::from_secs(240), || async {
        let t = transfer(&s2).await?;
        if let Some((state, value, max)) = t {
            if !state.is_empty() {
                return Ok(Some((state, value, max)));
            }
            // While it runs (a finished row shows a full bar of 1).
            lowest.set(lowest.get().min(value));
        }
        Ok(None)
    })
    .await;
    assert_eq!(state, "verified", "{}", row_text(&s2).await);
    assert_eq!(value, max);
    assert!(
        lowest.get() >= f64::from(1u32 << 20),
        "went on from the partial file (bar at {before} before, lowest {})",
        lowest.get()
    );
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(inbox.join("backup.tar")).unwrap(), &mut hasher).unwrap();
    let on_disk: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(on_disk, sha, "the saved file has the sender's hash");
    let (state, _, _) = wd::until("the sender's verdict", Duration::from_secs(60), || async {
        Ok(transfer(&s1).await?.filter(|(state, _, _)| !state.is_empty()))
    })
    .await;
    assert_eq!(state, "verified");
    s2.quit().await;
    s1.quit().await;
}
