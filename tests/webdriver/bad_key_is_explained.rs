//! A key the server refuses gives a clear message on screen, at "Check" and at "Join".

use signal_server::config::Config;
use signal_server::server::Server;

use crate::support::{screenshots, serial, shown, Driver, Home, UI_WAIT};
use crate::wd::until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_is_explained() {
    let _one = serial().await;
    let server = Server::spawn(Config::for_keys(&["pk_live_the_right_key"])).await.unwrap();
    let home = Home::new();
    let driver = Driver::start(&home).await;
    let s = driver.launch(&[]).await;
    shown(&s, "the key screen", "use-local").await;
    s.type_into("server-url", &server.url()).await.unwrap();
    s.type_into("key-input", "pk_live_a_wrong_key").await.unwrap();
    s.click("check-key").await.unwrap();
    let msg = until("the check's verdict", UI_WAIT, || async {
        Ok(s.visible("key-error").await?.then_some(s.text("key-error").await?))
    })
    .await;
    assert!(msg.contains("refused this key"), "{msg}");

    // Saved anyway, the join fails the same way and brings the key screen back, saying why.
    s.click("save-key").await.unwrap();
    shown(&s, "the join screen", "join-button").await;
    s.type_into("name-input", "gil").await.unwrap();
    s.click("join-button").await.unwrap();
    let msg = until("the join's error", UI_WAIT, || async {
        Ok(s.visible("key-error").await?.then_some(s.text("key-error").await?))
    })
    .await;
    assert!(s.visible("use-local").await.unwrap(), "back on the key screen");
    assert!(msg.contains("refused this key"), "{msg}");
    screenshots(&s, "bad-key").await;
    s.quit().await;
    server.shutdown();
}
