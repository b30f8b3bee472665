//! The "next day": two app processes chat; quinn quits; pat leaves quinn a line
//! (shown "waiting for quinn"), quits too and starts again: the earlier conversation is
//! there above "This session starts here", the kept line still waiting. Quinn starts
//! again: the line reaches quinn, and pat's window marks it ✓. Quinn's window shows the
//! history from before its restart as well.

use serde_json::json;

use crate::support::{peer_names, screenshots, serial, wait_connected_to, wait_message, Driver, Home, UI_WAIT};
use crate::wd;

/// The history lines of the current window, oldest first: (sender, text, status).
async fn history_lines(s: &wd::Session) -> wd::Result<Vec<(String, String, String)>> {
    let v = s
        .js(
            "return [...document.querySelectorAll('[data-testid=history-line]')].map(li => [\
             li.querySelector('.msg-sender').textContent, \
             li.querySelector('[data-testid=message-text]').textContent, \
             (li.querySelector('.msg-status') || {}).textContent || '']);",
            json!([]),
        )
        .await?;
    let rows = v.as_array().cloned().unwrap_or_default();
    Ok(rows
        .iter()
        .map(|r| {
            let f = |i: usize| r[i].as_str().unwrap_or_default().to_string();
            (f(0), f(1), f(2))
        })
        .collect())
}

/// The status text of the current window's line `text` (live or from the history).
async fn status_of(s: &wd::Session, text: &str) -> wd::Result<String> {
    let v = s
        .js(
            "const li = [...document.querySelectorAll('#message-log li')].find(li => \
             (li.querySelector('[data-testid=message-text]') || {}).textContent === arguments[0]); \
             return li ? li.querySelector('.msg-status').textContent : null;",
            json!([text]),
        )
        .await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// Closes the app's window as the person does (the close command behind Ctrl+W): its
/// session leaves the room at once. Then ends the WebDriver session.
async fn close_app(s: wd::Session) {
    let _ = s.js("window.__TAURI__.core.invoke('close_window'); return true;", json!([])).await;
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_a_line_left_for_someone_away() {
    let _one = serial().await;
    let pat = Home::new();
    let quinn = Home { dir: tempfile::tempdir().unwrap(), local_port: pat.local_port };
    pat.write_settings(json!({ "displayName": "pat" }));
    quinn.write_settings(json!({ "displayName": "quinn" }));
    let (d1, d2) = (Driver::start(&pat).await, Driver::start(&quinn).await);
    let s1 = d1.launch(&["--room", "lobby"]).await;
    let s2 = d2.launch(&["--room", "lobby"]).await;
    wait_connected_to(&s1, "quinn").await;
    wait_connected_to(&s2, "pat").await;
    s1.type_into("message-input", "hello quinn\u{E007}").await.unwrap();
    wait_message(&s2, "hello quinn").await;
    s2.type_into("message-input", "hi pat\u{E007}").await.unwrap();
    wait_message(&s1, "hi pat").await;

    // Quinn quits (closes the window, as a person does); pat leaves a line.
    close_app(s2).await;
    wd::until("quinn gone from pat's list", UI_WAIT, || async {
        Ok((!peer_names(&s1).await?.iter().any(|n| n == "quinn")).then_some(()))
    })
    .await;
    s1.type_into("message-input", "see you tomorrow\u{E007}").await.unwrap();
    wait_message(&s1, "see you tomorrow").await;
    assert_eq!(status_of(&s1, "see you tomorrow").await.unwrap(), "waiting for quinn");

    // Pat's app closes and starts again: yesterday's conversation is there.
    close_app(s1).await;
    let s1 = d1.launch(&["--room", "lobby"]).await;
    let lines = wd::until("pat's history", UI_WAIT, || async {
        let l = history_lines(&s1).await?;
        Ok((l.len() == 3).then_some(l))
    })
    .await;
    let texts: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(texts, ["hello quinn", "hi pat", "see you tomorrow"]);
    assert_eq!(lines[0].2, "✓", "delivered before the restart");
    assert_eq!((lines[1].0.as_str(), lines[1].2.as_str()), ("quinn", ""));
    assert_eq!(lines[2].2, "waiting for quinn");
    assert!(s1.visible("session-start").await.unwrap(), "the mark where this session starts");
    screenshots(&s1, "history-after-restart").await;

    // Quinn comes back: the line arrives, and pat's window marks it delivered.
    let s2 = d2.launch(&["--room", "lobby"]).await;
    let (sender, _) = wait_message(&s2, "see you tomorrow").await;
    assert_eq!(sender, "pat");
    wd::until("the kept line marked ✓", UI_WAIT, || async {
        Ok((status_of(&s1, "see you tomorrow").await? == "✓").then_some(()))
    })
    .await;
    let theirs = wd::until("quinn's history", UI_WAIT, || async {
        let l = history_lines(&s2).await?;
        Ok((l.len() == 2).then_some(l))
    })
    .await;
    assert_eq!(theirs.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(), ["hello quinn", "hi pat"]);
    screenshots(&s2, "history-kept-line-arrived").await;
    s2.quit().await;
    s1.quit().await;
}
