//! Resume within the grace period: same peer id, nobody sees left/joined, frames queued
//! meanwhile are delivered; takeover of a live socket; grace expiry; tokens across a
//! restart with the same secret.

mod support;
use serde_json::json;
use std::time::Duration;
use support::*;

/// Waits until the server has noticed a closed socket: its session is in its grace period.
async fn in_grace(s: &signal_server::ServerHandle) {
    peerchat_testkit::wait::until("a session in its grace period", WAIT, || async {
        (s.stats().await.sessions_in_grace == 1).then_some(())
    })
    .await
}

async fn room(s: &signal_server::ServerHandle) -> (Client, Client) {
    let mut a = connect(s).await;
    let mut b = connect(s).await;
    a.subscribe("lobby", "alice").await;
    b.subscribe("lobby", "bob").await;
    a.recv_type("presence").await;
    (a, b)
}

#[tokio::test]
async fn resume_keeps_the_peer_id_and_others_see_nothing() {
    let s = server().await;
    let (mut a, b) = room(&s).await;
    let (id, token) = (b.peer_id.clone(), b.token.clone());
    b.close().await;
    let mut b2 = resume(&s, &token).await;
    assert_eq!(b2.welcome["resumed"], true);
    assert_eq!(b2.peer_id, id);
    let snap = b2.recv_type("presence").await;
    assert_eq!(snap["channel"], "lobby", "a fresh snapshot for each channel follows the welcome");
    assert_eq!(joined(&snap), vec![a.peer_id.clone()]);
    a.silent_for(Duration::from_millis(300)).await;
    // And the resumed session works.
    a.send(json!({"type":"send","to":id,"data":"hi"})).await;
    assert_eq!(b2.recv_type("message").await["data"], "hi");
}

#[tokio::test]
async fn frames_sent_during_the_grace_period_are_delivered_in_order_on_resume() {
    let s = server().await;
    let (mut a, b) = room(&s).await;
    let (id, token) = (b.peer_id.clone(), b.token.clone());
    b.close().await;
    in_grace(&s).await;
    for i in 0..5 {
        assert_eq!(a.request(json!({"type":"send","to":id,"data":i})).await["type"], "ack");
    }
    a.send(json!({"type":"publish","channel":"lobby","data":"pub"})).await;
    let mut b2 = resume(&s, &token).await;
    b2.recv_type("presence").await;
    for i in 0..5 {
        assert_eq!(b2.recv_type("message").await["data"], i);
    }
    assert_eq!(b2.recv_type("message").await["data"], "pub");
}

#[tokio::test]
async fn a_full_resume_queue_gives_peer_unavailable() {
    let s = server_with(config("[server]\nresume_queue = 3\n[[keys]]\nkey = \"pk_test_x\"")).await;
    let (mut a, b) = room(&s).await;
    let id = b.peer_id.clone();
    b.close().await;
    in_grace(&s).await;
    for _ in 0..3 {
        assert_eq!(a.request(json!({"type":"send","to":id,"data":1})).await["type"], "ack");
    }
    let e = a.request(json!({"type":"send","to":id,"data":1})).await;
    assert_eq!(e["code"], "peer_unavailable");
    let e = a.request(json!({"type":"signal","to":id,"data":{"gen":1,"candidate":null}})).await;
    assert_eq!(e["code"], "peer_unavailable");
    let e = a.request(json!({"type":"publish","channel":"lobby","data":1})).await;
    assert_eq!(e["code"], "peer_unavailable", "publish names the member it could not queue for");
    assert!(e["message"].as_str().unwrap().contains(&id));
    assert_eq!(a.recv_type("ack").await["type"], "ack", "the publish itself was accepted for the others");
}

#[tokio::test]
async fn resuming_while_the_old_socket_lives_takes_it_over() {
    let s = server().await;
    let (mut a, mut b) = room(&s).await;
    let mut b2 = resume(&s, &b.token).await;
    assert_eq!(b2.peer_id, b.peer_id);
    assert_eq!(b.closed().await, (1000, "resumed".to_string()));
    b2.recv_type("presence").await;
    a.silent_for(Duration::from_millis(300)).await;
    a.send(json!({"type":"send","to":b2.peer_id,"data":"to the new socket"})).await;
    assert_eq!(b2.recv_type("message").await["data"], "to the new socket");
}

#[tokio::test]
async fn garbage_or_foreign_tokens_give_a_fresh_session() {
    let s = server().await;
    let fresh = resume(&s, "not-a-token").await;
    assert_eq!(fresh.welcome["resumed"], false);
    let other = server().await; // another secret
    let stranger = connect(&other).await;
    let fresh2 = resume(&s, &stranger.token).await;
    assert_eq!(fresh2.welcome["resumed"], false);
    assert_ne!(fresh2.peer_id, stranger.peer_id);
}

#[tokio::test]
async fn a_token_is_bound_to_its_key() {
    let s = server_with(signal_server::Config::for_keys(&[KEY, "pk_two"])).await;
    let a = connect(&s).await;
    let token = a.token.clone();
    a.close().await;
    let b = try_connect(&format!("{}&resume={token}", url(&s, "pk_two")), None).await.unwrap();
    assert_eq!(b.welcome["resumed"], false);
}

#[tokio::test(start_paused = true)]
async fn after_the_grace_period_others_see_left_and_the_token_no_longer_resumes() {
    let s = server().await; // grace 30 s, on the paused clock
    let (mut a, b) = room(&s).await;
    let (id, token) = (b.peer_id.clone(), b.token.clone());
    b.close().await;
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert_eq!(s.stats().await.sessions_in_grace, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delta = a.recv_type("presence").await;
    assert_eq!(left(&delta), vec![id.clone()]);
    let again = resume(&s, &token).await;
    assert_eq!(again.welcome["resumed"], false, "this instance knows the session ended");
    assert_ne!(again.peer_id, id);
}

/// Subscribes and returns the fresh token the snapshot and ack carry.
async fn subscribe_for_token(c: &mut Client, channel: &str, name: &str) -> String {
    let r = c.req();
    c.send(json!({"type":"subscribe","channel":channel,"name":name,"requestId":r})).await;
    let snap = c.recv_type("presence").await;
    let ack = c.recv_type("ack").await;
    let token = snap["resumeToken"].as_str().expect("snapshot carries a token").to_string();
    assert_eq!(ack["resumeToken"], token.as_str(), "ack carries the same token");
    token
}

#[tokio::test]
async fn a_restart_with_the_same_secret_keeps_identities_names_and_channels() {
    let toml = "[server]\nsecret = \"0123456789abcdef-same-secret\"\n[[keys]]\nkey = \"pk_test_x\"";
    let first = server_with(config(toml)).await;
    let mut a = connect(&first).await;
    let mut b = connect(&first).await;
    let a_tok = subscribe_for_token(&mut a, "lobby", "alice").await;
    let b_tok = subscribe_for_token(&mut b, "lobby", "bob").await;
    first.shutdown();
    assert_eq!(a.recv_type("presence").await["joined"][0]["name"], "bob");
    assert_eq!(a.recv_type("going_away").await["type"], "going_away");
    first.stopped().await;

    let second = server_with(config(toml)).await;
    let mut a2 = resume(&second, &a_tok).await;
    assert_eq!((a2.welcome["resumed"].clone(), a2.peer_id.clone()), (json!(true), a.peer_id.clone()));
    let snap = a2.recv_type("presence").await;
    assert_eq!(snap["channel"], "lobby", "channels come back from the token");
    assert!(joined(&snap).is_empty());
    let mut b2 = resume(&second, &b_tok).await;
    assert_eq!(b2.peer_id, b.peer_id);
    assert_eq!(b2.recv_type("presence").await["joined"], json!([{"peerId": a.peer_id, "name": "alice"}]));
    let refresh = a2.recv_type("presence").await;
    assert_eq!(
        refresh["joined"],
        json!([{"peerId": b.peer_id, "name": "bob"}]),
        "joined for a known peer is a refresh"
    );
    a2.send(json!({"type":"send","to":b.peer_id,"data":"after restart"})).await;
    assert_eq!(b2.recv_type("message").await["data"], "after restart");
}

#[tokio::test]
async fn unsubscribe_ack_carries_a_token_without_the_channel() {
    let toml = "[server]\nsecret = \"0123456789abcdef-same-secret\"\n[[keys]]\nkey = \"pk_test_x\"";
    let first = server_with(config(toml)).await;
    let mut a = connect(&first).await;
    subscribe_for_token(&mut a, "one", "alice").await;
    subscribe_for_token(&mut a, "two", "alice").await;
    let ack = a.request(json!({"type":"unsubscribe","channel":"one"})).await;
    let token = ack["resumeToken"].as_str().unwrap().to_string();
    first.shutdown();
    first.stopped().await;
    let second = server_with(config(toml)).await;
    let mut a2 = resume(&second, &token).await;
    assert_eq!(a2.recv_type("presence").await["channel"], "two");
    a2.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_takeover_needs_no_free_connection_slot() {
    let s = server_with(config("[[keys]]\nkey = \"pk_test_x\"\nmax_connections = 1")).await;
    let mut a = connect(&s).await;
    let a2 = resume(&s, &a.token).await;
    assert_eq!(a2.peer_id, a.peer_id);
    assert_eq!(a.closed().await, (1000, "resumed".to_string()));
}

#[tokio::test]
async fn a_restart_with_another_secret_gives_new_identities() {
    let first = server().await;
    let a = connect(&first).await;
    first.shutdown();
    first.stopped().await;
    let second = server().await;
    let a2 = resume(&second, &a.token).await;
    assert_eq!(a2.welcome["resumed"], false);
    assert_ne!(a2.peer_id, a.peer_id);
}

#[tokio::test]
async fn frames_sent_by_a_taking_over_socket_before_its_welcome_wait_for_it() {
    let s = server().await;
    let (mut a, b) = room(&s).await;
    // Open the new socket by hand so a frame can go out before the welcome is read.
    let url = format!("{}&resume={}", url(&s, KEY), b.token);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let sub = json!({"type":"subscribe","channel":"second","name":"bob","requestId":1}).to_string();
    futures_util::SinkExt::send(&mut ws, tokio_tungstenite::tungstenite::Message::text(sub)).await.unwrap();
    let mut types = Vec::new();
    while types.len() < 4 {
        let m = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws)).await.unwrap().unwrap().unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            types.push(v["type"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        types,
        ["welcome", "presence", "presence", "ack"],
        "welcome first, then the lobby snapshot, then the answer"
    );
    a.silent_for(Duration::from_millis(200)).await;
}

/// A token copied from a client (a log, a URL a proxy kept) is worth nothing once its
/// owner resumed with it: each welcome issues the next token, and only the latest one
/// resumes the session. The owner's connection is not disturbed by the attempt.
#[tokio::test]
async fn a_resume_makes_every_earlier_token_worthless() {
    let s = server().await;
    let (mut a, b) = room(&s).await;
    let (id, first) = (b.peer_id.clone(), b.token.clone());
    b.close().await;
    let mut b2 = resume(&s, &first).await;
    assert_eq!((b2.welcome["resumed"].as_bool(), b2.peer_id.as_str()), (Some(true), id.as_str()));
    assert_ne!(b2.token, first, "the welcome of a resume carries a new token");

    let thief = resume(&s, &first).await;
    assert_eq!(thief.welcome["resumed"], false, "an earlier token resumes nothing");
    assert_ne!(thief.peer_id, id);
    b2.recv_type("presence").await;
    a.send(json!({"type":"send","to":id,"data":"still yours"})).await;
    assert_eq!(b2.recv_type("message").await["data"], "still yours", "the owner kept its socket");

    let latest = b2.token.clone();
    b2.close().await;
    let b3 = resume(&s, &latest).await;
    assert_eq!((b3.welcome["resumed"].as_bool(), b3.peer_id.as_str()), (Some(true), id.as_str()));
}

/// Expiry counts for every token, a live session's included; a connected session gets a
/// fresh token before its own expires (`resume_token` frames, every half lifetime), so
/// holding a connection for longer than the lifetime loses nothing.
#[tokio::test]
async fn an_expired_token_resumes_nothing_and_connected_sessions_get_fresh_ones() {
    let s = server_with(config(
        "[server]\ngrace_period_secs = 2\nresume_token_ttl_secs = 2\n[[keys]]\nkey = \"pk_test_x\"",
    ))
    .await;
    let mut c = try_connect(&url(&s, "pk_test_x"), None).await.unwrap();
    let (id, first) = (c.peer_id.clone(), c.token.clone());
    let mut latest = String::new();
    for _ in 0..3 {
        let fresh = c.recv_type("resume_token").await;
        latest = fresh["resumeToken"].as_str().expect("a token").to_string();
    }
    // Three refreshes, a second apart: the first token (2 s) has expired.
    c.close().await;
    let with_first = try_connect(&format!("{}&resume={first}", url(&s, "pk_test_x")), None).await.unwrap();
    assert_eq!(with_first.welcome["resumed"], false, "an expired token resumed a session");
    let with_latest = try_connect(&format!("{}&resume={latest}", url(&s, "pk_test_x")), None).await.unwrap();
    assert_eq!((with_latest.welcome["resumed"].as_bool(), with_latest.peer_id.as_str()), (Some(true), id.as_str()));
}
