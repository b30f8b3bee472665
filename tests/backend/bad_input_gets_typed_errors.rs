//! Bad input to the commands gets a typed `{kind, message}` error and changes nothing.

use peerchat_desktop::settings::Settings;
use peerchat_peer::IceServer;

use crate::support::{app, window};

#[tokio::test]
async fn bad_input_gets_typed_errors() {
    let (t, store) = app();
    let b = &t.backend;
    let cases = [
        ("http://example.com/v1", "pk_1", "invalid_settings"),
        ("ws://", "pk_1", "invalid_settings"),
        ("ws://example.com/v1", "   ", "invalid_input"),
        ("ws://example.com/v1", "pk with spaces", "invalid_input"),
        ("ws://example.com/v1", &"k".repeat(300), "invalid_input"),
    ];
    for (url, key, kind) in cases {
        let err = b.save_key("main", url, key, false).await.unwrap_err();
        assert_eq!(err.kind, kind, "{url} / {key}: {err:?}");
        assert!(!err.message.is_empty());
    }
    assert!(!t.settings_path.exists(), "nothing was saved");
    assert!(peerchat_desktop::keystore::SecretStore::get(&store, "ws://example.com/v1").unwrap().is_none());

    let (_w, sink) = window("main");
    assert_eq!(b.join("main", "  ", "ann", sink.clone()).await.unwrap_err().kind, "invalid_input");
    assert_eq!(b.join("main", "lobby", &"n".repeat(65), sink.clone()).await.unwrap_err().kind, "invalid_input");
    assert_eq!(b.join("main", "lob\u{7}by", "ann", sink).await.unwrap_err().kind, "invalid_input");
    assert_eq!(b.send_message("main", "hello").await.unwrap_err().kind, "not_joined");

    let good = Settings { display_name: "ann".into(), ..Settings::default() };
    b.set_settings(good.clone()).unwrap();
    let bad = Settings {
        ice_servers: vec![IceServer { urls: vec!["turn:turn.example.com".into()], username: None, credential: None }],
        ..good.clone()
    };
    let err = b.set_settings(bad).unwrap_err();
    assert_eq!(err.kind, "invalid_settings");
    assert_eq!(b.get_settings(), good, "a refused change leaves the settings as they were");
    assert_eq!(Settings::load(&t.settings_path), Some(good));
}

#[test]
fn command_errors_serialise_as_kind_and_message() {
    let e = peerchat_desktop::error::CommandError::new("no_key", "no key is saved for this server");
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        serde_json::json!({"kind": "no_key", "message": "no key is saved for this server"})
    );
}
