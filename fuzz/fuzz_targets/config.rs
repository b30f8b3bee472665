//! The server's TOML configuration file: any text is a config or a typed error, and a
//! config that parses also builds or fails with a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signal_server::{Config, FileConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(file) = FileConfig::parse(text, "fuzz") {
        let _ = Config::build(file, Some("127.0.0.1:0".into()), vec![]);
    }
});
