//! Messages peers exchange among themselves (the "peer conventions"): the server-routed
//! `hello`, the chat JSON on the "messages" DataChannel, and ping/pong on the negotiated
//! `control` channel. Unknown `type`s parse as [`PeerMessage::Unknown`] and are ignored.

use serde::{Deserialize, Serialize};

/// Label of the negotiated control channel (id 0).
pub const CONTROL_LABEL: &str = "control";
/// Id of the negotiated control channel.
pub const CONTROL_ID: u16 = 0;
/// Label of the chat channel.
pub const MESSAGES_LABEL: &str = "messages";

/// A message between peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerMessage {
    /// Greeting sent through the server on discovery. `receipts: true` says the sender
    /// acknowledges every chat line it receives with [`PeerMessage::Ack`].
    Hello {
        name: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        receipts: bool,
    },
    /// A chat line; receivers drop a repeated `id`.
    Chat { id: String, text: String },
    /// Receipt for a chat line (every copy of it), sent on the receiver's own "messages"
    /// channel by peers that announced `receipts`.
    Ack { id: String },
    /// Control-channel keepalive.
    Ping { t: u64 },
    /// Answer to `ping` with the same `t`.
    Pong { t: u64 },
    /// Any other `type`, ignored by receivers.
    #[serde(other)]
    Unknown,
}

impl PeerMessage {
    /// Parses a peer message; `None` for anything that is not a JSON object with a `type`.
    pub fn parse(json: &str) -> Option<PeerMessage> {
        serde_json::from_str(json).ok()
    }

    /// Serialises the message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_and_unknown() {
        let c = PeerMessage::Chat { id: "1".into(), text: "hi".into() };
        assert_eq!(c.to_json(), r#"{"type":"chat","id":"1","text":"hi"}"#);
        assert_eq!(PeerMessage::parse(&c.to_json()), Some(c));
        assert_eq!(PeerMessage::parse(r#"{"type":"typing","x":1}"#), Some(PeerMessage::Unknown));
        assert_eq!(PeerMessage::parse("nope"), None);
    }

    #[test]
    fn receipts_are_announced_in_hello_and_acks_name_the_line() {
        let plain = PeerMessage::parse(r#"{"type":"hello","name":"bob"}"#).unwrap();
        assert_eq!(plain, PeerMessage::Hello { name: "bob".into(), receipts: false });
        assert_eq!(plain.to_json(), r#"{"type":"hello","name":"bob"}"#);
        let with = PeerMessage::Hello { name: "al".into(), receipts: true };
        assert_eq!(with.to_json(), r#"{"type":"hello","name":"al","receipts":true}"#);
        let ack = PeerMessage::Ack { id: "p-1".into() };
        assert_eq!(ack.to_json(), r#"{"type":"ack","id":"p-1"}"#);
        assert_eq!(PeerMessage::parse(&ack.to_json()), Some(ack));
        assert_eq!(PeerMessage::parse(r#"{"type":"ack"}"#), None, "an ack without an id is malformed");
    }
}
