//! What instances tell each other through Redis, and where it lives.
//!
//! Store: `{p}:peer:{id}` is a hash with one field, `rec`, holding the peer's
//! [`PeerRecord`] as JSON; `{p}:peers` is the set of peer ids; `{p}:instances` the set of
//! instance ids, each alive while `{p}:alive:{iid}` exists (it expires). Bus:
//! `{p}:quota:{kid}:{kind}:{window}` counts a key's quota window over all instances.
//! `{p}:events` reaches every instance (peer records and ends); `{p}:inst:{iid}` reaches
//! one (frames for its peers, hand-overs). Every bus message is an [`Envelope`] naming
//! the instance that sent it.

use serde::{Deserialize, Serialize};

/// Everything the others need to know about one peer. `ver` grows with every change
/// its owner makes (it is the time of the change in Unix ms, or one more than the last
/// version if that is later), so a late or replayed record never undoes a newer one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    pub pid: String,
    pub ver: u64,
    /// The instance that owns the session.
    pub inst: String,
    /// Fingerprint of the key it connected with.
    pub kid: String,
    pub name: String,
    pub ch: Vec<String>,
}

/// One message on the bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum BusMsg {
    /// A peer's session was created or changed (events channel).
    Peer(PeerRecord),
    /// A peer's session ended (events channel).
    Gone { pid: String, ver: u64 },
    /// App data for one of the receiving instance's peers.
    Deliver { to: String, text: String },
    /// App data for the receiving instance's members of `channel`, but `except`.
    Room { channel: String, except: String, text: String },
    /// `by` took over the session `pid` after a resume: hand its queue over.
    Takeover { pid: String, by: String },
    /// The frames queued for `pid`, in order, answering a takeover.
    Handover { pid: String, frames: Vec<String> },
}

/// A bus message and the instance that sent it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub src: String,
    #[serde(flatten)]
    pub msg: BusMsg,
}

/// Key and channel names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys { prefix: prefix.to_string() }
    }
    pub fn peer(&self, pid: &str) -> String {
        format!("{}:peer:{pid}", self.prefix)
    }
    pub fn peers(&self) -> String {
        format!("{}:peers", self.prefix)
    }
    pub fn instances(&self) -> String {
        format!("{}:instances", self.prefix)
    }
    pub fn alive(&self, iid: &str) -> String {
        format!("{}:alive:{iid}", self.prefix)
    }
    pub fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }
    pub fn inbox(&self, iid: &str) -> String {
        format!("{}:inst:{iid}", self.prefix)
    }
    pub fn quota(&self, kid: &str, kind: &str, window: u64) -> String {
        format!("{}:quota:{kid}:{kind}:{window}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_through_json() {
        let e = Envelope { src: "i1".into(), msg: BusMsg::Takeover { pid: "p".into(), by: "i2".into() } };
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(text, r#"{"src":"i1","t":"takeover","pid":"p","by":"i2"}"#);
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert!(matches!(back.msg, BusMsg::Takeover { ref by, .. } if by == "i2"));
    }
}
