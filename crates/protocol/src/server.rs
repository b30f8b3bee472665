//! Server → client frames: serialisation (server side) and parsing (client side).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{ErrorCode, FrameError, RequestId};

/// A STUN or TURN server as browsers describe it (`RTCIceServer`): in `welcome`, in the
/// server's configuration, in the SDK's options and in the app's settings. `Debug`
/// never prints the credential. Unknown fields (a browser's `credentialType`) are
/// ignored, like any unknown field on the wire.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential (never printed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &self.credential.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One entry of `presence.joined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// The peer's id.
    #[serde(rename = "peerId")]
    pub peer_id: String,
    /// The peer's display name.
    pub name: String,
}

/// The `welcome` frame, first after the upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    /// This connection's peer id.
    pub peer_id: String,
    /// Token to pass as `resume=` on a reconnect.
    pub resume_token: String,
    /// Whether this connection resumed an earlier session.
    pub resumed: bool,
    /// Server clock, milliseconds since the Unix epoch.
    pub server_time: u64,
    /// Largest frame the server accepts, in bytes.
    pub max_message_size: usize,
    /// ICE servers the server recommends (may be empty).
    pub ice_servers: Vec<IceServer>,
    /// The per-connection limits a client must stay under (absent from older servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// `welcome.limits`: what the server enforces on this connection, so a client can pace
/// itself instead of being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Sustained client frames per second (close 4011 beyond the burst).
    pub rate_per_sec: u32,
    /// Frames that may come at once (the bucket starts full).
    pub rate_burst: u32,
    /// Joins, renames and leaves per minute (`slow_down` beyond the burst).
    pub room_changes_per_min: u32,
    /// Room changes that may come at once.
    pub room_changes_burst: u32,
}

/// A frame sent by the server.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerFrame {
    /// First frame after the upgrade.
    Welcome(Welcome),
    /// A frame with this `requestId` succeeded. Acks of `subscribe` and `unsubscribe`
    /// carry a fresh `resumeToken` that reflects the session's new channels.
    Ack {
        #[serde(rename = "requestId")]
        request_id: RequestId,
        #[serde(rename = "resumeToken", skip_serializing_if = "Option::is_none")]
        resume_token: Option<String>,
    },
    /// Presence snapshot (first after subscribe) or delta. Snapshots sent in answer to
    /// `subscribe` carry a fresh `resumeToken`.
    Presence {
        channel: String,
        joined: Vec<PresenceEntry>,
        left: Vec<String>,
        #[serde(rename = "resumeToken", skip_serializing_if = "Option::is_none")]
        resume_token: Option<String>,
    },
    /// App data routed by the server; `channel` is absent for direct sends.
    Message {
        from: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        data: Box<RawValue>,
    },
    /// WebRTC negotiation relayed from a peer.
    Signal { from: String, data: Box<RawValue> },
    /// A client frame failed; the socket stays open.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// A fresh resume token for this session (sent while connected, before the last
    /// one expires); it replaces the one held.
    ResumeToken {
        #[serde(rename = "resumeToken")]
        resume_token: String,
    },
    /// The server is shutting down; reconnect with resume after `retryAfterMs`.
    GoingAway {
        #[serde(rename = "retryAfterMs")]
        retry_after_ms: u64,
    },
    /// Answer to a client `ping`; `t` is echoed.
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        t: Option<Box<RawValue>>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(rename = "type")]
    ty: String,
    peer_id: Option<String>,
    resume_token: Option<String>,
    resumed: Option<bool>,
    server_time: Option<u64>,
    max_message_size: Option<usize>,
    ice_servers: Option<Vec<IceServer>>,
    limits: Option<Limits>,
    request_id: Option<RequestId>,
    channel: Option<String>,
    joined: Option<Vec<PresenceEntry>>,
    left: Option<Vec<String>>,
    from: Option<String>,
    data: Option<Box<RawValue>>,
    code: Option<ErrorCode>,
    message: Option<String>,
    retry_after_ms: Option<u64>,
    t: Option<Box<RawValue>>,
}

impl ServerFrame {
    /// Serialises the frame as the JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every map key is a string and RawValue is
        // already valid JSON.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// Parses a server frame (client side). Unknown `type`s give an error with
    /// `unknown_type` set, so clients can ignore frames added by newer servers.
    pub fn parse(text: &str) -> Result<ServerFrame, FrameError> {
        let raw: Raw = serde_json::from_str(text)
            .map_err(|e| FrameError::invalid(format!("malformed server frame: {e}"), None))?;
        let missing = |f: &str| FrameError::invalid(format!("server frame `{}` lacks `{f}`", raw.ty), None);
        Ok(match raw.ty.as_str() {
            "welcome" => ServerFrame::Welcome(Welcome {
                peer_id: raw.peer_id.clone().ok_or_else(|| missing("peerId"))?,
                resume_token: raw.resume_token.clone().ok_or_else(|| missing("resumeToken"))?,
                resumed: raw.resumed.unwrap_or(false),
                server_time: raw.server_time.unwrap_or(0),
                max_message_size: raw.max_message_size.unwrap_or(crate::MAX_FRAME_BYTES),
                ice_servers: raw.ice_servers.clone().unwrap_or_default(),
                limits: raw.limits,
            }),
            "ack" => ServerFrame::Ack {
                request_id: raw.request_id.clone().ok_or_else(|| missing("requestId"))?,
                resume_token: raw.resume_token.clone(),
            },
            "presence" => ServerFrame::Presence {
                channel: raw.channel.clone().ok_or_else(|| missing("channel"))?,
                joined: raw.joined.clone().unwrap_or_default(),
                left: raw.left.clone().unwrap_or_default(),
                resume_token: raw.resume_token.clone(),
            },
            "message" => ServerFrame::Message {
                from: raw.from.clone().ok_or_else(|| missing("from"))?,
                channel: raw.channel.clone(),
                data: raw.data.clone().ok_or_else(|| missing("data"))?,
            },
            "signal" => ServerFrame::Signal {
                from: raw.from.clone().ok_or_else(|| missing("from"))?,
                data: raw.data.clone().ok_or_else(|| missing("data"))?,
            },
            "error" => ServerFrame::Error {
                code: raw.code.ok_or_else(|| missing("code"))?,
                message: raw.message.clone().unwrap_or_default(),
                request_id: raw.request_id.clone(),
            },
            "going_away" => ServerFrame::GoingAway { retry_after_ms: raw.retry_after_ms.unwrap_or(0) },
            "resume_token" => ServerFrame::ResumeToken {
                resume_token: raw.resume_token.clone().ok_or_else(|| missing("resumeToken"))?,
            },
            "pong" => ServerFrame::Pong { t: raw.t.clone() },
            other => {
                let mut e = FrameError::invalid(format!("unknown server frame type `{other}`"), None);
                e.unknown_type = true;
                return Err(e);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ice_server_ignores_unknown_fields_and_never_prints_its_credential() {
        let json = r#"{"urls":["turn:t:3478"],"username":"u","credential":"s3cret","credentialType":"password"}"#;
        let s: IceServer = serde_json::from_str(json).unwrap();
        assert_eq!(s.credential.as_deref(), Some("s3cret"));
        assert!(!format!("{s:?}").contains("s3cret"));
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"urls":["turn:t:3478"],"username":"u","credential":"s3cret"}"#
        );
    }

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn round_trips_every_frame() {
        let frames = vec![
            ServerFrame::Welcome(Welcome {
                peer_id: "p1".into(),
                resume_token: "tok".into(),
                resumed: true,
                server_time: 5,
                max_message_size: 65536,
                ice_servers: vec![IceServer { urls: vec!["stun:x".into()], username: None, credential: None }],
                limits: Some(Limits {
                    rate_per_sec: 100,
                    rate_burst: 200,
                    room_changes_per_min: 60,
                    room_changes_burst: 64,
                }),
            }),
            ServerFrame::Ack { request_id: RequestId::Str("a".into()), resume_token: None },
            ServerFrame::Ack { request_id: RequestId::Num(2), resume_token: Some("t".into()) },
            ServerFrame::Presence {
                channel: "c".into(),
                joined: vec![PresenceEntry { peer_id: "p".into(), name: "n".into() }],
                left: vec!["q".into()],
                resume_token: None,
            },
            ServerFrame::Message { from: "p".into(), channel: None, data: raw(r#"{"a":1}"#) },
            ServerFrame::Signal { from: "p".into(), data: raw(r#"{"gen":1}"#) },
            ServerFrame::Error { code: ErrorCode::SelfSend, message: "m".into(), request_id: Some(RequestId::Num(1)) },
            ServerFrame::GoingAway { retry_after_ms: 100 },
            ServerFrame::Pong { t: Some(raw("12")) },
        ];
        for f in frames {
            let text = f.to_json();
            let back = ServerFrame::parse(&text).unwrap();
            assert_eq!(back.to_json(), text);
        }
    }

    #[test]
    fn wire_shapes_match_the_protocol() {
        let m = ServerFrame::Message { from: "p".into(), channel: None, data: raw("[1]") }.to_json();
        assert_eq!(m, r#"{"type":"message","from":"p","data":[1]}"#);
        let g = ServerFrame::GoingAway { retry_after_ms: 7 }.to_json();
        assert_eq!(g, r#"{"type":"going_away","retryAfterMs":7}"#);
        let e =
            ServerFrame::Error { code: ErrorCode::OverMessageQuota, message: "x".into(), request_id: None }.to_json();
        assert_eq!(e, r#"{"type":"error","code":"over_message_quota","message":"x"}"#);
        assert!(ServerFrame::parse(r#"{"type":"novel"}"#).unwrap_err().unknown_type);
    }
}
