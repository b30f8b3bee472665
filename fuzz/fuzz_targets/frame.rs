//! Signalling frames as the server reads them from clients, and as clients read them
//! from the server: any input is a typed result, never a panic; a frame that parses
//! serialises to JSON that parses again to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peerchat_protocol::{ClientFrame, ServerFrame};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(f) = ClientFrame::parse(text) {
        let again = ClientFrame::parse(&f.to_json()).expect("a parsed client frame re-parses");
        assert_eq!(again.to_json(), f.to_json());
    }
    if let Ok(f) = ServerFrame::parse(text) {
        let again = ServerFrame::parse(&f.to_json()).expect("a parsed server frame re-parses");
        assert_eq!(again.to_json(), f.to_json());
    }
});
