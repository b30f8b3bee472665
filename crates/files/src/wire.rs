//! The JSON messages of a transfer's channel (text); the file's bytes travel between
//! them as binary messages of at most [`crate::CHUNK`] bytes, in order.
//!
//! ```text
//! sender                                   receiver
//!   offer {id, name, size, resume}   ->
//!                                    <-    accept {id, offset} | decline {id, reason}
//!   bytes from offset (binary) ...   ->
//!                                    <-    confirm {id, offset}   (every 1 MiB written, and at the end)
//!   end {id, sha256}                 ->
//!                                    <-    done {id, ok, reason}
//!   either side, at any time: cancel {id, reason}
//! ```

use serde::{Deserialize, Serialize};

/// Longest file name accepted in an offer, in bytes (it is cleaned to at most 255).
pub const MAX_OFFERED_NAME_BYTES: usize = 1024;
/// Longest reason accepted, in bytes.
pub const MAX_REASON_BYTES: usize = 256;
/// Largest size a JSON number carries exactly everywhere (2^53 - 1).
pub const MAX_SIZE: u64 = (1 << 53) - 1;

/// A message on a transfer's channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FileMessage {
    /// The first message on every channel the sender opens; `resume` on the channels of
    /// a transfer the receiver accepted before.
    Offer {
        id: String,
        name: String,
        size: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resume: bool,
    },
    /// Send from `offset` on (0 the first time; after a break, the last confirmed byte).
    Accept { id: String, offset: u64 },
    Decline {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The receiver wrote every byte before `offset` to disk.
    Confirm { id: String, offset: u64 },
    /// Every byte was sent; the SHA-256 of the whole file, lower-case hex.
    End { id: String, sha256: String },
    /// The receiver's verdict.
    Done {
        id: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Cancel {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Any other `type`: ignored.
    #[serde(other)]
    Unknown,
}

impl FileMessage {
    /// Parses a message; `None` for anything that is not one.
    pub fn parse(json: &str) -> Option<FileMessage> {
        serde_json::from_str(json).ok()
    }

    pub fn to_json(&self) -> String {
        // Strings, integers and bools: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The transfer the message is about.
    pub fn id(&self) -> Option<&str> {
        match self {
            FileMessage::Offer { id, .. }
            | FileMessage::Accept { id, .. }
            | FileMessage::Decline { id, .. }
            | FileMessage::Confirm { id, .. }
            | FileMessage::End { id, .. }
            | FileMessage::Done { id, .. }
            | FileMessage::Cancel { id, .. } => Some(id),
            FileMessage::Unknown => None,
        }
    }
}

/// A reason from the other side, bounded and without control characters.
pub fn clean_reason(reason: Option<String>) -> Option<String> {
    let r = reason?;
    let mut out: String = r.chars().filter(|c| !c.is_control()).collect();
    if out.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    Some(out)
}

/// Whether `s` is a SHA-256 in lower-case hex.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_in_the_documented_shape() {
        let offer = FileMessage::Offer { id: "t1".into(), name: "a.txt".into(), size: 5, resume: false };
        assert_eq!(offer.to_json(), r#"{"type":"offer","id":"t1","name":"a.txt","size":5}"#);
        assert_eq!(FileMessage::parse(&offer.to_json()), Some(offer));
        let accept = FileMessage::parse(r#"{"type":"accept","id":"t1","offset":1048576}"#).unwrap();
        assert_eq!(accept, FileMessage::Accept { id: "t1".into(), offset: 1 << 20 });
        assert_eq!(accept.id(), Some("t1"));
        assert_eq!(FileMessage::parse(r#"{"type":"typing"}"#), Some(FileMessage::Unknown));
        assert_eq!(FileMessage::parse(r#"{"type":"offer","id":"t","name":"x","size":-1}"#), None, "a negative size");
        assert_eq!(FileMessage::parse(r#"{"type":"confirm","id":"t"}"#), None, "no offset");
        assert_eq!(FileMessage::parse("not json"), None);
    }

    #[test]
    fn reasons_are_bounded_and_lose_control_characters() {
        assert_eq!(clean_reason(Some("disk\u{0}\u{1b}[31m full\n".into())).as_deref(), Some("disk[31m full"));
        let long = clean_reason(Some("é".repeat(300))).unwrap();
        assert!(long.len() <= MAX_REASON_BYTES && long.chars().all(|c| c == 'é'));
        assert_eq!(clean_reason(None), None);
    }

    #[test]
    fn a_sha256_is_64_lower_case_hex_digits() {
        assert!(is_sha256_hex(&"a1".repeat(32)));
        assert!(!is_sha256_hex(&"A1".repeat(32)));
        assert!(!is_sha256_hex(&"a1".repeat(31)));
        assert!(!is_sha256_hex(&"g1".repeat(32)));
    }
}
