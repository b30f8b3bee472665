//! Every transition of [`Recovery`], with time passed in (nothing sleeps).

use super::*;

const T: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    ice_restart: Duration::from_secs(6),
    dead_after: Duration::from_secs(15),
};
const CLEAR: bool = false;
const PENDING: bool = true;

/// A machine on the given side, started at `t0`.
fn started(polite: bool, t0: Instant) -> (Recovery, Vec<Action>) {
    let mut r = Recovery::new(polite, T, t0);
    let out = r.handle(Input::Start, t0);
    (r, out)
}

/// A machine that is `connected` at `t0`.
fn connected(polite: bool, t0: Instant) -> Recovery {
    let (mut r, _) = started(polite, t0);
    if polite {
        r.handle(Input::RemoteRebuilt, t0);
    }
    r.handle(Input::ControlOpen { offer_pending: CLEAR }, t0);
    assert_eq!(r.state(), PeerState::Connected);
    r
}

fn probe_of(out: &[Action]) -> u64 {
    out.iter()
        .find_map(|a| match a {
            Action::Probe(t) => Some(*t),
            _ => None,
        })
        .expect("a probe was sent")
}

#[test]
fn the_impolite_side_builds_the_first_connection_and_the_polite_side_waits() {
    let t0 = Instant::now();
    let (r, out) = started(false, t0);
    assert_eq!(out, vec![Action::Rebuild, Action::State(PeerState::Connecting)]);
    assert_eq!(r.phase(), Some(Phase::Connect));
    assert_eq!(r.next_timeout(), Some(t0 + T.connect));

    let (mut p, out) = started(true, t0);
    assert!(out.is_empty());
    assert_eq!((p.state(), p.next_timeout()), (PeerState::Idle, None));
    let out = p.handle(Input::RemoteRebuilt, t0);
    assert_eq!(out, vec![Action::State(PeerState::Connecting)]);
    assert_eq!(p.phase(), Some(Phase::Connect));
}

#[test]
fn connected_needs_the_control_channel_and_no_offer_in_flight() {
    let t0 = Instant::now();
    let (mut r, _) = started(false, t0);
    assert!(r.handle(Input::LinkUp { offer_pending: CLEAR }, t0).is_empty(), "control channel not open yet");
    assert!(r.handle(Input::ControlOpen { offer_pending: PENDING }, t0).is_empty(), "our offer is in flight");
    let out = r.handle(Input::LinkUp { offer_pending: CLEAR }, t0);
    assert_eq!(out, vec![Action::Settled, Action::State(PeerState::Connected)]);
    assert_eq!((r.phase(), r.next_timeout()), (None, None));
}

#[test]
fn a_connection_that_does_not_come_up_in_time_is_rebuilt() {
    let t0 = Instant::now();
    let (mut r, _) = started(false, t0);
    assert!(r.on_timeout(t0 + T.connect - Duration::from_millis(1)).is_empty());
    let out = r.on_timeout(t0 + T.connect);
    assert_eq!(out, vec![Action::Rebuild], "still connecting: no new state to publish");
    assert_eq!(r.next_timeout(), Some(t0 + T.connect * 2));
}

#[test]
fn a_failed_path_makes_the_impolite_side_offer_an_ice_restart() {
    let t0 = Instant::now();
    let mut r = connected(false, t0);
    let out = r.handle(Input::LinkDown, t0);
    assert_eq!(out, vec![Action::Unsettled, Action::State(PeerState::Reconnecting), Action::OfferIceRestart]);
    assert_eq!(r.phase(), Some(Phase::IceRestart));
    assert!(r.handle(Input::LinkDown, t0).is_empty(), "one restart at a time");
}

#[test]
fn a_failed_path_makes_the_polite_side_probe_and_wait_for_the_offer() {
    let t0 = Instant::now();
    let mut r = connected(true, t0);
    let out = r.handle(Input::LinkDown, t0);
    let t = probe_of(&out);
    assert_eq!(out, vec![Action::Unsettled, Action::State(PeerState::Reconnecting), Action::Probe(t)]);
    assert_eq!(r.phase(), Some(Phase::IceRestart));
    // The pong proves the path: connected again without waiting for the offer.
    let out = r.handle(Input::Pong { t, offer_pending: CLEAR }, t0 + Duration::from_millis(30));
    assert_eq!(out, vec![Action::Settled, Action::State(PeerState::Connected)]);
}

#[test]
fn the_probe_is_sent_again_a_bounded_number_of_times() {
    let t0 = Instant::now();
    let mut r = connected(true, t0);
    let t = probe_of(&r.handle(Input::RestartIce, t0));
    let mut copies = 0;
    let mut now = t0;
    while let Some(at) = r.next_timeout().filter(|at| *at < t0 + T.ice_restart) {
        now = at;
        for a in r.on_timeout(now) {
            assert_eq!(a, Action::Probe(t));
            copies += 1;
        }
    }
    assert_eq!(copies, usize::from(PROBE_COPIES));
    assert!(now < t0 + Duration::from_millis(200), "the copies go out within a few ms of each other");
    assert_eq!(r.next_timeout(), Some(t0 + T.ice_restart));
}

#[test]
fn an_ice_restart_that_does_not_repair_the_path_ends_in_a_rebuild() {
    let t0 = Instant::now();
    let mut r = connected(false, t0);
    r.handle(Input::LinkDown, t0);
    let out = r.on_timeout(t0 + T.ice_restart);
    assert_eq!(out, vec![Action::Rebuild], "already reconnecting");
    assert_eq!(r.state(), PeerState::Reconnecting);
    assert_eq!(r.phase(), Some(Phase::Connect));
}

#[test]
fn a_repaired_path_counts_only_once_a_probe_is_answered() {
    let t0 = Instant::now();
    let mut r = connected(false, t0);
    r.handle(Input::LinkDown, t0);
    // ICE is back and the restart's answer applied: probe before saying connected.
    let out = r.handle(Input::LinkUp { offer_pending: CLEAR }, t0 + Duration::from_secs(1));
    let t = probe_of(&out);
    assert_eq!(r.phase(), Some(Phase::Probe));
    assert_eq!(r.next_timeout(), Some(t0 + Duration::from_secs(1) + PROBE_RESEND));
    assert!(r.handle(Input::Negotiated { offer_pending: CLEAR }, t0).is_empty(), "one probe at a time");
    assert!(r.handle(Input::Pong { t: t + 1, offer_pending: CLEAR }, t0).is_empty(), "not our probe");
    assert!(r.handle(Input::Pong { t, offer_pending: PENDING }, t0).is_empty(), "an offer is in flight");
    let out = r.handle(Input::Pong { t, offer_pending: CLEAR }, t0 + Duration::from_secs(2));
    assert_eq!(out, vec![Action::Settled, Action::State(PeerState::Connected)]);
}

#[test]
fn an_unanswered_probe_rebuilds_the_connection() {
    let t0 = Instant::now();
    let mut r = connected(false, t0);
    r.handle(Input::LinkDown, t0);
    r.handle(Input::LinkUp { offer_pending: CLEAR }, t0);
    let mut out = Vec::new();
    while let Some(at) = r.next_timeout().filter(|at| *at <= t0 + PROBE_WAIT) {
        out = r.on_timeout(at);
    }
    assert_eq!(out, vec![Action::Rebuild]);
    assert_eq!(r.phase(), Some(Phase::Connect));
}

#[test]
fn a_silent_control_channel_restarts_ice_and_traffic_keeps_it_alive() {
    let t0 = Instant::now();
    let mut r = connected(false, t0);
    let half = t0 + T.dead_after / 2;
    assert_eq!(r.handle(Input::Tick, half), vec![Action::RoutinePing]);
    r.handle(Input::ControlMessage { offer_pending: CLEAR }, half);
    assert_eq!(r.handle(Input::Tick, t0 + T.dead_after), vec![Action::RoutinePing], "heard from at half time");
    let out = r.handle(Input::Tick, half + T.dead_after);
    assert_eq!(
        out,
        vec![Action::RoutinePing, Action::Unsettled, Action::State(PeerState::Reconnecting), Action::OfferIceRestart]
    );
}

#[test]
fn ticks_do_nothing_without_an_open_control_channel() {
    let t0 = Instant::now();
    let (mut r, _) = started(false, t0);
    assert!(r.handle(Input::Tick, t0 + T.dead_after * 2).is_empty());
}

#[test]
fn the_other_side_closing_gets_time_to_rebuild_before_we_do() {
    let t0 = Instant::now();
    let mut r = connected(true, t0);
    let out = r.handle(Input::ControlClosed, t0);
    assert_eq!(out, vec![Action::State(PeerState::Reconnecting)]);
    assert_eq!(r.next_timeout(), Some(t0 + AWAIT_REMOTE));
    // Its offer on a newer generation comes in time: a fresh connection, still reconnecting.
    assert!(r.handle(Input::RemoteRebuilt, t0 + Duration::from_secs(1)).is_empty());
    assert_eq!(r.phase(), Some(Phase::Connect));
    let out = r.handle(Input::ControlOpen { offer_pending: CLEAR }, t0 + Duration::from_secs(1));
    probe_of(&out);
    assert_eq!(r.phase(), Some(Phase::Probe), "a repaired connection proves itself first");
}

#[test]
fn when_the_other_side_does_not_rebuild_we_do() {
    let t0 = Instant::now();
    let mut r = connected(true, t0);
    r.handle(Input::ControlClosed, t0);
    assert_eq!(r.on_timeout(t0 + AWAIT_REMOTE), vec![Action::Rebuild]);
}

#[test]
fn a_path_failing_while_awaiting_the_other_side_restarts_ice() {
    let t0 = Instant::now();
    let mut r = connected(false, t0);
    r.handle(Input::ControlClosed, t0);
    let out = r.handle(Input::LinkDown, t0);
    assert_eq!(out, vec![Action::Unsettled, Action::OfferIceRestart]);
    assert_eq!(r.phase(), Some(Phase::IceRestart));
}

#[test]
fn a_stuck_channel_rebuilds_a_connected_connection_only() {
    let t0 = Instant::now();
    let (mut r, _) = started(false, t0);
    assert!(r.handle(Input::ChannelStuck, t0).is_empty(), "not connected: recovery is under way already");
    let mut r = connected(false, t0);
    let out = r.handle(Input::ChannelStuck, t0);
    assert_eq!(out, vec![Action::Rebuild, Action::State(PeerState::Reconnecting)]);
}

#[test]
fn without_a_connection_an_ice_restart_is_a_rebuild() {
    let t0 = Instant::now();
    let (mut r, _) = started(true, t0);
    let out = r.handle(Input::RestartIce, t0);
    assert_eq!(out, vec![Action::Rebuild, Action::State(PeerState::Connecting)]);
    let mut r = connected(false, t0);
    r.connection_failed();
    assert_eq!(r.handle(Input::RestartIce, t0)[0], Action::Rebuild);
}

#[test]
fn the_app_can_force_a_rebuild_at_any_time() {
    let t0 = Instant::now();
    let mut r = connected(true, t0);
    let out = r.handle(Input::Rebuild, t0);
    assert_eq!(out, vec![Action::Rebuild, Action::State(PeerState::Reconnecting)]);
    assert!(r.handle(Input::Pong { t: PROBE_BASE + 1, offer_pending: CLEAR }, t0).is_empty(), "an old probe");
}

#[test]
fn closing_ends_every_timer_and_says_closed_once() {
    let t0 = Instant::now();
    let mut r = connected(false, t0);
    r.handle(Input::LinkDown, t0);
    assert_eq!(r.close(), vec![Action::State(PeerState::Closed)]);
    assert_eq!((r.next_timeout(), r.close()), (None, vec![]));
}

#[test]
fn probe_tokens_never_look_like_a_routine_ping_and_survive_javascript_numbers() {
    let t0 = Instant::now();
    let mut r = connected(true, t0);
    let a = probe_of(&r.handle(Input::RestartIce, t0));
    r.handle(Input::Pong { t: a, offer_pending: CLEAR }, t0);
    let b = probe_of(&r.handle(Input::RestartIce, t0));
    assert_ne!(a, b);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(a > now_ms * 100, "far above any timestamp");
    assert!(b < 1 << 53, "exact in an f64");
}
