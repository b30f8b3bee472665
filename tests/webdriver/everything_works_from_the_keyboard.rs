//! The chat without a mouse: the join form submits on Enter, the focus lands where the
//! person types next, a line goes with Enter, a person's details open with Enter on
//! their name, and a dialog closes with Escape.

use serde_json::json;

use crate::support::{serial, shown, wait_message, Driver, Home, UI_WAIT};
use crate::wd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_works_from_the_keyboard() {
    let _one = serial().await;
    let home = Home::new();
    home.write_settings(json!({ "displayName": "ada" }));
    let driver = Driver::start(&home).await;
    let s = driver.launch(&["--windows", "2"]).await;
    let handles = wd::until("two windows", UI_WAIT, || async {
        let h = s.handles().await?;
        Ok((h.len() == 2).then_some(h))
    })
    .await;
    // Each window: the room field has the focus; type the room, Enter joins.
    for h in &handles {
        s.switch_to(h).await.unwrap();
        shown(&s, "the join screen", "join-button").await;
        assert_eq!(s.focused().await.unwrap(), "room-input", "the focus is where one types first");
        s.type_into("room-input", "keys\u{E007}").await.unwrap();
        shown(&s, "the chat", "message-input").await;
        assert_eq!(s.focused().await.unwrap(), "message-input", "then where one writes");
    }
    s.switch_to(&handles[0]).await.unwrap();
    // Both are "ada"; the other is shown with a suffix of its id.
    wd::until("the other window connected peer to peer", UI_WAIT, || async {
        let v = s
            .js(
                "return [...document.querySelectorAll('[data-testid=peer]')].some(li => \
                 li.querySelector('.peer-name').textContent.startsWith('ada') && \
                 li.dataset.state === 'connected' && li.dataset.path === 'p2p');",
                json!([]),
            )
            .await?;
        Ok(v.as_bool().unwrap_or(false).then_some(()))
    })
    .await;
    s.keys("message-input", "typed, not clicked\u{E007}").await.unwrap();
    s.switch_to(&handles[1]).await.unwrap();
    wait_message(&s, "typed, not clicked").await;

    // A person's details: their name is a control; Enter opens it.
    s.keys("peer-summary", "\u{E007}").await.unwrap();
    wd::until("the details open", UI_WAIT, || async {
        let v = s.js("return document.querySelector('[data-testid=peer] details').open", json!([])).await?;
        Ok((v == json!(true)).then_some(()))
    })
    .await;
    assert_eq!(
        s.js("return document.activeElement.dataset.testid", json!([])).await.unwrap().as_str(),
        Some("peer-summary"),
        "the focus stays on the name"
    );

    // The clear-history question: Escape closes it, nothing cleared.
    s.keys("clear-history", "\u{E007}").await.unwrap();
    shown(&s, "the question", "clear-history-confirm").await;
    s.keys("clear-history-confirm", "\u{E00C}").await.unwrap();
    wd::until("the question closed", UI_WAIT, || async {
        let v = s.js("return document.getElementById('clear-history-dialog').open", json!([])).await?;
        Ok((v == json!(false)).then_some(()))
    })
    .await;
    s.quit().await;
}
