//! The chat's own messages (the "peer conventions" of docs/protocol.md): `hello` through
//! the server when a peer is discovered, chat lines and their acks on the "messages"
//! DataChannel (or through the server), and the bounds a line from a peer must keep.
//! Unknown `type`s parse as [`ChatMessage::Unknown`] and are ignored. The SDK's own
//! control messages (ping/pong) are not the chat's and live with the SDK.

use serde::{Deserialize, Serialize};

/// Label of the chat channel each side opens.
pub const LABEL: &str = "messages";
/// Longest chat line accepted, in bytes of UTF-8. The chat JSON around it stays well under
/// both the DataChannel's 64 KiB message limit and the server's frame limit.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Longest chat id accepted from a peer, in bytes (ours are about 30).
pub const MAX_ID_BYTES: usize = 128;

/// A message of the chat between peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChatMessage {
    /// Greeting sent through the server on discovery. `receipts: true` says the sender
    /// acknowledges every chat line it receives with [`ChatMessage::Ack`]. The name is
    /// informative only: receivers take names from presence, which the server checked.
    Hello {
        #[serde(default)]
        name: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        receipts: bool,
    },
    /// A chat line; receivers drop a repeated `id`. `at`: when it was written (ms since
    /// the epoch, the sender's clock), for a line sent late (kept for someone away).
    Chat {
        id: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<u64>,
    },
    /// Receipt for a chat line (every copy of it), sent on the receiver's own "messages"
    /// channel by peers that announced `receipts`.
    Ack { id: String },
    /// The sender is writing a line (on its "messages" channel; at most every 3 s).
    Typing,
    /// Any other `type`, ignored by receivers.
    #[serde(other)]
    Unknown,
}

impl ChatMessage {
    /// Parses a chat message; `None` for anything that is not a JSON object with a `type`
    /// and the fields that type needs.
    pub fn parse(json: &str) -> Option<ChatMessage> {
        serde_json::from_str(json).ok()
    }

    /// Reads a message that arrived through the server as a JSON value.
    pub fn from_value(value: serde_json::Value) -> Option<ChatMessage> {
        serde_json::from_value(value).ok()
    }

    /// Serialises the message.
    pub fn to_json(&self) -> String {
        // An enum of strings and a bool: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The message as a JSON value, for the server's `send`.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Whether a chat line from a peer is within bounds; why not otherwise.
pub(crate) fn check_line(id: &str, text: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(format!("its id is empty or longer than {MAX_ID_BYTES} bytes"));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!("it is {} bytes; at most {MAX_TEXT_BYTES} are accepted", text.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_chat_line_round_trips_and_unknown_types_are_ignored() {
        let late = ChatMessage::Chat { id: "1".into(), text: "hi".into(), at: Some(7) };
        assert_eq!(late.to_json(), r#"{"type":"chat","id":"1","text":"hi","at":7}"#);
        assert_eq!(ChatMessage::parse(&late.to_json()), Some(late));
        let c = ChatMessage::Chat { id: "1".into(), text: "hi".into(), at: None };
        assert_eq!(c.to_json(), r#"{"type":"chat","id":"1","text":"hi"}"#);
        assert_eq!(ChatMessage::parse(&c.to_json()), Some(c.clone()));
        assert_eq!(ChatMessage::from_value(c.to_value()), Some(c));
        assert_eq!(ChatMessage::parse(r#"{"type":"poll","x":1}"#), Some(ChatMessage::Unknown));
        assert_eq!(ChatMessage::Typing.to_json(), r#"{"type":"typing"}"#);
        assert_eq!(ChatMessage::parse(r#"{"type":"typing","x":1}"#), Some(ChatMessage::Typing));
        assert_eq!(
            ChatMessage::parse(r#"{"type":"ping","t":1}"#),
            Some(ChatMessage::Unknown),
            "control messages are not the chat's"
        );
        assert_eq!(ChatMessage::parse("nope"), None);
    }

    #[test]
    fn receipts_are_announced_in_hello_and_acks_name_the_line() {
        let plain = ChatMessage::parse(r#"{"type":"hello","name":"bob"}"#).unwrap();
        assert_eq!(plain, ChatMessage::Hello { name: "bob".into(), receipts: false });
        assert_eq!(plain.to_json(), r#"{"type":"hello","name":"bob"}"#);
        let with = ChatMessage::Hello { name: "al".into(), receipts: true };
        assert_eq!(with.to_json(), r#"{"type":"hello","name":"al","receipts":true}"#);
        let ack = ChatMessage::Ack { id: "p-1".into() };
        assert_eq!(ack.to_json(), r#"{"type":"ack","id":"p-1"}"#);
        assert_eq!(ChatMessage::parse(&ack.to_json()), Some(ack));
        assert_eq!(ChatMessage::parse(r#"{"type":"ack"}"#), None, "an ack without an id is malformed");
    }

    #[test]
    fn lines_beyond_the_bounds_are_refused() {
        assert!(check_line("a-1", "hi").is_ok());
        assert!(check_line("", "hi").is_err());
        assert!(check_line(&"i".repeat(MAX_ID_BYTES + 1), "hi").is_err());
        assert!(check_line("a-1", &"x".repeat(MAX_TEXT_BYTES)).is_ok());
        assert!(check_line("a-1", &"x".repeat(MAX_TEXT_BYTES + 1)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_text_parses_to_a_message_that_round_trips_or_to_nothing(text in ".{0,300}") {
            if let Some(m) = ChatMessage::parse(&text) {
                if m != ChatMessage::Unknown {
                    prop_assert_eq!(ChatMessage::parse(&m.to_json()), Some(m));
                }
            }
        }

        #[test]
        fn any_json_object_with_a_chat_type_parses_without_panic(
            ty in prop::sample::select(vec!["hello", "chat", "ack", "other"]),
            id in ".{0,20}", text in ".{0,40}", receipts in any::<bool>(),
        ) {
            let v = serde_json::json!({"type": ty, "id": id, "text": text, "name": text, "receipts": receipts});
            if let Some(m) = ChatMessage::from_value(v) {
                prop_assert_eq!(ChatMessage::parse(&m.to_json()), Some(m));
            }
        }
    }
}
