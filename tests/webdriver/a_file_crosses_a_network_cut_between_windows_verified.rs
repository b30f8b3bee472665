//! A file from one window to the other, through a network cut mid-way: the receiving
//! window shows the offer; accepting it moves the progress bar; then every UDP packet on
//! this machine's loopback is dropped (iptables; needs root, as CI runs) until the
//! window shows the peer is no longer connected, and let through again. The transfer
//! goes on from where it was (the bar never goes back to empty), both windows end with
//! "Verified ✓", and the file saved in the download folder has the sender's SHA-256.
//! The sending window calls `send_file` with a path, as its "Send file" button does
//! with what the system's file picker returns (the picker itself is the desktop's, not
//! driven here). `PEERCHAT_E2E_FILE_MIB` sets the file's size (default 96; the issue's
//! 1 GiB run uses 1024) and `PEERCHAT_E2E_CUT_AT_MIB` where the cut comes (default 4).

use std::process::Command;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::{screenshots, serial, transfer, two_windows, Driver, Home, UI_WAIT};
use crate::wd;

/// Tags the rule so a run killed before it could remove it is cleaned up by the next.
const TAG: &str = "peerchat-e2e-file-cut";

/// Loopback UDP dropped while this lives.
struct Cut;

impl Cut {
    fn start() -> Cut {
        Cut::clear();
        iptables(&["-I", "INPUT", "-i", "lo", "-p", "udp", "-m", "comment", "--comment", TAG, "-j", "DROP"]);
        Cut
    }

    /// Removes every rule with our tag.
    fn clear() {
        let rule = ["INPUT", "-i", "lo", "-p", "udp", "-m", "comment", "--comment", TAG, "-j", "DROP"];
        while Command::new("iptables").arg("-D").args(rule).output().is_ok_and(|o| o.status.success()) {}
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        Cut::clear();
    }
}

fn iptables(args: &[&str]) {
    let out = Command::new("iptables").args(args).output().expect("iptables (needs root, as CI runs)");
    assert!(out.status.success(), "iptables {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The state the peer list shows for the one peer.
async fn peer_state(s: &wd::Session) -> wd::Result<String> {
    let v = s
        .js(
            "const li = document.querySelector('[data-testid=peer]'); return li ? li.dataset.state : '';",
            serde_json::json!([]),
        )
        .await?;
    Ok(v.as_str().unwrap_or("").to_string())
}

/// Writes a file of `mib` MiB that does not compress; its SHA-256.
fn write_file(path: &std::path::Path, mib: u32) -> String {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    for m in 0..mib {
        for (i, b) in block.iter_mut().enumerate() {
            *b = ((m << 20 | i as u32).wrapping_mul(2654435761) >> 24) as u8;
        }
        f.write_all(&block).unwrap();
        hasher.update(&block);
    }
    f.flush().unwrap();
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_crosses_a_network_cut_between_windows_verified() {
    let _one = serial().await;
    let home = Home::new();
    let inbox = home.dir.path().join("inbox");
    home.write_settings(serde_json::json!({ "displayName": "ada", "downloadDir": inbox }));
    let src = home.dir.path().join("holiday photos.tar");
    let mib = std::env::var("PEERCHAT_E2E_FILE_MIB").ok().and_then(|m| m.parse().ok()).unwrap_or(96);
    let sha = write_file(&src, mib);
    // Where the cut comes: past a confirm point (the 1 GiB run cuts half-way).
    let cut_mib: u32 = std::env::var("PEERCHAT_E2E_CUT_AT_MIB").ok().and_then(|m| m.parse().ok()).unwrap_or(4);
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
    let t0 = std::time::Instant::now();
    // The bar moves: some megabytes in (past a confirm point), and not at the end.
    let before = wd::until("some megabytes in", Duration::from_secs(120), || async {
        Ok(transfer(&s).await?.and_then(|(state, value, max)| {
            assert!(state.is_empty(), "the transfer ended before the cut ({state}): use a bigger file");
            (value >= f64::from(cut_mib << 20) && value < max).then_some(value)
        }))
    })
    .await;
    let cut = Cut::start();
    let cut_at = t0.elapsed();
    wd::until("the window to show the peer is not connected", Duration::from_secs(60), || async {
        Ok((peer_state(&s).await? != "connected").then_some(()))
    })
    .await;
    let during = transfer(&s).await.unwrap().expect("the row stays");
    assert!(during.0.is_empty(), "the transfer ended during the cut: {during:?}");
    drop(cut);
    let noticed = t0.elapsed() - cut_at;
    // After the cut: the bar never empties, and the transfer ends verified.
    let lowest = std::cell::Cell::new(f64::MAX);
    let limit = Duration::from_secs(120 + u64::from(mib) / 2);
    let (state, value, max) = wd::until("the transfer to end", limit, || async {
        let t = transfer(&s).await?;
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
    let took = t0.elapsed();
    eprintln!(
        "{mib} MiB in {:.1} s ({:.1} MB/s with the cut); cut at {:.1} s with the bar at {before}, noticed after {:.1} s",
        took.as_secs_f64(),
        f64::from(mib) * 1.048_576 / took.as_secs_f64(),
        cut_at.as_secs_f64(),
        noticed.as_secs_f64()
    );
    assert_eq!(state, "verified");
    assert_eq!(value, max);
    assert!(
        lowest.get() >= f64::from(1u32 << 20),
        "resumed, never from zero (bar at {before} before the cut, lowest {} after)",
        lowest.get()
    );
    let status =
        s.js("return document.querySelector('[data-testid=transfer-status]').textContent", serde_json::json!([])).await;
    assert!(status.unwrap().as_str().unwrap().starts_with("Verified ✓"));
    let saved = inbox.join("holiday photos.tar");
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(&saved).unwrap(), &mut hasher).unwrap();
    let on_disk: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
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
