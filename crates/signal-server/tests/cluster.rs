//! Several instances sharing rooms through a real redis-server: presence, `send`,
//! `signal` and `publish` across instances, a resume on another instance, and Redis
//! going away and coming back.

mod support;

use std::time::Duration;

use peerchat_testkit::redis::Redis;
use serde_json::{json, Value};
use signal_server::ServerHandle;
use support::*;

/// Two instances of one cluster (same secret, same Redis, same prefix).
async fn two_instances(redis: &Redis, grace_secs: u64) -> (ServerHandle, ServerHandle) {
    two_instances_with(redis, grace_secs, "").await
}

/// The same, with more fields for the key.
async fn two_instances_with(redis: &Redis, grace_secs: u64, key_fields: &str) -> (ServerHandle, ServerHandle) {
    let toml = format!(
        "[server]\nsecret = \"a-shared-secret-of-the-cluster\"\ngrace_period_secs = {grace_secs}\n\
         [cluster]\nredis = \"{}\"\nheartbeat_ms = 100\ninstance_ttl_ms = 500\n\
         [[keys]]\nkey = \"{KEY}\"\n{key_fields}\n",
        redis.url()
    );
    (server_with(config(&toml)).await, server_with(config(&toml)).await)
}

/// Reads presence frames until `peer` has joined `channel` (in a snapshot or a delta):
/// a peer that subscribed on another instance an instant ago may still be on its way.
async fn until_joined(c: &mut Client, channel: &str, peer: &str) {
    loop {
        let p = c.recv_type("presence").await;
        if p["channel"] == channel && joined(&p).iter().any(|j| j == peer) {
            return;
        }
    }
}

/// Subscribes and returns the snapshot, reading past presence deltas that arrive first.
async fn subscribe_in(c: &mut Client, channel: &str, name: &str) -> Value {
    let r = c.req();
    c.send(json!({"type":"subscribe","channel":channel,"name":name,"requestId":r})).await;
    let snap = loop {
        let p = c.recv_type("presence").await;
        if p.get("resumeToken").is_some_and(|t| !t.is_null()) {
            break p;
        }
    };
    assert_eq!(c.recv_type("ack").await["requestId"], r);
    snap
}

/// `a` on the first instance and `b` on the second, in "lobby", each having seen the other.
async fn pair_across(s1: &ServerHandle, s2: &ServerHandle) -> (Client, Client) {
    let mut a = connect(s1).await;
    let mut b = connect(s2).await;
    subscribe_in(&mut a, "lobby", "ada").await;
    let snap = subscribe_in(&mut b, "lobby", "bob").await;
    if !joined(&snap).contains(&a.peer_id) {
        until_joined(&mut b, "lobby", &a.peer_id).await;
    }
    until_joined(&mut a, "lobby", &b.peer_id).await;
    (a, b)
}

#[tokio::test]
async fn peers_on_two_instances_see_each_other_and_exchange_send_signal_and_publish() {
    let redis = Redis::start();
    let (s1, s2) = two_instances(&redis, 5).await;
    let (mut a, mut b) = pair_across(&s1, &s2).await;
    assert_eq!(s2.stats().await.remote_peers, 1, "instance 2 knows ada from Redis");

    // send: acked once the other instance has it, then delivered exactly once.
    let reply = a.request(json!({"type":"send","to":b.peer_id,"data":{"n":1}})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let m = b.recv_type("message").await;
    assert_eq!((m["from"].as_str(), m["data"]["n"].as_i64()), (Some(a.peer_id.as_str()), Some(1)));
    assert!(m.get("channel").is_none_or(Value::is_null), "a direct message names no channel: {m}");
    // signal, the other way.
    let reply = b.request(json!({"type":"signal","to":a.peer_id,"data":{"sdp":"x"}})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let sig = a.recv_type("signal").await;
    assert_eq!((sig["from"].as_str(), sig["data"]["sdp"].as_str()), (Some(b.peer_id.as_str()), Some("x")));
    // publish reaches the room across instances.
    let reply = a.request(json!({"type":"publish","channel":"lobby","data":"hello room"})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let m = b.recv_type("message").await;
    assert_eq!((m["channel"].as_str(), m["data"].as_str()), (Some("lobby"), Some("hello room")));
    // A rename is seen across instances; so is a leave.
    subscribe_in(&mut b, "lobby", "bobby").await;
    let p = a.recv_type("presence").await;
    assert_eq!(p["joined"][0]["name"], "bobby", "{p}");
    let reply = b.request(json!({"type":"unsubscribe","channel":"lobby"})).await;
    assert_eq!(reply["type"], "ack");
    let p = a.recv_type("presence").await;
    assert_eq!(left(&p), vec![b.peer_id.clone()]);
    // Not in a common channel any more: a typed error, as on one node.
    let reply = a.request(json!({"type":"send","to":b.peer_id,"data":1})).await;
    assert_eq!(reply["code"], "unknown_peer", "{reply}");
}

#[tokio::test]
async fn a_peer_resumes_on_the_other_instance_with_its_identity_rooms_and_queued_frames() {
    let redis = Redis::start();
    let (s1, s2) = two_instances(&redis, 30).await;
    let (mut a, b) = pair_across(&s1, &s2).await;
    // b drops; its session waits on instance 2, which queues what a sends meanwhile.
    let (b_id, b_token) = (b.peer_id.clone(), b.token.clone());
    drop(b);
    for n in 0..3 {
        let reply = a.request(json!({"type":"send","to":b_id,"data":n})).await;
        assert_eq!(reply["type"], "ack", "{reply}");
    }
    // b comes back through instance 1.
    let mut b = resume(&s1, &b_token).await;
    assert_eq!(b.welcome["resumed"], true, "{}", b.welcome);
    assert_eq!(b.peer_id, b_id, "same identity");
    let snap = b.recv_type("presence").await;
    assert_eq!(joined(&snap), vec![a.peer_id.clone()], "still in its room");
    for n in 0..3 {
        let m = b.recv_type("message").await;
        assert_eq!(m["data"], n, "queued frames arrive once, in order: {m}");
    }
    // Others saw no leave and no join.
    a.silent_for(Duration::from_millis(300)).await;
    // And it is reachable where it is now.
    let reply = a.request(json!({"type":"send","to":b_id,"data":"here"})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    assert_eq!(b.recv_type("message").await["data"], "here");
    assert_eq!(s2.stats().await.sessions, 0, "instance 2 let the session go");
}

#[tokio::test]
async fn instances_say_when_redis_is_gone_refuse_what_needs_it_and_recover_on_their_own() {
    let mut redis = Redis::start();
    let (s1, s2) = two_instances(&redis, 30).await;
    let (mut a, mut b) = pair_across(&s1, &s2).await;

    redis.stop();
    // Until the instances notice, a send may still be accepted by nobody: it is then
    // refused with a typed error, never acked and lost.
    let refused = loop {
        let reply = a.request(json!({"type":"send","to":b.peer_id,"data":"while down"})).await;
        if reply["type"] == "error" {
            break reply;
        }
        assert_eq!(reply["type"], "ack");
        assert_eq!(b.recv_type("message").await["data"], "while down", "an ack means it arrived");
    };
    assert_eq!(refused["code"], "peer_unavailable", "{refused}");

    // Redis comes back empty; the instances store their peers again and carry on.
    redis.start_again();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = a.request(json!({"type":"send","to":b.peer_id,"data":"after"})).await;
        if reply["type"] == "ack" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no recovery within 10 s: {reply}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(b.recv_type("message").await["data"], "after");
    // Presence stayed right throughout: nobody saw anyone leave.
    a.silent_for(Duration::from_millis(500)).await;
    b.silent_for(Duration::from_millis(10)).await;
    let stored = redis.command(&["SCARD", "peerchat:peers"]).unwrap_or_default();
    assert_eq!(stored, ":2", "both peers are stored again");
    drop((s1, s2));
}

/// The cluster's count of `kind` quota windows, summed, as Redis holds it.
fn quota_in_redis(redis: &Redis, kind: &str) -> String {
    let sum = "local s = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do s = s + tonumber(redis.call('GET', k)) end return s";
    redis.command(&["EVAL", sum, "0", &format!("peerchat:quota:*:{kind}:*")]).unwrap_or_default()
}

#[tokio::test]
async fn a_keys_message_quota_is_shared_by_the_instances() {
    let redis = Redis::start();
    let (s1, s2) = two_instances_with(&redis, 5, "messages_per_period = 10\nperiod_secs = 3600").await;
    let (mut a, mut b) = pair_across(&s1, &s2).await;
    for n in 0..6 {
        let reply = a.request(json!({"type":"send","to":b.peer_id,"data":n})).await;
        assert_eq!(reply["type"], "ack", "{reply}");
        b.recv_type("message").await;
    }
    // Instance 1 adds its count to Redis within its sync interval.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while quota_in_redis(&redis, "messages") != ":6" {
        assert!(tokio::time::Instant::now() < deadline, "count not in Redis: {}", quota_in_redis(&redis, "messages"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Instance 2 learns it with its own first sync: b gets about the 4 left, not 10.
    let mut accepted = 0;
    let refused = loop {
        let reply = b.request(json!({"type":"send","to":a.peer_id,"data":"b"})).await;
        if reply["type"] == "error" {
            break reply;
        }
        accepted += 1;
        assert!(accepted <= 5, "instance 2 does not know the key's quota is shared");
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(refused["code"], "over_message_quota", "{refused}");
    assert!(accepted >= 4, "the quota was cut short: {accepted} of the 4 left");
    for _ in 0..accepted {
        assert_eq!(a.recv_type("message").await["data"], "b", "what b was allowed arrived");
    }
    // Instance 1 learns the total at its next sync, and refuses from then on.
    let mut extra = 0;
    loop {
        let reply = a.request(json!({"type":"send","to":b.peer_id,"data":"a"})).await;
        if reply["type"] == "error" {
            assert_eq!(reply["code"], "over_message_quota", "{reply}");
            break;
        }
        extra += 1;
        assert!(extra <= 1, "instance 1 never learned what instance 2 used");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // The key's limit held across both, give or take one sync interval per instance.
    let total = 6 + accepted + extra;
    assert!((10..=12).contains(&total), "{total} accepted for a quota of 10");
}

/// Redis refusing writes while every connection stays up (out of memory): the records
/// it refused are written once it takes writes again, so the store matches the sessions
/// (an instance that starts later loads them from it).
#[tokio::test]
async fn records_redis_refused_are_written_once_it_takes_writes_again() {
    let redis = Redis::start();
    let (s1, s2) = two_instances(&redis, 30).await;
    let (mut a, mut b) = pair_across(&s1, &s2).await;
    let stored = |pid: &str| redis.command(&["HGET", &format!("peerchat:peer:{pid}"), "rec"]);
    assert_eq!(redis.command(&["CONFIG", "SET", "maxmemory", "1"]).as_deref(), Some("+OK"));

    // c joins on instance 1: its record reaches instance 2 (a publish is not refused),
    // but Redis refused to store it, in the same pipeline.
    let mut c = connect(&s1).await;
    subscribe_in(&mut c, "lobby", "cy").await;
    until_joined(&mut b, "lobby", &c.peer_id).await;
    let refused = stored(&c.peer_id);
    assert_eq!(refused.as_deref(), Some("$-1"), "Redis took the record despite maxmemory: {refused:?}");
    // Instance 1 writes to Redis in order: once a's send is answered, every write of c's
    // record has been tried (and tried again) and refused.
    let r = a.req();
    a.send(json!({"type":"send","to":b.peer_id,"data":"after c","requestId":r})).await;
    while a.recv().await["requestId"] != r {}

    assert_eq!(redis.command(&["CONFIG", "SET", "maxmemory", "0"]).as_deref(), Some("+OK"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stored(&c.peer_id).as_deref() == Some("$-1") {
        assert!(tokio::time::Instant::now() < deadline, "the refused record was never written again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A third instance loads every peer from the store, the refused one included.
    let s3 = two_instances(&redis, 30).await.0;
    let mut d = connect(&s3).await;
    let snap = subscribe_in(&mut d, "lobby", "dee").await;
    let mut seen = joined(&snap);
    while !seen.contains(&c.peer_id) {
        let p = d.recv_type("presence").await;
        seen.extend(joined(&p));
    }
}

/// An instance whose bus connection went silent without closing (a NAT or firewall on
/// the path forgot it) notices within seconds, reconnects and catches up; its peers then
/// see whoever joined meanwhile.
#[tokio::test]
async fn an_instance_whose_bus_went_silent_notices_and_catches_up() {
    let redis = Redis::start();
    let proxy = peerchat_testkit::proxy::FreezingProxy::start(redis.port());
    let toml = |url: String| {
        format!(
            "[server]\nsecret = \"a-shared-secret-of-the-cluster\"\ngrace_period_secs = 30\n\
             [cluster]\nredis = \"{url}\"\nheartbeat_ms = 100\ninstance_ttl_ms = 5000\n[[keys]]\nkey = \"{KEY}\"\n"
        )
    };
    let s1 = server_with(config(&toml(redis.url()))).await;
    let s2 = server_with(config(&toml(format!("redis://127.0.0.1:{}", proxy.port())))).await;
    let (_a, mut b) = pair_across(&s1, &s2).await;

    proxy.freeze();
    let mut c = connect(&s1).await;
    subscribe_in(&mut c, "lobby", "cy").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while s2.stats().await.remote_peers < 2 {
        assert!(tokio::time::Instant::now() < deadline, "instance 2 never heard of the peer that joined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_joined(&mut b, "lobby", &c.peer_id).await;
}

/// A session that ended on its instance (here the operator disconnected it) does not
/// come back through its token on another instance while that one lives: the token
/// gets a new session, as it would on one node.
#[tokio::test]
async fn a_session_ended_on_a_live_instance_does_not_come_back_elsewhere() {
    let redis = Redis::start();
    let (s1, s2) = two_instances(&redis, 30).await;
    let (a, mut b) = pair_across(&s1, &s2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while s2.stats().await.instances < 2 {
        assert!(tokio::time::Instant::now() < deadline, "instance 2 never saw instance 1's heartbeat");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (a_id, a_token) = (a.peer_id.clone(), a.token.clone());
    assert!(s1.disconnect_peer(&a_id).await);
    while !left(&b.recv_type("presence").await).contains(&a_id) {}

    let again = resume(&s2, &a_token).await;
    assert_ne!(again.peer_id, a_id, "a session that ended came back on another instance");
}
