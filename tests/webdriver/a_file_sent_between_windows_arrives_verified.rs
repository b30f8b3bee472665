//! A file from one window to the other: the receiving window shows the offer, accepting
//! it moves the progress bar, both windows end with "Verified ✓", and the file saved in
//! the download folder has the sender's SHA-256. The sending window calls `send_file`
//! with a path, as its "Send file" button does with what the system's file picker
//! returns (the picker itself is the desktop's, not driven here).

use sha2::{Digest, Sha256};

use crate::support::{screenshots, serial, two_windows, Driver, Home, UI_WAIT};
use crate::wd;

/// The state of the transfer row in the current window (`verified`, `failed`, or `""`),
/// and its progress bar's value and maximum.
async fn transfer(s: &wd::Session) -> wd::Result<Option<(String, f64, f64)>> {
    let v = s
        .js(
            "const li = document.querySelector('[data-testid=transfer]');
             if (!li) return null;
             const bar = li.querySelector('progress');
             return [li.dataset.state || '', bar.value, bar.max];",
            serde_json::json!([]),
        )
        .await?;
    Ok(v.as_array()
        .map(|a| (a[0].as_str().unwrap_or("").to_string(), a[1].as_f64().unwrap_or(0.0), a[2].as_f64().unwrap_or(0.0))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_between_windows_arrives_verified() {
    let _one = serial().await;
    let home = Home::new();
    let inbox = home.dir.path().join("inbox");
    home.write_settings(serde_json::json!({ "displayName": "ada", "downloadDir": inbox }));
    let src = home.dir.path().join("holiday photos.tar");
    let data: Vec<u8> = (0..96u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let sha: String = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    let driver = Driver::start(&home).await;
    let (s, w1, w2) = two_windows(&driver, "lobby", "ada").await;

    let sent = s
        .js_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI__.core.invoke('send_file', { path: arguments[0] }).then(done, (e) => done({ error: e }));",
            serde_json::json!([src.display().to_string()]),
        )
        .await
        .unwrap();
    assert_eq!(sent.as_array().map(Vec::len), Some(1), "{sent}");

    s.switch_to(&w2).await.unwrap();
    wd::until("the offer", UI_WAIT, || async { Ok(s.visible("transfer-accept").await.unwrap_or(false).then_some(())) })
        .await;
    let offer =
        s.js("return document.querySelector('[data-testid=transfer]').textContent", serde_json::json!([])).await;
    assert!(offer.unwrap().as_str().unwrap().contains("holiday photos.tar"));
    s.click("transfer-accept").await.unwrap();
    // The bar moves: seen part-way at least once, then full and verified.
    let part_way = std::cell::Cell::new(false);
    let (state, value, max) = wd::until("the transfer to end", std::time::Duration::from_secs(120), || async {
        let t = transfer(&s).await?;
        if let Some((state, value, max)) = t {
            part_way.set(part_way.get() || (value > 0.0 && value < max));
            if !state.is_empty() {
                return Ok(Some((state, value, max)));
            }
        }
        Ok(None)
    })
    .await;
    assert_eq!(state, "verified");
    assert_eq!(value, max);
    assert!(part_way.get(), "the progress bar was seen between empty and full");
    let status =
        s.js("return document.querySelector('[data-testid=transfer-status]').textContent", serde_json::json!([])).await;
    assert!(status.unwrap().as_str().unwrap().starts_with("Verified ✓"));
    let saved = inbox.join("holiday photos.tar");
    let on_disk: String = Sha256::digest(std::fs::read(&saved).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(on_disk, sha, "the saved file has the sender's hash");
    screenshots(&s, "file-received").await;

    s.switch_to(&w1).await.unwrap();
    let (state, _, _) = wd::until("the sender's verdict", UI_WAIT, || async {
        Ok(transfer(&s).await?.filter(|(state, _, _)| !state.is_empty()))
    })
    .await;
    assert_eq!(state, "verified");
    s.quit().await;
}
