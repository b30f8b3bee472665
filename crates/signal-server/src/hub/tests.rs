//! The hub's rules for sessions that move between instances, driven sans-IO: the state
//! gets commands and cluster input with the time passed in, and what it asks of Redis
//! is read from the link's effect queue. No sockets, no Redis.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::keys::KeyTable;
use super::state::{State, HANDOVER_WAIT};
use super::{ConnId, ConnectRequest};
use crate::cluster::wire::{BusMsg, Envelope, PeerRecord};
use crate::cluster::{ClusterIn, ClusterLink, Effect};
use crate::config::Config;
use crate::outbox::{outbox, Receiver};
use crate::token::{TokenClaims, TokenSigner};

const KEY: &str = "pk_test_hub";
const SECRET: &[u8] = b"a-shared-secret-of-the-cluster";

/// Instance "B" of a cluster in which instance "A" owns peer "p" (in "lobby").
struct Harness {
    state: State,
    effects: mpsc::Receiver<Effect>,
    cfg: Arc<Config>,
    keys: KeyTable,
}

impl Harness {
    fn new() -> Harness {
        let mut cfg = Config::for_keys(&[KEY]);
        cfg.secret = SECRET.to_vec();
        let cfg = Arc::new(cfg);
        let keys = KeyTable::new(&cfg.keys);
        let (link, effects): (ClusterLink, _) = ClusterLink::for_tests("B");
        let mut state = State::new(cfg.clone(), keys.clone(), "B".into(), Some(link));
        state.unix = Duration::from_secs(1_800_000_000);
        let kid = keys.lookup(KEY).expect("the test key").id.to_string();
        let rec =
            PeerRecord { pid: "p".into(), ver: 1, inst: "A".into(), kid, name: "ada".into(), ch: vec!["lobby".into()] };
        state.on_cluster(ClusterIn::Synced { records: vec![rec], dead: vec![] });
        state.on_cluster(ClusterIn::Instances { alive: vec!["A".into(), "B".into()], dead: vec![] });
        Harness { state, effects, cfg, keys }
    }

    /// A socket resuming "p" with a token instance A issued.
    fn resume_p(&mut self) -> (ConnId, Receiver) {
        let key = self.keys.lookup(KEY).expect("the test key");
        let token = TokenSigner::new(&self.cfg.secret).sign(&TokenClaims {
            pid: "p".into(),
            name: "ada".into(),
            ch: vec!["lobby".into()],
            kid: key.id.to_string(),
            iid: "A".into(),
            exp: self.state.unix.as_secs() + 3_600,
            // The latest token, as a client that read every welcome holds.
            n: self.state.sessions.get("p").map_or(0, |s| s.token_n),
        });
        let (out, rx) = outbox(64);
        let req = ConnectRequest { key, resume: Some(token), out, control: Arc::default() };
        let c = self.state.connect(req).expect("resume accepted");
        assert!(c.resumed && &*c.peer_id == "p", "{c:?}");
        (c.conn, rx)
    }

    /// Whether a takeover of "p" was sent to instance A.
    fn asked_a_to_hand_over(&mut self) -> bool {
        let mut asked = false;
        while let Ok(e) = self.effects.try_recv() {
            if let Effect::Send { to, .. } = e {
                asked |= to.iter().any(|(i, m)| i == "A" && matches!(m, BusMsg::Takeover { pid, .. } if pid == "p"));
            }
        }
        asked
    }

    fn handover_from_a(&mut self, frames: &[&str]) {
        let frames = frames.iter().map(|f| f.to_string()).collect();
        let msg = BusMsg::Handover { pid: "p".into(), frames };
        self.state.on_cluster(ClusterIn::Bus(Envelope { src: "A".into(), msg }));
    }
}

/// Frame types and texts queued on a socket so far.
fn frames(rx: &mut Receiver) -> Vec<String> {
    std::iter::from_fn(|| rx.try_recv()).map(|o| o.text.to_string()).collect()
}

const QUEUED_ON_A: &str = r#"{"type":"message","from":"q","data":"queued on A"}"#;

#[test]
fn a_second_resume_while_the_old_owner_hands_over_still_gets_its_frames_first() {
    let mut h = Harness::new();
    let (first, mut rx1) = h.resume_p();
    assert!(h.asked_a_to_hand_over());
    assert!(frames(&mut rx1).is_empty(), "welcomed before the hand-over");
    // That socket drops, and the client resumes again at once, here.
    h.state.on_disconnected(first, "p".into(), false, Vec::new());
    let (_second, mut rx2) = h.resume_p();
    assert!(frames(&mut rx2).is_empty(), "the second socket was welcomed before the hand-over");

    h.handover_from_a(&[QUEUED_ON_A]);
    let got = frames(&mut rx2);
    assert!(got[0].contains(r#""type":"welcome""#), "{got:?}");
    assert!(got.iter().any(|f| f == QUEUED_ON_A), "the frames queued on A were lost: {got:?}");
}

#[test]
fn a_hand_over_later_than_the_wait_is_delivered_not_dropped() {
    let mut h = Harness::new();
    let (_conn, mut rx) = h.resume_p();
    h.state.expire(Instant::now() + HANDOVER_WAIT + Duration::from_millis(1));
    let got = frames(&mut rx);
    assert!(got.first().is_some_and(|f| f.contains(r#""type":"welcome""#)), "no welcome after the wait: {got:?}");

    h.handover_from_a(&[QUEUED_ON_A]);
    assert_eq!(frames(&mut rx), vec![QUEUED_ON_A.to_string()]);
}

#[test]
fn a_hand_over_for_a_socket_that_dropped_waits_for_the_next_resume() {
    let mut h = Harness::new();
    let (first, _rx1) = h.resume_p();
    assert!(h.asked_a_to_hand_over());
    h.state.on_disconnected(first, "p".into(), false, Vec::new());
    h.handover_from_a(&[QUEUED_ON_A]);
    // Resumed again: the session is ours now, so no new takeover; the frames come.
    let (_second, mut rx2) = h.resume_p();
    assert!(!h.asked_a_to_hand_over());
    let got = frames(&mut rx2);
    assert!(got[0].contains(r#""type":"welcome""#), "{got:?}");
    assert!(got.iter().any(|f| f == QUEUED_ON_A), "{got:?}");
}

#[test]
fn token_refresh_timers_stay_one_per_live_session() {
    // A single node (no cluster): sessions that connect and end in a loop.
    let cfg = Arc::new(Config::for_keys(&[KEY]));
    let keys = KeyTable::new(&cfg.keys);
    let mut state = State::new(cfg, keys.clone(), "N".into(), None);
    let now = Instant::now();
    state.now = now;
    for _ in 0..1_000 {
        let (out, _rx) = outbox(8);
        let key = keys.lookup(KEY).expect("the test key");
        let c = state.connect(ConnectRequest { key, resume: None, out, control: Arc::default() }).expect("accepted");
        state.on_disconnected(c.conn, c.peer_id.clone(), true, Vec::new());
    }
    assert!(state.sessions.is_empty());
    assert!(state.timers.is_empty(), "{} timers left by ended sessions", state.timers.len());
}
