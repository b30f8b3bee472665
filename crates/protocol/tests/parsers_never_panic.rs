//! Property tests of the parsers that read untrusted input (the long runs are the fuzz
//! targets in `fuzz/`): any text gives a frame or a typed error, never a panic; what
//! parses serialises back to the same frame; and an error message never echoes the
//! input, so it is safe to log.

use peerchat_protocol::signal::SignalPayload;
use peerchat_protocol::{ClientFrame, ErrorCode, ServerFrame};
use proptest::prelude::*;

const TYPES: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "publish",
    "send",
    "signal",
    "ping",
    "welcome",
    "presence",
    "message",
    "error",
    "going_away",
    "pong",
    "ack",
    "chat",
    "hello",
    "frobnicate",
];
const FIELDS: &[&str] = &[
    "type",
    "channel",
    "name",
    "data",
    "to",
    "from",
    "requestId",
    "t",
    "gen",
    "description",
    "candidate",
    "sdp",
    "peerId",
    "joined",
    "left",
    "code",
    "message",
    "id",
    "text",
];

/// JSON values of any shape, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
        prop::sample::select(TYPES).prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// Objects that look like frames: a known (or unknown) `type` and plausible fields.
fn frame_like() -> impl Strategy<Value = String> {
    (prop::sample::select(TYPES), prop::collection::vec((prop::sample::select(FIELDS), json()), 0..6)).prop_map(
        |(ty, fields)| {
            let mut o = serde_json::Map::new();
            for (k, v) in fields {
                o.insert(k.to_string(), v);
            }
            o.insert("type".into(), ty.into());
            serde_json::Value::Object(o).to_string()
        },
    )
}

fn check_all(text: &str) {
    match ClientFrame::parse(text) {
        Ok(f) => assert_eq!(ClientFrame::parse(&f.to_json()).map(|g| g.to_json()), Ok(f.to_json())),
        Err(e) => assert_eq!(e.code, ErrorCode::InvalidArgs),
    }
    if let Ok(f) = ServerFrame::parse(text) {
        assert_eq!(ServerFrame::parse(&f.to_json()).map(|g| g.to_json()), Ok(f.to_json()));
    }
    if let Ok(p) = SignalPayload::parse(text) {
        assert_eq!(SignalPayload::parse(&p.to_json()), Ok(p));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_a_frame_or_a_typed_error(text in ".{0,300}") {
        check_all(&text);
    }

    #[test]
    fn any_frame_shaped_json_is_a_frame_or_a_typed_error(text in frame_like()) {
        check_all(&text);
    }

    #[test]
    fn a_valid_frame_cut_or_spliced_anywhere_is_still_handled(
        seed in prop::sample::select(SEEDS),
        at in 0usize..400,
        len in 0usize..20,
        insert in ".{0,8}",
    ) {
        let mut s: Vec<char> = seed.chars().collect();
        let at = at.min(s.len());
        let end = (at + len).min(s.len());
        s.splice(at..end, insert.chars());
        check_all(&s.into_iter().collect::<String>());
    }

    #[test]
    fn error_messages_never_echo_the_input(marker in "[A-Za-z]{12}", ty in prop::sample::select(TYPES)) {
        for text in [
            format!(r#"{{"type":"{ty}","channel":"{marker}","name":5}}"#),
            format!(r#"{{"type":"{ty}","to":7,"data":"{marker}"}}"#),
            format!(r#"{{"type":"{ty}{marker}"}}"#),
            format!(r#"{{"{marker}":1,"type":"{ty}"}}"#),
            format!("{marker} not json"),
        ] {
            if let Err(e) = ClientFrame::parse(&text) {
                prop_assert!(!e.message.contains(&marker), "{} echoes the input: {}", text, e.message);
            }
        }
    }
}

const SEEDS: &[&str] = &[
    r#"{"type":"subscribe","channel":"lobby","name":"alice","requestId":1}"#,
    r#"{"type":"publish","channel":"lobby","data":{"type":"chat","id":"a-1","text":"hi"},"requestId":"r"}"#,
    r#"{"type":"send","to":"Hq1x9ZsPw0aLmN3c","data":{"type":"hello","name":"alice"},"requestId":4}"#,
    r#"{"type":"signal","to":"Hq1x9ZsPw0aLmN3c","data":{"gen":1,"description":{"type":"offer","sdp":"v=0\r\n"}}}"#,
    r#"{"gen":2,"candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.2 54321 typ host","sdpMid":"0","sdpMLineIndex":0}}"#,
    r#"{"type":"ping","t":1700000000000}"#,
    r#"{"type":"presence","channel":"lobby","joined":[{"peerId":"q3Yb0LrW9cTqzA1x","name":"bob"}],"left":[],"snapshot":true}"#,
    r#"{"type":"chat","id":"x-1","text":"hello"}"#,
];
