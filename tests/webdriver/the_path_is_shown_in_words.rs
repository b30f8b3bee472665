//! The people list says how the chat travels, in words: two windows on one machine are
//! "direct · N ms", and the details view names both ends. After the person enters a TURN
//! server (a real coturn) in the settings and picks "only through TURN relays", both
//! windows say "relayed via TURN"; the credential went to the keyring, not the file.

use peerchat_testkit::coturn::Coturn;
use peerchat_testkit::ports::free_tcp_udp_port;
use serde_json::json;

use crate::support::{
    keyring_lookup, screenshots, serial, shown, two_windows, wait_connected_to, Driver, Home, UI_WAIT,
};
use crate::wd::{self, Session};

const SECRET: &str = "webdriver-turn-secret-0123456789";

/// The path words the current window shows for `peer`, once `ok` accepts them.
async fn path_words(s: &Session, peer: &str, ok: impl Fn(&str) -> bool) -> String {
    wd::until(&format!("the path words for {peer}"), UI_WAIT, || async {
        let v = s
            .js(
                "const li = [...document.querySelectorAll('[data-testid=peer]')]
                   .find(li => li.querySelector('.peer-name').textContent === arguments[0]);
                 const all = [...document.querySelectorAll('[data-testid=peer]')]
                   .map(li => li.querySelector('summary').textContent + ' [' + li.dataset.state + ']');
                 return [li ? li.querySelector('[data-testid=peer-path]').textContent : null, all.join(' | ')];",
                json!([peer]),
            )
            .await?;
        match v[0].as_str() {
            Some(w) if ok(w) => Ok(Some(w.to_string())),
            // Said when the wait gives up: what the list showed instead.
            _ => Err(wd::WdError(format!("the list shows: {}", v[1]))),
        }
    })
    .await
}

fn with_rtt(words: &str, route: &str) -> bool {
    words
        .strip_prefix(route)
        .and_then(|r| r.strip_prefix(" · "))
        .and_then(|r| r.strip_suffix(" ms"))
        .is_some_and(|n| n.parse::<f64>().is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_path_is_shown_in_words_direct_then_relayed() {
    let _one = serial().await;
    let port = free_tcp_udp_port("127.0.0.1");
    let turn = Coturn::start_with(None, "127.0.0.1", port, SECRET, "peerchat.test", &["allow-loopback-peers"]);
    let expiry = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 86_400;
    let user = format!("{expiry}:ada");
    let credential = signal_server::turn::credential(SECRET.as_bytes(), &user);

    let home = Home::new();
    home.write_settings(json!({ "displayName": "ada" }));
    let driver = Driver::start(&home).await;
    let (s, _w1, w2) = two_windows(&driver, "lobby", "ada").await;
    let words = path_words(&s, "ada 2", |w| with_rtt(w, "direct")).await;
    assert!(with_rtt(&words, "direct"), "{words:?}");
    assert!(!s.visible("signalling-security").await.unwrap(), "the local server needs no warning");
    // The details view names both ends.
    s.js(
        "[...document.querySelectorAll('[data-testid=peer] summary')].find(x => x.textContent.startsWith('ada 2')).click()",
        json!([]),
    )
    .await
    .unwrap();
    let details = wd::until("the details view", UI_WAIT, || async {
        let t = s.js("return document.querySelector('[data-testid=peer-details]').textContent", json!([])).await?;
        Ok(t.as_str().filter(|t| t.contains("Round trip") && !t.contains("measuring")).map(str::to_string))
    })
    .await;
    assert!(details.contains("Pathdirect") && details.contains("Your endown address"), "{details}");
    screenshots(&s, "path-direct").await;

    // The person switches window 1 to relays only, with a TURN server.
    s.click("leave-button").await.unwrap();
    shown(&s, "the join screen", "join-button").await;
    s.click("open-settings").await.unwrap();
    shown(&s, "the settings", "settings-save").await;
    s.type_into("set-ice", &format!("{} {user} {credential}", turn.url())).await.unwrap();
    s.js("document.getElementById('set-policy').value = 'relay'", json!([])).await.unwrap();
    s.click("settings-save").await.unwrap();
    wd::until("the settings saved", UI_WAIT, || async {
        let open = s.js("return document.getElementById('settings-dialog').open", json!([])).await?;
        Ok((open == json!(false)).then_some(()))
    })
    .await;
    s.click("join-button").await.unwrap();
    wait_connected_to(&s, "ada 2").await;
    let words = path_words(&s, "ada 2", |w| with_rtt(w, "relayed via TURN")).await;
    assert!(with_rtt(&words, "relayed via TURN"), "{words:?}");
    s.switch_to(&w2).await.unwrap();
    let words = path_words(&s, "ada", |w| with_rtt(w, "relayed via TURN")).await;
    assert!(with_rtt(&words, "relayed via TURN"), "{words:?}");
    screenshots(&s, "path-relayed").await;

    let file = std::fs::read_to_string(home.settings_path()).unwrap();
    assert!(!file.contains(&credential) && file.contains(&user), "{file}");
    let stored = keyring_lookup(&format!("turn:{user}@{}", turn.url()));
    assert_eq!(stored.as_deref(), Some(credential.as_str()), "the credential is in the keyring");
    s.quit().await;
}
