//! Writing a line shows "NAME is typing…" in the other window; the line itself ends it.

use crate::support::serial;
use crate::support::{two_windows, wait_message, Driver, Home, UI_WAIT};
use crate::wd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_shown_in_the_other_window() {
    let _one = serial().await;
    let home = Home::new();
    home.write_settings(serde_json::json!({ "displayName": "ada" }));
    let driver = Driver::start(&home).await;
    let (s, w1, w2) = two_windows(&driver, "lobby", "ada").await;
    s.switch_to(&w2).await.unwrap();
    s.type_into("message-input", "half a th").await.unwrap();
    s.switch_to(&w1).await.unwrap();
    wd::until("ada 2 typing", UI_WAIT, || async {
        Ok((s.text("typing").await? == "ada 2 is typing…").then_some(()))
    })
    .await;
    s.switch_to(&w2).await.unwrap();
    s.type_into("message-input", "half a thought\u{E007}").await.unwrap();
    s.switch_to(&w1).await.unwrap();
    wait_message(&s, "half a thought").await;
    assert_eq!(s.text("typing").await.unwrap(), "", "the line ends the note");
    s.quit().await;
}
