//! A foreign WebRTC peer (the `webrtc` crate driven directly, the way a browser page
//! would follow the peer conventions) connects to an SDK peer: the SDK interoperates
//! with it, and when that peer's `control` channel goes silent while ICE still says
//! connected, the SDK treats the path as dead and starts repairing it.

mod support;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use peerchat_peer::PeerState;
use serde_json::{json, Value};
use support::*;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use webrtc::data_channel::RTCDataChannelInit;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceCandidateInit,
    RTCPeerConnectionIceEvent, RTCSessionDescription,
};

struct Trickle(mpsc::UnboundedSender<RTCIceCandidateInit>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Trickle {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(c) = event.candidate.to_json() {
            let _ = self.0.send(c);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_control_channel_is_treated_as_a_dead_path() {
    let s = server().await;
    let mut opts = options(&s);
    opts.engine.control_ping_interval = Duration::from_millis(300);
    opts.engine.control_dead_after = Duration::from_secs(2);
    let mut sdk = TestPeer::new(opts);
    sdk.join("lobby", "sdk").await.unwrap();
    let sdk_id = sdk.peer_id().unwrap();

    // The foreign peer: raw signalling plus a webrtc peer connection of its own.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}?key={KEY}", s.url())).await.unwrap();
    let welcome: Value = serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    let my_id = welcome["peerId"].as_str().unwrap().to_string();
    ws.send(WsMessage::text(json!({"type":"subscribe","channel":"lobby","name":"foreign"}).to_string())).await.unwrap();
    let remote = next_joined(&mut sdk).await;
    assert_eq!(remote.id(), my_id);

    let (cand_tx, mut cand_rx) = mpsc::unbounded_channel();
    let pc: Arc<dyn PeerConnection> = Arc::new(
        PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_handler(Arc::new(Trickle(cand_tx)))
            .with_udp_addrs(vec!["127.0.0.1:0"])
            .build()
            .await
            .unwrap(),
    );
    // The negotiated control channel, as the conventions require. It stays silent.
    let _control = pc
        .create_data_channel("control", Some(RTCDataChannelInit { negotiated: Some(0), ..Default::default() }))
        .await
        .unwrap();
    let foreign_offers = my_id.as_bytes() > sdk_id.as_bytes();
    let signal = |data: Value| WsMessage::text(json!({"type":"signal","to":sdk_id,"data":data}).to_string());
    if foreign_offers {
        let offer = pc.create_offer(None).await.unwrap();
        pc.set_local_description(offer.clone()).await.unwrap();
        ws.send(signal(json!({"gen":1,"description":offer}))).await.unwrap();
    }
    let mut remote_set = false;
    let mut queued: Vec<RTCIceCandidateInit> = Vec::new();
    let connected = tokio::time::timeout(WAIT, async {
        loop {
            tokio::select! {
                Some(c) = cand_rx.recv() => {
                    let c = json!({"candidate": c.candidate, "sdpMid": "0", "sdpMLineIndex": 0});
                    ws.send(signal(json!({"gen":1,"candidate":c}))).await.unwrap();
                }
                Some(Ok(m)) = ws.next() => {
                    let Ok(text) = m.to_text() else { continue };
                    let v: Value = serde_json::from_str(text).unwrap();
                    if v["type"] != "signal" { continue }
                    let data = &v["data"];
                    if let Some(d) = data.get("description") {
                        let desc: RTCSessionDescription = serde_json::from_value(d.clone()).unwrap();
                        let is_offer = d["type"] == "offer";
                        pc.set_remote_description(desc).await.unwrap();
                        remote_set = true;
                        for c in queued.drain(..) { let _ = pc.add_ice_candidate(c).await; }
                        if is_offer {
                            let answer = pc.create_answer(None).await.unwrap();
                            pc.set_local_description(answer.clone()).await.unwrap();
                            ws.send(signal(json!({"gen":1,"description":answer}))).await.unwrap();
                        }
                    } else if let Some(c) = data.get("candidate").filter(|c| !c.is_null()) {
                        let c: RTCIceCandidateInit = serde_json::from_value(c.clone()).unwrap();
                        if remote_set { let _ = pc.add_ice_candidate(c).await; } else { queued.push(c); }
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    if remote.state() == PeerState::Connected { return; }
                }
            }
        }
    })
    .await;
    assert!(connected.is_ok(), "the SDK connected to a peer that only follows the conventions");

    // The foreign side never answers control pings: after 2 s of silence the SDK starts
    // repairing the path even though ICE is fine.
    let t = std::time::Instant::now();
    assert!(tokio::time::timeout(WAIT, remote.wait_for(PeerState::Reconnecting)).await.unwrap());
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(1500), "declared dead too early: {took:?}");
    pc.close().await.unwrap();
}
