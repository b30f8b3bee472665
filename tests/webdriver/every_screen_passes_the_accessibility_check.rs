//! Every screen of the app passes axe-core (run inside the app's own webview) with no
//! serious or critical violation: the key screen, the join screen, the settings, the
//! chat (with a peer, its details, lines and the history mark) and the clear-history
//! question; the key screen again with the desktop set to dark. The message log is a plain list; new lines from others are announced in a
//! live region of their own (so history is never read out), which is checked too.

use serde_json::json;

use crate::support::{screenshots, serial, shown, two_windows, wait_message, Driver, Home, UI_WAIT};
use crate::wd;

/// axe-core's source, installed by scripts/test.sh (tools/a11y, pinned).
fn axe_source() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/a11y/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e} (scripts/test.sh installs tools/a11y)"))
}

/// Runs axe-core on the current window; its serious and critical violations, described.
async fn violations(s: &wd::Session, axe: &str, screen: &str) -> Vec<String> {
    s.js(&format!("{axe}\n; return typeof window.axe;"), json!([])).await.unwrap();
    let v = s
        .js_async(
            "const done = arguments[arguments.length - 1];
             window.axe.run(document, { resultTypes: ['violations'] }).then(
               (r) => done(r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map((n) => n.target.join(' ')).join(', '))),
               (e) => done(['axe failed: ' + e]));",
            json!([]),
        )
        .await
        .unwrap();
    let found: Vec<String> =
        v.as_array().unwrap().iter().map(|x| format!("{screen}: {}", x.as_str().unwrap())).collect();
    eprintln!("axe on {screen}: {} serious or critical", found.len());
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_the_accessibility_check() {
    let _one = serial().await;
    let axe = axe_source();
    let mut all = Vec::new();

    // First run: the key screen; then the join screen and the settings dialog.
    let home = Home::new();
    let driver = Driver::start(&home).await;
    let s = driver.launch(&[]).await;
    shown(&s, "the key screen", "use-local").await;
    // The checker finds what it should: a button without a name is a violation.
    s.js(
        "const b = document.createElement('button'); b.id = 'probe'; document.body.append(b); return true;",
        json!([]),
    )
    .await
    .unwrap();
    let probe = violations(&s, &axe, "probe").await;
    assert!(probe.iter().any(|v| v.contains("button-name")), "axe saw the nameless button: {probe:?}");
    s.js("document.getElementById('probe').remove(); return true;", json!([])).await.unwrap();
    all.extend(violations(&s, &axe, "key screen").await);
    s.click("use-local").await.unwrap();
    shown(&s, "the join screen", "join-button").await;
    all.extend(violations(&s, &axe, "join screen").await);
    s.click("open-settings").await.unwrap();
    shown(&s, "the settings", "settings-save").await;
    all.extend(violations(&s, &axe, "settings dialog").await);
    screenshots(&s, "settings-dialog").await;
    s.quit().await;

    // The chat, in two windows with lines, a peer's details and the history mark.
    let home = Home::new();
    home.write_settings(json!({ "displayName": "ada" }));
    let driver = Driver::start(&home).await;
    let (s, w1, w2) = two_windows(&driver, "lobby", "ada").await;
    s.switch_to(&w2).await.unwrap();
    s.type_into("message-input", "hello there\u{E007}").await.unwrap();
    s.switch_to(&w1).await.unwrap();
    wait_message(&s, "hello there").await;
    let announced = s.js("return document.getElementById('log-announcer').textContent", json!([])).await.unwrap();
    assert_eq!(announced.as_str(), Some("ada 2: hello there"), "the new line is announced");
    s.js("document.querySelector('[data-testid=peer] summary').click(); return true;", json!([])).await.unwrap();
    all.extend(violations(&s, &axe, "chat screen").await);
    s.click("clear-history").await.unwrap();
    shown(&s, "the clear-history question", "clear-history-confirm").await;
    all.extend(violations(&s, &axe, "clear-history dialog").await);
    // Rejoining shows the history above the session mark: checked too, and not announced.
    s.js("document.getElementById('clear-history-dialog').close(); return true;", json!([])).await.unwrap();
    s.click("leave-button").await.unwrap();
    shown(&s, "the join screen", "join-button").await;
    s.click("join-button").await.unwrap();
    wd::until("the history", UI_WAIT, || async { Ok(s.visible("session-start").await?.then_some(())) }).await;
    let announced = s.js("return document.getElementById('log-announcer').textContent", json!([])).await.unwrap();
    assert_eq!(announced.as_str(), Some(""), "history is not read out");
    all.extend(violations(&s, &axe, "chat screen with history").await);
    s.quit().await;

    // The desktop prefers dark: the UI follows, and passes too (contrast included).
    let home = Home::new();
    let driver = Driver::start_with(&home, &[("GTK_THEME", "Adwaita:dark")]).await;
    let s = driver.launch(&[]).await;
    shown(&s, "the key screen", "use-local").await;
    let dark = s
        .js("return [matchMedia('(prefers-color-scheme: dark)').matches, getComputedStyle(document.body).backgroundColor]", json!([]))
        .await
        .unwrap();
    assert_eq!(dark, json!([true, "rgb(20, 26, 33)"]), "dark colours");
    all.extend(violations(&s, &axe, "key screen, dark").await);
    s.quit().await;

    assert!(all.is_empty(), "accessibility violations:\n{}", all.join("\n"));
}
