//! Signals from a misbehaving peer (bad SDP, bad candidates, nonsense generations, wrong
//! shapes) are dropped without a panic, and the SDK peer keeps working with others.

mod support;
use futures_util::{SinkExt, StreamExt};
use peerchat_peer::PeerState;
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type RawWs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw wire-protocol client ("mallory") joins the victim's room; returns its socket
/// and the victim's view of it.
async fn mallory_joins(s: &signal_server::ServerHandle, victim: &mut TestPeer) -> (RawWs, TestRemote) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}?key={KEY}", s.url())).await.unwrap();
    let _welcome = ws.next().await.unwrap().unwrap();
    let sub = json!({"type":"subscribe","channel":"lobby","name":"mallory","requestId":1});
    ws.send(WsMessage::text(sub.to_string())).await.unwrap();
    let mallory = next_joined(victim).await;
    (ws, mallory)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_signals_do_not_break_the_peer() {
    let s = server().await;
    let mut victim = joined(&s, "lobby", "victim").await;
    let victim_id = victim.peer_id().unwrap();

    // A raw client that speaks the wire protocol but sends nonsense signals.
    let (mut ws, mallory) = mallory_joins(&s, &mut victim).await;
    let garbage = [
        json!({"gen": 1}),
        json!({"gen": 0, "candidate": null}),
        json!({"gen": "one", "candidate": null}),
        json!({"gen": 1, "description": {"type": "offer", "sdp": "this is not SDP"}}),
        json!({"gen": 1, "description": {"type": "answer", "sdp": "v=0"}}),
        json!({"gen": 1, "description": {"type": "rollback", "sdp": ""}}),
        json!({"gen": 1, "description": {"type": "nonsense", "sdp": ""}}),
        json!({"gen": 1, "candidate": {"candidate": "candidate:not a candidate"}}),
        json!({"gen": 1, "candidate": {"candidate": 42}}),
        json!({"gen": u64::MAX, "description": {"type": "offer", "sdp": "v=0\r\n"}}),
        json!({"gen": u64::MAX, "candidate": {"candidate": "candidate:1 1 udp 1 999.1.1.1 1 typ host"}}),
        json!({"gen": 2, "description": {"type": "offer", "sdp": "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"}}),
        json!({"description": {"type": "offer", "sdp": ""}}),
        json!({"gen": 1, "description": {"type": "offer", "sdp": "x"}, "candidate": null}),
    ];
    for data in garbage {
        let f = json!({"type":"signal","to":victim_id,"data":data});
        ws.send(WsMessage::text(f.to_string())).await.unwrap();
    }
    // A marker after the garbage, on the same socket: once the victim has it, the server
    // has relayed every signal before it.
    let marker = json!({"type":"send","to":victim_id,"data":{"marker": true}});
    ws.send(WsMessage::text(marker.to_string())).await.unwrap();
    wait_event(&mut victim, |e| match e {
        peerchat_peer::PeerEvent::Message { data, .. } if data["marker"] == true => Some(()),
        _ => None,
    })
    .await;
    assert_ne!(mallory.state(), PeerState::Connected);

    // The victim still connects and chats with a well-behaved peer.
    let mut friend = joined(&s, "lobby", "friend").await;
    let mut r_friend = loop {
        let r = next_joined(&mut victim).await;
        if Some(r.id().to_string()) == friend.peer_id() {
            break r;
        }
    };
    let r_victim = loop {
        let r = next_joined(&mut friend).await;
        if r.id() == victim_id {
            break r;
        }
    };
    assert!(tokio::time::timeout(WAIT, r_friend.wait_for(PeerState::Connected)).await.unwrap());
    // Channels are opened on `connected`, as the app pattern says, on both sides.
    assert!(tokio::time::timeout(WAIT, r_victim.wait_for(PeerState::Connected)).await.unwrap());
    let (out, mut inc) = channel_pair(&r_victim, &mut r_friend).await;
    roundtrip(&out, &mut inc, "still fine").await;
}

/// A real offer SDP (a data channel, no candidates) from the engine itself.
async fn real_offer() -> String {
    use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};
    struct Quiet;
    #[async_trait::async_trait]
    impl PeerConnectionEventHandler for Quiet {}
    let pc = PeerConnectionBuilder::new()
        .with_handler(std::sync::Arc::new(Quiet))
        .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
        .build()
        .await
        .unwrap();
    pc.create_data_channel("x", None).await.unwrap();
    let sdp = pc.create_offer(None).await.unwrap().sdp;
    pc.close().await.unwrap();
    sdp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_with_ever_rising_generations_stop_costing_a_rebuild_after_a_budget() {
    let s = server().await;
    let mut victim = joined(&s, "lobby", "victim").await;
    let victim_id = victim.peer_id().unwrap();
    let (mut ws, _) = mallory_joins(&s, &mut victim).await;
    let sdp = real_offer().await;
    // 40 offers, each for a new generation: each one acted on is a new connection and an
    // answer back.
    const FLOOD: u64 = 40;
    for gen in 100..100 + FLOOD {
        let data = json!({"gen": gen, "description": {"type": "offer", "sdp": sdp}});
        let f = json!({"type":"signal","to":victim_id,"data":data,"requestId":gen});
        ws.send(WsMessage::text(f.to_string())).await.unwrap();
    }
    // Everything the victim sends back, until it has been quiet for 3 s: without a
    // budget all 40 answers come within about a second; with it, the first 8, then the
    // newest offer's once the budget refills (2 s).
    let mut answers = std::collections::BTreeSet::new();
    let mut acks = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(std::time::Duration::from_secs(3), ws.next()).await {
        assert!(tokio::time::Instant::now() < deadline, "the victim kept answering");
        let Ok(text) = msg.to_text() else { continue };
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        match v["type"].as_str() {
            Some("ack") => acks += 1,
            Some("signal") if v["data"]["description"]["type"] == "answer" => {
                answers.insert(v["data"]["gen"].as_u64().unwrap());
            }
            _ => {}
        }
    }
    assert_eq!(acks, FLOOD + 1, "the server relayed every offer (and acked the subscribe)");
    assert!(answers.len() <= 9, "answered {} of {FLOOD} offers: {answers:?}", answers.len());
    assert!(answers.contains(&100), "the first offers are answered: {answers:?}");
    assert!(answers.contains(&(100 + FLOOD - 1)), "the newest offer waited for the budget: {answers:?}");
}
