//! The safety number in a peer's details view: both windows show the same digits for
//! each other; "Mark as verified" marks the peer, and after a restart of the app (the
//! same certificate, kept in its data directory) the peer is still verified. Through a
//! relay that swaps the fingerprints (a man in the middle), the windows show different
//! numbers and the verified peer raises a loud warning.

use serde_json::json;

use crate::support::{
    free_port, keyring_store, screenshots, serial, shown, two_windows, window_of, Driver, Home, UI_WAIT,
};
use crate::wd::{self, Session};

/// Opens `peer`'s details in the current window and returns (number, trust) once the
/// number is known and `trust` satisfies `ok`.
async fn safety(s: &Session, peer: &str, ok: impl Fn(&str) -> bool) -> (String, String) {
    s.js(
        "const li = [...document.querySelectorAll('[data-testid=peer]')]
           .find(li => li.querySelector('.peer-name').textContent === arguments[0]);
         li.querySelector('details').open = true;",
        json!([peer]),
    )
    .await
    .unwrap();
    wd::until(&format!("the safety number of {peer}"), UI_WAIT, || async {
        let v = s
            .js(
                "const li = [...document.querySelectorAll('[data-testid=peer]')]
                   .find(li => li.querySelector('.peer-name').textContent === arguments[0]);
                 return [li.querySelector('[data-testid=safety-number]').textContent, li.dataset.trust,
                         li.querySelector('[data-testid=peer-trust]').textContent];",
                json!([peer]),
            )
            .await?;
        let (number, trust) = (v[0].as_str().unwrap_or(""), v[1].as_str().unwrap_or(""));
        let six_groups = number.split(' ').filter(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit())).count();
        if six_groups == 6 && ok(trust) {
            Ok(Some((number.to_string(), trust.to_string())))
        } else {
            Err(wd::WdError(format!("shown: {v}")))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_windows_show_the_same_safety_number_and_verifying_is_remembered() {
    let _one = serial().await;
    let home = Home::new();
    home.write_settings(json!({ "displayName": "ada" }));
    let driver = Driver::start(&home).await;
    let (s, w1, w2) = two_windows(&driver, "lobby", "ada").await;
    let (seen_by_1, trust) = safety(&s, "ada 2", |t| !t.is_empty()).await;
    assert_eq!(trust, "unverified");
    s.switch_to(&w2).await.unwrap();
    let (seen_by_2, _) = safety(&s, "ada", |t| !t.is_empty()).await;
    assert_eq!(seen_by_1, seen_by_2, "both windows compute the same number");

    // The person compared it: "Mark as verified".
    s.switch_to(&w1).await.unwrap();
    s.js(
        "[...document.querySelectorAll('[data-testid=peer]')]
           .find(li => li.querySelector('.peer-name').textContent === 'ada 2')
           .querySelector('[data-testid=verify-peer]').click()",
        json!([]),
    )
    .await
    .unwrap();
    let (_, trust) = safety(&s, "ada 2", |t| t == "verified").await;
    assert_eq!(trust, "verified");
    assert!(!s.visible("trust-warning").await.unwrap(), "no warning for a verified peer");
    screenshots(&s, "safety-number").await;
    s.quit().await;

    // The app starts again: the same certificate, the peer still verified.
    let cert = home.data_dir().join("dtls.pem");
    assert!(cert.exists() && home.data_dir().join("verified.json").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&cert).unwrap().permissions().mode() & 0o777, 0o600, "the key is private");
    }
    let (s, _w1, _w2) = two_windows(&driver, "lobby", "ada").await;
    let (again, trust) = safety(&s, "ada 2", |t| t == "verified").await;
    assert_eq!((again.as_str(), trust.as_str()), (seen_by_1.as_str(), "verified"));
    s.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_man_in_the_middle_the_numbers_differ_and_a_verified_peer_is_a_warning() {
    const KEY: &str = "pk_live_e2e_mitm_7";
    let _one = serial().await;
    let mut cfg = signal_server::config::Config::for_keys(&[KEY]);
    cfg.listen = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = signal_server::server::Server::spawn(cfg).await.unwrap();
    // One certificate of its own towards each victim, named here by who sent the SDP
    // (the two windows share the app's certificate, so one fake for both would give both
    // windows the same pair of fingerprints).
    let swap = |t: String| {
        let from =
            serde_json::from_str::<serde_json::Value>(&t).ok().and_then(|v| v["from"].as_str().map(str::to_string));
        let h = std::hash::BuildHasher::hash_one(
            &std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(),
            from,
        );
        let bytes: Vec<String> = h.to_be_bytes().iter().cycle().take(32).map(|b| format!("{b:02X}")).collect();
        let fake = format!("sha-256 {}", bytes.join(":"));
        peerchat_testkit::ws_relay::swap_fingerprints(&t, &fake)
    };
    let relay = peerchat_testkit::ws_relay::start(server.addr(), std::sync::Arc::new(swap)).await;
    let url = format!("ws://{relay}/v1");

    // A previous run verified "eve 2" (this app's second window, so its certificate).
    let home = Home::new();
    let (cert, _) = peerchat_peer::identity::load_or_create(&home.data_dir().join("dtls.pem")).unwrap();
    let book = json!({ "verified": { "eve 2": cert.fingerprint().to_string() } });
    std::fs::write(home.data_dir().join("verified.json"), book.to_string()).unwrap();
    keyring_store(&url, KEY);
    home.write_settings(json!({ "serverUrl": url, "displayName": "eve" }));
    let driver = Driver::start(&home).await;
    let s = driver.launch(&["--windows", "2", "--room", "ops"]).await;
    let (w1, w2) = (window_of(&s, "eve").await, window_of(&s, "eve 2").await);

    s.switch_to(&w1).await.unwrap();
    let (seen_by_1, trust) = safety(&s, "eve 2", |t| !t.is_empty()).await;
    assert_eq!(trust, "changed", "eve 2 was verified with another certificate");
    shown(&s, "the warning banner", "trust-warning").await;
    let banner = s.text("trust-warning").await.unwrap();
    assert!(banner.contains("eve 2") && banner.contains("different certificate"), "{banner}");
    screenshots(&s, "man-in-the-middle").await;
    s.switch_to(&w2).await.unwrap();
    let (seen_by_2, _) = safety(&s, "eve", |t| !t.is_empty()).await;
    assert_ne!(seen_by_1, seen_by_2, "the two windows show different numbers");
    s.quit().await;
}
