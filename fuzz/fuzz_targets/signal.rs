//! The `signal` payload as it arrives from another peer, then what the engine does with
//! it: the SDP of a description is parsed, a candidate line is parsed. A remote peer
//! controls all of it, so none of it may panic.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use peerchat_protocol::signal::{SignalBody, SignalPayload};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(p) = SignalPayload::parse(text) else { return };
    let again = SignalPayload::parse(&p.to_json()).expect("a parsed payload re-parses");
    assert_eq!(again.to_json(), p.to_json());
    match p.body {
        SignalBody::Description(d) => {
            let _ = rtc_sdp::description::session::SessionDescription::unmarshal(&mut Cursor::new(d.sdp.as_bytes()));
        }
        SignalBody::Candidate(Some(c)) => {
            let _ = rtc_ice::candidate::unmarshal_candidate(&c.candidate);
        }
        _ => {}
    }
});
