//! A socket that stops reading cannot stall the server or its senders: when its bounded
//! outbound queue overflows it is closed (1013) and its session ends.

mod support;
use serde_json::json;
use support::*;

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_others_carry_on() {
    let s = server_with(config(
        "[server]\nresume_queue = 1\nmax_channels_per_peer = 1\noutbound_queue = 8\nrate_burst = 1000\nrate_per_sec = 1000\n[[keys]]\nkey = \"pk_test_x\"",
    ))
    .await;
    let mut sender = connect(&s).await;
    let mut watcher = connect(&s).await;
    let mut mute = connect(&s).await;
    sender.subscribe("lobby", "s").await;
    watcher.subscribe("lobby", "w").await;
    mute.subscribe("lobby", "m").await;
    sender.recv_type("presence").await;
    sender.recv_type("presence").await;
    watcher.recv_type("presence").await;
    // `mute` never reads again. Push far more than the kernel's socket buffers hold.
    let blob = "z".repeat(60_000);
    let mut acked = 0;
    let mut cut_off = false;
    for _ in 0..400 {
        let r = sender.req();
        sender.send(json!({"type":"send","to":mute.peer_id,"data":blob,"requestId":r})).await;
        let mut reply = sender.recv().await;
        if reply["type"] == "presence" {
            // The sender shares the channel, so it also sees the slow peer leave.
            assert_eq!(left(&reply), vec![mute.peer_id.clone()]);
            reply = sender.recv().await;
        }
        assert_eq!(reply["requestId"], r);
        match reply["type"].as_str() {
            Some("ack") => acked += 1,
            Some("error") => {
                assert_eq!(reply["code"], "unknown_peer", "once cut off, the peer is gone: {reply}");
                cut_off = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(cut_off, "the slow consumer was cut off after {acked} frames");
    let delta = watcher.recv_type("presence").await;
    assert_eq!(left(&delta), vec![mute.peer_id.clone()], "its session ended");
    // The server still serves everyone else promptly.
    let reply = sender.request(json!({"type":"send","to":watcher.peer_id,"data":"ok"})).await;
    assert_eq!(reply["type"], "ack");
    assert_eq!(watcher.recv_type("message").await["data"], "ok");
    peerchat_testkit::wait::until("the slow consumer's socket gone", WAIT, || async {
        (s.stats().await.connections == 2).then_some(())
    })
    .await;
}
