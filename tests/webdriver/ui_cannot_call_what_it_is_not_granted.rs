//! The chat window's capability grants the app's own commands and the system's file
//! picker, nothing else: core and plugin commands (closing windows, listening to events,
//! reading files, opening URLs, the dialog plugin's save dialog and message boxes) are
//! refused by the ACL, while a granted command answers.

use serde_json::{json, Value};

use crate::support::{serial, shown, Driver, Home};

/// Invokes `cmd` from the page and reports `{ok}` or `{err}`.
const INVOKE: &str = "const [cmd, args, done] = arguments; \
    window.__TAURI__.core.invoke(cmd, args).then(v => done({ok: v ?? null}), e => done({err: String(e)}));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_cannot_call_what_it_is_not_granted() {
    let _one = serial().await;
    let home = Home::new();
    let driver = Driver::start(&home).await;
    let s = driver.launch(&[]).await;
    shown(&s, "the page", "use-local").await;

    let granted = s.js_async(INVOKE, json!(["get_settings", {}])).await.unwrap();
    assert!(granted.get("ok").is_some(), "a granted command answers: {granted}");

    for (cmd, args) in [
        ("plugin:window|close", json!({"label": "main"})),
        ("plugin:event|listen", json!({"event": "x", "target": {"kind": "Any"}, "handler": 1})),
        ("plugin:webview|create_webview_window", json!({"options": {"label": "evil", "url": "https://example.com"}})),
        ("plugin:app|version", json!({})),
        ("plugin:fs|read_text_file", json!({"path": "/etc/passwd"})),
        ("plugin:shell|open", json!({"path": "https://example.com"})),
        ("plugin:dialog|save", json!({"options": {}})),
        ("plugin:dialog|message", json!({"message": "hi"})),
    ] {
        let r: Value = s.js_async(INVOKE, json!([cmd, args])).await.unwrap();
        let err = r.get("err").and_then(Value::as_str).unwrap_or_else(|| panic!("{cmd} was allowed: {r}"));
        assert!(err.contains("not allowed"), "{cmd}: {err}");
    }
    assert_eq!(s.handles().await.unwrap().len(), 1, "no window was created or closed");
    s.quit().await;
}
