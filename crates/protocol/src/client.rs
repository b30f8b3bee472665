//! Client → server frames and their parser.
//!
//! Parsing is two-step: the text is first read as a flat object of raw JSON fields, then
//! each field the frame's `type` needs is checked for its type. That way every failure
//! names the field at fault and still echoes the frame's `requestId` when it was readable.
//! Unknown fields are ignored so that newer clients keep working with this server.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{FrameError, RequestId, MAX_REQUEST_ID_LEN};

/// A frame sent by a client. Serialises to the wire JSON with [`ClientFrame::to_json`].
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientFrame {
    /// Join a channel under a display name.
    Subscribe {
        channel: String,
        name: String,
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Leave a channel.
    Unsubscribe {
        channel: String,
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Send `data` to every other subscriber of `channel`.
    Publish {
        channel: String,
        data: Box<RawValue>,
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Send `data` to one peer that shares a channel.
    Send {
        to: String,
        data: Box<RawValue>,
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Relay WebRTC negotiation to one peer; `data` must be a JSON object.
    Signal {
        to: String,
        data: Box<RawValue>,
        #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
        request_id: Option<RequestId>,
    },
    /// Application-level keepalive; `t` (a number) is echoed in the `pong`.
    Ping {
        #[serde(skip_serializing_if = "Option::is_none")]
        t: Option<Box<RawValue>>,
    },
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<&'a RawValue>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<&'a RawValue>,
    #[serde(borrow)]
    channel: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    to: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    t: Option<&'a RawValue>,
}

impl ClientFrame {
    /// Parses one text frame. Never panics, whatever the input.
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        // serde's derived struct visitor also accepts arrays; a frame must be an object.
        if !text.trim_start().starts_with('{') {
            let what = if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
                "frame must be a JSON object"
            } else {
                "frame is not valid JSON"
            };
            return Err(FrameError::invalid(what, None));
        }
        let raw: Raw<'_> = serde_json::from_str(text).map_err(|e| {
            let what =
                if e.is_syntax() || e.is_eof() { "frame is not valid JSON" } else { "frame must be a JSON object" };
            FrameError::invalid(format!("{what} (line {}, column {})", e.line(), e.column()), None)
        })?;
        let request_id = match raw.request_id {
            None => None,
            Some(v) => Some(parse_request_id(v)?),
        };
        let fail = |msg: String| FrameError::invalid(msg, request_id.clone());
        let ty: String = match raw.ty {
            None => return Err(fail("missing field `type`".into())),
            Some(v) => string_field("type", v).map_err(fail)?,
        };
        let req = |field: &'static str, v: Option<&RawValue>| -> Result<String, FrameError> {
            match v {
                None => Err(fail(format!("missing field `{field}`"))),
                Some(v) => string_field(field, v).map_err(fail),
            }
        };
        let data = |v: Option<&RawValue>| -> Result<Box<RawValue>, FrameError> {
            let v = v.ok_or_else(|| fail("missing field `data`".into()))?;
            if nesting_depth(v.get()) > MAX_DATA_DEPTH {
                return Err(fail(format!("field `data` is nested deeper than {MAX_DATA_DEPTH} levels")));
            }
            Ok(v.to_owned())
        };
        match ty.as_str() {
            "subscribe" => Ok(ClientFrame::Subscribe {
                channel: req("channel", raw.channel)?,
                name: req("name", raw.name)?,
                request_id,
            }),
            "unsubscribe" => Ok(ClientFrame::Unsubscribe { channel: req("channel", raw.channel)?, request_id }),
            "publish" => {
                Ok(ClientFrame::Publish { channel: req("channel", raw.channel)?, data: data(raw.data)?, request_id })
            }
            "send" => Ok(ClientFrame::Send { to: req("to", raw.to)?, data: data(raw.data)?, request_id }),
            "signal" => {
                let to = req("to", raw.to)?;
                let d = data(raw.data)?;
                if !d.get().trim_start().starts_with('{') {
                    return Err(fail("field `data` of a signal must be a JSON object".into()));
                }
                Ok(ClientFrame::Signal { to, data: d, request_id })
            }
            "ping" => {
                let t = match raw.t {
                    None => None,
                    Some(v) if v.get() == "null" => None,
                    Some(v) => {
                        serde_json::from_str::<f64>(v.get()).map_err(|_| fail("field `t` must be a number".into()))?;
                        Some(v.to_owned())
                    }
                };
                Ok(ClientFrame::Ping { t })
            }
            _ => {
                // The type itself is not echoed: error messages carry no frame contents.
                let mut e = fail("unknown frame type".into());
                e.unknown_type = true;
                Err(e)
            }
        }
    }

    /// Serialises the frame as the JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        // Cannot fail: string keys only, and RawValue is valid JSON.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The frame's `requestId`, if any.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            ClientFrame::Subscribe { request_id, .. }
            | ClientFrame::Unsubscribe { request_id, .. }
            | ClientFrame::Publish { request_id, .. }
            | ClientFrame::Send { request_id, .. }
            | ClientFrame::Signal { request_id, .. } => request_id.as_ref(),
            ClientFrame::Ping { .. } => None,
        }
    }

    /// The frame's `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Subscribe { .. } => "subscribe",
            ClientFrame::Unsubscribe { .. } => "unsubscribe",
            ClientFrame::Publish { .. } => "publish",
            ClientFrame::Send { .. } => "send",
            ClientFrame::Signal { .. } => "signal",
            ClientFrame::Ping { .. } => "ping",
        }
    }
}

/// Keeps an explicit `null` as `Some("null")`: for `data`, null is a value, not absence.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

fn parse_request_id(v: &RawValue) -> Result<RequestId, FrameError> {
    match serde_json::from_str::<RequestId>(v.get()) {
        Ok(RequestId::Str(s)) if s.len() > MAX_REQUEST_ID_LEN => {
            Err(FrameError::invalid(format!("field `requestId` is longer than {MAX_REQUEST_ID_LEN} bytes"), None))
        }
        Ok(id) => Ok(id),
        Err(_) => Err(FrameError::invalid("field `requestId` must be a string or a non-negative integer", None)),
    }
}

/// Deepest nesting of arrays and objects accepted in `data`.
pub const MAX_DATA_DEPTH: usize = 32;

/// Deepest nesting of `[`/`{` in valid JSON text, skipping string contents.
fn nesting_depth(json: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn string_field(field: &str, v: &RawValue) -> Result<String, String> {
    serde_json::from_str::<String>(v.get()).map_err(|_| format!("field `{field}` must be a string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> FrameError {
        match ClientFrame::parse(text) {
            Ok(f) => panic!("accepted a bad frame of type {}", f.kind()),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_every_frame_type() {
        let f = ClientFrame::parse(r#"{"type":"subscribe","channel":"c","name":"n","requestId":7}"#).unwrap();
        assert!(
            matches!(f, ClientFrame::Subscribe { ref channel, ref name, request_id: Some(RequestId::Num(7)) } if channel == "c" && name == "n")
        );
        let f = ClientFrame::parse(r#"{"type":"publish","channel":"c","data":{"x":[1,2]}}"#).unwrap();
        assert!(matches!(f, ClientFrame::Publish { ref data, .. } if data.get() == r#"{"x":[1,2]}"#));
        let f = ClientFrame::parse(r#"{"type":"send","to":"p","data":null,"requestId":"r1"}"#).unwrap();
        assert!(
            matches!(f, ClientFrame::Send { ref data, request_id: Some(RequestId::Str(ref r)), .. } if data.get() == "null" && r == "r1")
        );
        let f = ClientFrame::parse(r#"{"type":"signal","to":"p","data":{"gen":1}}"#).unwrap();
        assert_eq!(f.kind(), "signal");
        let f = ClientFrame::parse(r#"{"type":"unsubscribe","channel":"c"}"#).unwrap();
        assert_eq!(f.kind(), "unsubscribe");
        let f = ClientFrame::parse(r#"{"type":"ping","t":1700000000000123}"#).unwrap();
        assert!(matches!(f, ClientFrame::Ping { t: Some(ref t) } if t.get() == "1700000000000123"));
        assert!(matches!(ClientFrame::parse(r#"{"type":"ping"}"#).unwrap(), ClientFrame::Ping { t: None }));
    }

    #[test]
    fn serialised_frames_parse_back() {
        let texts = [
            r#"{"type":"subscribe","channel":"c","name":"n","requestId":1}"#,
            r#"{"type":"unsubscribe","channel":"c"}"#,
            r#"{"type":"publish","channel":"c","data":{"a":[1]},"requestId":"x"}"#,
            r#"{"type":"send","to":"p","data":null}"#,
            r#"{"type":"signal","to":"p","data":{"gen":1}}"#,
            r#"{"type":"ping","t":5}"#,
            r#"{"type":"ping"}"#,
        ];
        for t in texts {
            assert_eq!(ClientFrame::parse(t).unwrap().to_json(), t);
        }
    }

    #[test]
    fn malformed_input_is_invalid_args_with_request_id_when_readable() {
        assert!(err("not json").message.contains("not valid JSON"));
        assert!(err("[1,2]").message.contains("JSON object"));
        assert!(err(r#"["ping",0,0,0,0,0,5]"#).message.contains("JSON object"));
        assert!(err(r#"["subscribe",null,"c","n"]"#).message.contains("JSON object"));
        assert!(err(r#"{"channel":"c"}"#).message.contains("`type`"));
        let e = err(r#"{"type":"subscribe","channel":5,"name":"n","requestId":"q"}"#);
        assert_eq!(e.request_id, Some(RequestId::Str("q".into())));
        assert!(e.message.contains("`channel`"));
        let e = err(r#"{"type":"frobnicate","requestId":3}"#);
        assert!(e.unknown_type);
        assert_eq!(e.request_id, Some(RequestId::Num(3)));
        assert!(err(r#"{"type":"publish","channel":"c"}"#).message.contains("`data`"));
        assert!(err(r#"{"type":"signal","to":"p","data":"x"}"#).message.contains("JSON object"));
        assert!(err(r#"{"type":"ping","t":"x"}"#).message.contains("`t`"));
        assert!(err(r#"{"type":"send","to":"p","data":1,"requestId":-1}"#).message.contains("requestId"));
        assert!(err(&format!(r#"{{"type":"ping","requestId":"{}"}}"#, "a".repeat(129))).message.contains("longer"));
        assert!(err(r#"{"type":"ping","type":"ping"}"#).message.contains("JSON object"));
    }

    #[test]
    fn nesting_depth_skips_strings() {
        assert_eq!(nesting_depth(r#"{"a":[1,{"b":"[[[{"}]}"#), 3);
        assert_eq!(nesting_depth(r#""\\\"[""#), 0);
        let ok = format!("{}{}", "[".repeat(MAX_DATA_DEPTH), "]".repeat(MAX_DATA_DEPTH));
        assert!(ClientFrame::parse(&format!(r#"{{"type":"publish","channel":"c","data":{ok}}}"#)).is_ok());
    }

    #[test]
    fn hostile_input_never_panics() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        err(&format!(r#"{{"type":"publish","channel":"c","data":{deep}}}"#));
        err(r#"{"type":"ping","t":1e999}"#);
        err(r#"{"type":"subscribe","channel":"c","name":"\udc00"}"#);
        err(r#"{"type":"subscribe","channel":"c","name":"a"#);
        err("");
        err("\u{0}");
    }
}
