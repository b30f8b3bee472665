//! TURN credentials typed into the settings go to the keyring, never to settings.json;
//! a join puts them back into the ICE servers, and with the "only through TURN relays"
//! policy two windows then connect through a real coturn: the path says relayed. A TURN
//! server whose credential is nowhere fails the join with an error the person can act on.

use peerchat_chat::ChatEvent;
use peerchat_desktop::keystore::SecretStore;
use peerchat_peer::{IceServer, IceTransportPolicy, Route};
use peerchat_testkit::coturn::Coturn;
use peerchat_testkit::ports::free_tcp_udp_port;

use crate::support::{app, window};

const SECRET: &str = "backend-turn-secret-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_credentials_stay_in_the_keyring_and_a_relay_only_join_uses_them() {
    let port = free_tcp_udp_port("127.0.0.1");
    let turn = Coturn::start_with(None, "127.0.0.1", port, SECRET, "peerchat.test", &["allow-loopback-peers"]);
    // What a TURN provider hands a person: a user name and a credential (here made the
    // way coturn's use-auth-secret checks them, valid for a day).
    let expiry = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 86_400;
    let user = format!("{expiry}:ann");
    let credential = signal_server::turn::credential(SECRET.as_bytes(), &user);

    let (t, store) = app();
    let b = &t.backend;
    b.use_local_server("main", false).await.unwrap();
    let mut s = b.get_settings();
    s.ice_servers =
        vec![IceServer { urls: vec![turn.url()], username: Some(user.clone()), credential: Some(credential.clone()) }];
    s.ice_transport_policy = IceTransportPolicy::Relay;
    b.save_settings(s).await.unwrap();

    let file = std::fs::read_to_string(&t.settings_path).unwrap();
    assert!(!file.contains(&credential), "the credential reached settings.json: {file}");
    assert!(file.contains(&user) && file.contains("\"relay\""), "{file}");
    assert_eq!(b.get_settings().ice_servers[0].credential, None, "the UI never gets it back");
    let account = format!("turn:{user}@{}", turn.url());
    assert_eq!(store.get(&account).unwrap().map(|k| k.expose().to_string()), Some(credential));

    let (mut w1, s1) = window("main");
    let (mut w2, s2) = window("chat-2");
    let a = b.join("main", "lobby", "alice", s1).await.unwrap();
    let c = b.join("chat-2", "lobby", "bob", s2).await.unwrap();
    for (w, other) in [(&mut w1, &c.peer_id), (&mut w2, &a.peer_id)] {
        let ev = w.wait_for("a path", |e| matches!(e, ChatEvent::Path { peer_id, .. } if peer_id == other)).await;
        let ChatEvent::Path { route, path, .. } = ev else { unreachable!() };
        assert_eq!(route, Route::Relayed, "{path:?}");
    }
    let view = b.peer_path("main", &c.peer_id).await.unwrap().expect("a path to bob");
    assert_eq!((view.route, view.words), (Route::Relayed, "relayed via TURN"));
    // Our end is an allocation on that coturn: its address, in its relay port range.
    assert_eq!(view.path.local, peerchat_peer::CandidateKind::Relay, "{view:?}");
    let relay_port: u16 = view.path.local_address.strip_prefix("127.0.0.1:").unwrap().parse().unwrap();
    assert!((49152..=65000).contains(&relay_port), "{view:?}");

    // Without the credential anywhere, a join says what to do.
    b.leave("chat-2").await;
    store.delete(&account).unwrap();
    let (_w3, s3) = window("chat-3");
    let err = b.join("chat-3", "lobby", "carol", s3).await.unwrap_err();
    assert_eq!(err.kind, "turn_credential_missing", "{err:?}");
}
