//! The decisions that keep a connection to one remote peer alive, as a state machine with
//! no I/O and no clock of its own: what happened and the time go in ([`Recovery::handle`],
//! [`Recovery::on_timeout`]), what to do comes out ([`Action`]s, in order). The remote
//! peer's task (`task.rs`) does the I/O: it builds connections, sends offers and pings,
//! and publishes the states this machine decides.
//!
//! * The impolite side of a pair (the smaller id) builds the first connection and offers.
//! * A connection is `connected` once its control channel is open and no offer of ours
//!   waits for its answer; it must get there within `connect_timeout`, or it is rebuilt.
//! * A path that fails (ICE disconnected or failed, or a control channel silent for
//!   `dead_after`) is restarted: the impolite side sends an ICE-restart offer, the polite
//!   side probes the path and waits for that offer. After `ice_restart_timeout` without a
//!   repaired path, the connection is rebuilt with a new generation.
//! * A repaired path counts only once a probe (a control ping, sent again a few times
//!   while paths switch) is answered: within `PROBE_WAIT`, or the connection is rebuilt.
//! * The other side closing its connection gives it `AWAIT_REMOTE` to rebuild before this
//!   side does; a channel that does not open on a `connected` connection rebuilds it.

use std::time::Duration;

use tokio::time::Instant;

use super::PeerState;

/// How long to wait for the other side's rebuild after its connection closed.
pub(crate) const AWAIT_REMOTE: Duration = Duration::from_secs(3);
/// How long the probe sent after a repaired path may take to be answered. An SCTP
/// association that backed off its retransmission timer during an outage can take many
/// seconds to move data again; rebuilding is faster.
pub(crate) const PROBE_WAIT: Duration = Duration::from_secs(3);
/// Interval between copies of a probe, and how many copies follow the first: a control
/// message lost while ICE switches paths costs SCTP a 1 s retransmission timeout, while
/// later copies make it retransmit the lost one at once (and any pong answers the probe).
pub(crate) const PROBE_RESEND: Duration = Duration::from_millis(5);
pub(crate) const PROBE_COPIES: u8 = 20;
/// Probe tokens start here: above any millisecond timestamp (routine pings carry those),
/// and exact in a browser's JavaScript numbers.
const PROBE_BASE: u64 = 1 << 50;

/// The time limits of recovery (from the engine settings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub ice_restart: Duration,
    pub dead_after: Duration,
}

/// What the remote peer's task saw. `offer_pending`: an offer of ours waits for its
/// answer (apps open channels on `connected`, and a channel created while that
/// negotiation is in flight can be lost if the offer is rolled back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// The task started.
    Start,
    /// The other side offered on a newer generation, and a connection was made to answer.
    RemoteRebuilt,
    /// ICE and DTLS are up.
    LinkUp {
        offer_pending: bool,
    },
    /// ICE disconnected or failed.
    LinkDown,
    /// Our answer to an offer went out, or the answer to our offer was applied.
    Negotiated {
        offer_pending: bool,
    },
    ControlOpen {
        offer_pending: bool,
    },
    /// Any message on the control channel (it proves the path carries data).
    ControlMessage {
        offer_pending: bool,
    },
    /// A pong that is not the answer to a routine ping.
    Pong {
        t: u64,
        offer_pending: bool,
    },
    /// The other side closed its connection (our control channel closed).
    ControlClosed,
    /// The routine ping interval passed.
    Tick,
    /// The app asked for an ICE restart, or for a rebuild.
    RestartIce,
    Rebuild,
    /// A channel opened on the current connection did not open in time.
    ChannelStuck,
}

/// What the task must do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Publish this state.
    State(PeerState),
    /// Replace the connection with one of a new generation and offer on it.
    Rebuild,
    /// Send an ICE-restart offer on the current connection.
    OfferIceRestart,
    /// Send a control ping with this token, for the probe.
    Probe(u64),
    /// Send a routine control ping (and read the path again).
    RoutinePing,
    /// The connection is being repaired (wake often) / is settled again.
    Unsettled,
    Settled,
}

/// What recovery waits for, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The first connection (or a rebuilt one) to come up.
    Connect,
    /// The ICE restart to repair the path.
    IceRestart,
    /// The other side to rebuild its closed connection.
    AwaitRemote,
    /// The answer to the probe.
    Probe,
}

/// One remote peer's recovery state.
#[derive(Debug)]
pub(crate) struct Recovery {
    polite: bool,
    timeouts: Timeouts,
    state: PeerState,
    has_conn: bool,
    control_open: bool,
    phase: Option<(Phase, Instant)>,
    /// The probe's token while it waits for its pong.
    probe: Option<u64>,
    probes_sent: u64,
    /// When the probe is sent again, and how many more times.
    resend: Option<(Instant, u8)>,
    last_control: Instant,
}

impl Recovery {
    pub(crate) fn new(polite: bool, timeouts: Timeouts, now: Instant) -> Recovery {
        Recovery {
            polite,
            timeouts,
            state: PeerState::Idle,
            has_conn: false,
            control_open: false,
            phase: None,
            probe: None,
            probes_sent: 0,
            resend: None,
            last_control: now,
        }
    }

    pub(crate) fn state(&self) -> PeerState {
        self.state
    }

    pub(crate) fn phase(&self) -> Option<Phase> {
        self.phase.map(|(p, _)| p)
    }

    /// Making a connection failed (the engine refused): there is none now. The phase
    /// that asked for it stays, so its deadline tries again.
    pub(crate) fn connection_failed(&mut self) {
        self.has_conn = false;
        self.control_open = false;
    }

    /// When [`Recovery::on_timeout`] must be called next.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        let phase = self.phase.map(|(_, at)| at);
        let resend = self.resend.map(|(at, _)| at);
        match (phase, resend) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handles what happened at `now`.
    pub(crate) fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start if !self.polite => self.rebuild(now, &mut out),
            Input::Start => {}
            Input::RemoteRebuilt => {
                self.new_connection(now, &mut out);
            }
            Input::LinkUp { offer_pending } => self.mark_connected(offer_pending, now, &mut out),
            Input::Negotiated { offer_pending } => {
                if self.state == PeerState::Reconnecting {
                    self.mark_connected(offer_pending, now, &mut out);
                }
            }
            Input::LinkDown => {
                if matches!(self.phase(), None | Some(Phase::AwaitRemote)) {
                    self.restart_ice(now, &mut out);
                }
            }
            Input::ControlOpen { offer_pending } => {
                self.control_open = true;
                self.mark_connected(offer_pending, now, &mut out);
            }
            Input::ControlMessage { offer_pending } => {
                self.last_control = now;
                if self.state == PeerState::Reconnecting {
                    self.mark_connected(offer_pending, now, &mut out);
                }
            }
            Input::Pong { t, offer_pending } => {
                self.last_control = now;
                if self.probe == Some(t) && !offer_pending {
                    self.connected(now, &mut out);
                }
            }
            Input::ControlClosed => {
                self.control_open = false;
                self.set_state(PeerState::Reconnecting, PeerState::Connected, &mut out);
                self.phase = Some((Phase::AwaitRemote, now + AWAIT_REMOTE));
            }
            Input::Tick => {
                if !self.control_open {
                    return out;
                }
                out.push(Action::RoutinePing);
                let silent = now.saturating_duration_since(self.last_control) >= self.timeouts.dead_after;
                if silent && self.phase.is_none() {
                    self.restart_ice(now, &mut out);
                }
            }
            Input::RestartIce => self.restart_ice(now, &mut out),
            Input::Rebuild => self.rebuild(now, &mut out),
            Input::ChannelStuck => {
                if self.state == PeerState::Connected {
                    self.rebuild(now, &mut out);
                }
            }
        }
        out
    }

    /// Acts on what fell due at `now`: the probe's next copy, or a phase that ran out
    /// (the connection is rebuilt).
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some((at, left)) = self.resend {
            if at <= now {
                match self.probe {
                    Some(t) if left > 0 => {
                        self.resend = Some((now + PROBE_RESEND, left - 1));
                        out.push(Action::Probe(t));
                    }
                    _ => self.resend = None,
                }
            }
        }
        if let Some((_, at)) = self.phase {
            if at <= now {
                self.phase = None;
                self.rebuild(now, &mut out);
            }
        }
        out
    }

    /// The task ends.
    pub(crate) fn close(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.phase = None;
        self.probe = None;
        self.resend = None;
        if self.state != PeerState::Closed {
            self.state = PeerState::Closed;
            out.push(Action::State(PeerState::Closed));
        }
        out
    }

    /// Moves to `to` if the state is `from`.
    fn set_state(&mut self, to: PeerState, from: PeerState, out: &mut Vec<Action>) {
        if self.state == from {
            self.state = to;
            out.push(Action::State(to));
        }
    }

    fn go(&mut self, to: PeerState, out: &mut Vec<Action>) {
        if self.state != to {
            self.state = to;
            out.push(Action::State(to));
        }
    }

    /// A fresh connection replaces the old one: nothing of the old one counts.
    fn new_connection(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.has_conn = true;
        self.control_open = false;
        self.probe = None;
        self.resend = None;
        self.last_control = now;
        let to = match self.state {
            PeerState::Idle | PeerState::Connecting => PeerState::Connecting,
            _ => PeerState::Reconnecting,
        };
        self.go(to, out);
        self.phase = Some((Phase::Connect, now + self.timeouts.connect));
    }

    fn rebuild(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::Rebuild);
        self.new_connection(now, out);
    }

    fn restart_ice(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.has_conn {
            return self.rebuild(now, out);
        }
        out.push(Action::Unsettled);
        self.set_state(PeerState::Reconnecting, PeerState::Connected, out);
        if !self.polite {
            out.push(Action::OfferIceRestart);
        } else if self.control_open {
            // The restart offer comes from the other side once it sees the path fail
            // too. Meanwhile a pong proves the path still works (a forced restart, or a
            // failure that healed), and `connected` comes back without waiting.
            self.start_probe(now, out);
        }
        self.phase = Some((Phase::IceRestart, now + self.timeouts.ice_restart));
    }

    fn start_probe(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.probes_sent += 1;
        let t = PROBE_BASE + self.probes_sent;
        self.probe = Some(t);
        self.resend = Some((now + PROBE_RESEND, PROBE_COPIES));
        out.push(Action::Probe(t));
    }

    /// `connected` once the control channel is open and no offer of ours is in flight;
    /// a repaired path first proves itself with a probe.
    fn mark_connected(&mut self, offer_pending: bool, now: Instant, out: &mut Vec<Action>) {
        if !self.control_open || offer_pending {
            return;
        }
        if self.state == PeerState::Reconnecting {
            if self.probe.is_none() {
                self.start_probe(now, out);
                self.phase = Some((Phase::Probe, now + PROBE_WAIT));
            }
            return;
        }
        self.connected(now, out);
    }

    fn connected(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::Settled);
        self.phase = None;
        self.probe = None;
        self.resend = None;
        self.last_control = now;
        self.go(PeerState::Connected, out);
    }
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod tests;
