//! A line that arrives while the window does not have the focus is a desktop
//! notification (shown by a real notification server, dunst, on the test's session
//! bus) and counts in the window's title; a line in the window in front is not.

use std::process::Stdio;

use serde_json::json;

use crate::support::{serial, wait_connected_to, wait_message, Driver, Home, UI_WAIT};
use crate::wd;

/// dunst on the test's D-Bus session and display, ended with the test.
struct Dunst {
    _child: tokio::process::Child,
    /// Notifications up to this id were there before (another test's app may have
    /// had dunst started by D-Bus activation).
    before: i64,
}

impl Dunst {
    async fn start() -> Dunst {
        let child = tokio::process::Command::new("dunst")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("dunst (scripts/lib.sh installs it)");
        wd::until("dunst on the session bus", UI_WAIT, || async {
            let ok =
                tokio::process::Command::new("dunstctl").arg("is-paused").output().await.map(|o| o.status.success());
            Ok(ok.unwrap_or(false).then_some(()))
        })
        .await;
        let before = Self::history().await.iter().map(|n| n.0).max().unwrap_or(0);
        Dunst { _child: child, before }
    }

    /// (summary, body) of every notification dunst has shown since it started here,
    /// oldest first.
    async fn shown(&self) -> Vec<(String, String)> {
        Self::history().await.into_iter().filter(|n| n.0 > self.before).map(|(_, s, b)| (s, b)).collect()
    }

    /// (id, summary, body) of every notification in dunst's history, oldest first.
    async fn history() -> Vec<(i64, String, String)> {
        // Notifications on screen move to the history when closed.
        let _ = tokio::process::Command::new("dunstctl").arg("close-all").status().await;
        let out = tokio::process::Command::new("dunstctl").arg("history").output().await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or(json!({}));
        let mut all: Vec<(i64, String, String)> = v["data"][0]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|n| {
                let s = |k: &str| n[k]["data"].as_str().unwrap_or_default().to_string();
                (n["id"]["data"].as_i64().unwrap_or_default(), s("summary"), s("body"))
            })
            .collect();
        all.sort();
        all
    }
}

async fn has_focus(s: &wd::Session) -> bool {
    s.js("return document.hasFocus()", json!([])).await.ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_in_the_background_is_a_notification() {
    let _one = serial().await;
    let dunst = Dunst::start().await;
    let pat = Home::new();
    let quinn = Home { dir: tempfile::tempdir().unwrap(), local_port: pat.local_port };
    pat.write_settings(json!({ "displayName": "pat" }));
    quinn.write_settings(json!({ "displayName": "quinn" }));
    let (d1, d2) = (Driver::start(&pat).await, Driver::start(&quinn).await);
    let s1 = d1.launch(&["--room", "lobby"]).await;
    let s2 = d2.launch(&["--room", "lobby"]).await;
    wait_connected_to(&s1, "quinn").await;
    wait_connected_to(&s2, "pat").await;
    // The app started last has the focus (no window manager moves it).
    assert!(!has_focus(&s1).await && has_focus(&s2).await, "pat's window in the background, quinn's in front");

    // A line for pat, in the background: a notification, and the count in the title.
    s2.type_into("message-input", "are you there?\u{E007}").await.unwrap();
    wait_message(&s1, "are you there?").await;
    let first = ("quinn in #lobby".to_string(), "are you there?".to_string());
    wd::until("the notification", UI_WAIT, || async { Ok(dunst.shown().await.contains(&first).then_some(())) }).await;
    let title = s1.js("return document.title", json!([])).await.unwrap();
    assert_eq!(title.as_str(), Some("(1) peerchat · pat · lobby"));

    // A line for quinn, in front: none. After the quiet time between two notices, a
    // second line for pat is one again, and the only other one.
    s1.type_into("message-input", "I am here\u{E007}").await.unwrap();
    wait_message(&s2, "I am here").await;
    tokio::time::sleep(peerchat_desktop::notices::QUIET).await;
    s2.type_into("message-input", "good\u{E007}").await.unwrap();
    let second = ("quinn in #lobby".to_string(), "good".to_string());
    let all = wd::until("the second notification", UI_WAIT, || async {
        let all = dunst.shown().await;
        Ok(all.contains(&second).then_some(all))
    })
    .await;
    assert_eq!(all, [first, second], "no notification for the window in front");
    let title = s1.js("return document.title", json!([])).await.unwrap();
    assert_eq!(title.as_str(), Some("(2) peerchat · pat · lobby"));
    s2.quit().await;
    s1.quit().await;
}
