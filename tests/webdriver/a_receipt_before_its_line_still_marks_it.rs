//! A line's receipt travels on the events Channel, its id on the reply to
//! `send_message`: on loopback the receipt can come first (a CI run saw it: the line
//! never got its ✓). The page keeps such early marks, bounded, and applies them when the
//! line appears; a failure still wins over a delivery. Checked on the page's own
//! `marks.js` in the app's webview.

use serde_json::json;

use crate::support::{serial, shown, Driver, Home};

const SCRIPT: &str = r#"
const m = new window.PeerchatMarks(2);
const line = () => {
  const li = document.createElement("li");
  const s = document.createElement("span");
  s.className = "msg-status";
  li.append(s);
  return li;
};
const state = (li) => [li.dataset.delivery || null, li.querySelector(".msg-status").textContent];
// A receipt before its line.
m.mark("a", { state: "delivered", text: "✓", title: "" });
const a = line(); m.attach("a", a);
// A failure before its line, then a receipt from another peer: the failure stays.
m.mark("b", { state: "failed", text: "not delivered", title: "" });
m.mark("b", { state: "delivered", text: "✓", title: "" });
const b = line(); m.attach("b", b);
// Early marks are bounded (2 here): the oldest of three is dropped.
for (const id of ["c", "d", "e"]) m.mark(id, { state: "delivered", text: "✓", title: "" });
const c = line(); m.attach("c", c);
const e = line(); m.attach("e", e);
// A line shown first, marked after (the usual order).
const f = line(); m.attach("f", f);
m.mark("f", { state: "delivered", text: "✓", title: "" });
return { a: state(a), b: state(b), c: state(c), e: state(e), f: state(f), left: m.early.size };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_before_its_line_still_marks_it() {
    let _one = serial().await;
    let home = Home::new();
    let driver = Driver::start(&home).await;
    let s = driver.launch(&[]).await;
    shown(&s, "the page", "use-local").await;

    let got = s.js(SCRIPT, json!([])).await.unwrap();
    let want = json!({
        "a": ["delivered", "✓"],
        "b": ["failed", "not delivered"],
        "c": [null, ""],
        "e": ["delivered", "✓"],
        "f": ["delivered", "✓"],
        "left": 1,
    });
    assert_eq!(got, want);
    s.quit().await;
}
