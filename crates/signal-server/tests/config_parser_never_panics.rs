//! Property tests of the config parser (the long runs are the `config` fuzz target):
//! any text is a config or a typed error, and a config that parses builds or fails with
//! a typed error. Never a panic.

use proptest::prelude::*;
use signal_server::{Config, FileConfig};

const VALID: &str = r#"[server]
listen = "127.0.0.1:8787"
secret = "0123456789abcdef0123"
grace_period_secs = 30
max_name_bytes = 64
[[keys]]
key = "pk_live"
channels = ["room-*", "lobby"]
origins = ["https://app.example"]
max_connections = 10
messages_per_period = 1000
period_secs = 60
[[ice_servers]]
urls = ["stun:stun.example.org:3478"]
"#;

fn check(text: &str) {
    if let Ok(file) = FileConfig::parse(text, "prop") {
        let _ = Config::build(file, Some("127.0.0.1:0".into()), vec![]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_a_config_or_a_typed_error(text in "(?s).{0,400}") {
        check(&text);
    }

    #[test]
    fn a_valid_config_edited_anywhere_is_still_handled(at in 0usize..500, len in 0usize..30, insert in "[\\[\\]=\"a-z0-9_\n .*-]{0,12}") {
        let mut s: Vec<char> = VALID.chars().collect();
        let at = at.min(s.len());
        let end = (at + len).min(s.len());
        s.splice(at..end, insert.chars());
        check(&s.into_iter().collect::<String>());
    }

    #[test]
    fn numbers_of_any_size_in_any_field_are_handled(n in any::<i64>(), field in prop::sample::select(&[
        "grace_period_secs", "max_name_bytes", "max_channel_bytes", "rate_per_sec", "rate_burst", "outbound_queue",
        "resume_queue", "ping_interval_secs", "idle_timeout_secs", "handshake_timeout_secs", "max_peers_per_channel",
    ][..])) {
        check(&format!("[server]\n{field} = {n}\n[[keys]]\nkey = \"pk\"\nmax_connections = {n}\nperiod_secs = {n}\n"));
    }
}
