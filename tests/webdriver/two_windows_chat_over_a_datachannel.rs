//! Two windows of one app on the embedded server: names arrive via the server-routed
//! hello, a line typed in one shows in the other marked as having come over the
//! DataChannel (and in the first as delivered, by the other's receipt), and HTML in a
//! line stays text. Also run against the installed .deb.

use crate::support::{peer_names, screenshots, serial, two_windows, wait_message, Driver, Home, UI_WAIT};
use crate::wd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_windows_chat_over_a_datachannel() {
    let _one = serial().await;
    let home = Home::new();
    home.write_settings(serde_json::json!({ "displayName": "ada" }));
    let driver = Driver::start(&home).await;
    let (s, _w1, w2) = two_windows(&driver, "lobby", "ada").await;

    let line = "<img src=x onerror=alert(1)> hello over the channel";
    s.type_into("message-input", &format!("{line}\u{E007}")).await.unwrap();
    let (sender, via) = wait_message(&s, line).await;
    assert_eq!((sender.as_str(), via.as_str()), ("ada (you)", "p2p"));
    assert_eq!(s.text("message-input").await.unwrap(), "", "Enter sent and cleared the input");
    // The other window's receipt marks the line delivered.
    let status = wd::until("the line's delivery mark", UI_WAIT, || async {
        let v = s
            .js(
                "const li = [...document.querySelectorAll('#message-log .msg.self')].pop();
                 return li && li.dataset.delivery === 'delivered' ? li.querySelector('.msg-status').textContent : null;",
                serde_json::json!([]),
            )
            .await?;
        Ok(v.as_str().map(str::to_string))
    })
    .await;
    assert_eq!(status, "✓");

    s.switch_to(&w2).await.unwrap();
    let (sender, via) = wait_message(&s, line).await;
    assert_eq!(sender, "ada");
    assert_eq!(via, "p2p", "the line came over the DataChannel, not through the server");
    let imgs = s.js("return document.querySelectorAll('#message-log img').length", serde_json::json!([])).await;
    assert_eq!(imgs.unwrap(), 0, "the markup stayed text");
    assert!(s.alert_text().await.is_none(), "no script ran");
    assert_eq!(peer_names(&s).await.unwrap(), vec!["ada".to_string()]);
    screenshots(&s, "two-windows").await;
    s.quit().await;
}
