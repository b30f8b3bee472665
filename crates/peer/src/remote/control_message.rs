//! The SDK's own messages between peers: ping and pong on the negotiated `control`
//! channel (id 0), which keep the path alive, measure it and prove a repaired one carries
//! data both ways (docs/protocol.md, peer conventions). Apps never see them; what an app
//! sends on its own channels is its own business.

use serde::{Deserialize, Serialize};

/// Label of the negotiated control channel.
pub(crate) const CONTROL_LABEL: &str = "control";
/// Id of the negotiated control channel.
pub(crate) const CONTROL_ID: u16 = 0;

/// A message on the control channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ControlMessage {
    /// Keepalive and probe; `t` is the sender's clock in ms.
    Ping { t: u64 },
    /// Answer to `ping` with the same `t`.
    Pong { t: u64 },
    /// Any other `type`, ignored.
    #[serde(other)]
    Unknown,
}

impl ControlMessage {
    /// Parses a control message; `None` for anything that is not a JSON object with a
    /// `type` and the fields that type needs.
    pub(crate) fn parse(json: &str) -> Option<ControlMessage> {
        serde_json::from_str(json).ok()
    }

    pub(crate) fn to_json(&self) -> String {
        // A tagged enum of integers: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_and_pong_round_trip_and_anything_else_is_ignored() {
        let p = ControlMessage::Ping { t: 7 };
        assert_eq!(p.to_json(), r#"{"type":"ping","t":7}"#);
        assert_eq!(ControlMessage::parse(&p.to_json()), Some(p));
        assert_eq!(ControlMessage::parse(r#"{"type":"pong","t":7}"#), Some(ControlMessage::Pong { t: 7 }));
        assert_eq!(ControlMessage::parse(r#"{"type":"chat","id":"1","text":"x"}"#), Some(ControlMessage::Unknown));
        assert_eq!(ControlMessage::parse(r#"{"type":"ping","t":-1}"#), None);
        assert_eq!(ControlMessage::parse(r#"{"type":"ping"}"#), None);
        assert_eq!(ControlMessage::parse("[]"), None);
    }
}
