//! Output of chat-cli: one JSON object per line (`--json`) or a readable line, flushed
//! at once. Every event goes through [`Out::emit`], so lines never interleave.

use std::io::Write;

use peerchat_chat::ChatEvent;
use serde_json::{json, Value};

/// Where events are written.
#[derive(Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Writes one event. `fields` must be a JSON object; `event` names it.
    pub fn emit(&self, event: &str, fields: Value) {
        let mut obj = json!({ "event": event });
        if let (Some(o), Value::Object(f)) = (obj.as_object_mut(), fields) {
            o.extend(f);
        }
        let line = if self.json { obj.to_string() } else { human(&obj) };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    pub fn error(&self, kind: &str, message: &str) {
        self.emit("error", json!({ "kind": kind, "message": message }));
    }

    /// Writes a chat session event.
    pub fn event(&self, ev: &ChatEvent) {
        match serde_json::to_value(ev) {
            Ok(Value::Object(mut o)) => {
                let name = o.remove("event").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                self.emit(&name, Value::Object(o));
            }
            _ => self.error("internal", "an event could not be written"),
        }
    }
}

/// Field `k` of an event, safe to print on a terminal (see [`inert`]).
fn s(v: &Value, k: &str) -> String {
    inert(v.get(k).and_then(Value::as_str).unwrap_or(""))
}

/// Number field `k` of an event.
fn n(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// `text` with everything a terminal would act on made visible instead: control
/// characters (escape sequences that move the cursor, retitle the window, clear the
/// screen; bell; carriage returns that overwrite the line) and bidirectional overrides
/// (which reorder what is shown). Names and messages come from other people.
fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi =
            matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}');
        if c.is_control() || bidi {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// The readable form of an event.
fn human(v: &Value) -> String {
    match s(v, "event").as_str() {
        "welcome" => format!("* connected as {}", s(v, "peerId")),
        "peer-joined" => format!("* {} joined ({})", s(v, "name"), s(v, "peerId")),
        "peer-left" => format!("* {} left", s(v, "peerId")),
        "peer-renamed" => format!("* {} is now shown as {}", s(v, "peerId"), s(v, "name")),
        "state-change" => format!("* {}: {} -> {}", s(v, "peerId"), s(v, "from"), s(v, "to")),
        "channel-open" => format!("* channel {:?} open to {}", s(v, "label"), s(v, "peerId")),
        "message" => format!("<{}> {} [{}]", s(v, "name"), s(v, "text"), s(v, "via")),
        "signalling" => format!("* signalling {}", s(v, "state")),
        "delivered" => format!("* delivered to {}", s(v, "peerId")),
        "typing" => format!("* {} is typing", s(v, "peerId")),
        "path" => {
            let route = s(v, "route");
            let route = match route.as_str() {
                "direct" => "direct",
                "direct-through-nat" => "direct through NAT",
                "relayed" => "relayed via TURN",
                other => other,
            };
            let rtt = v.get("rttMs").and_then(Value::as_f64).map(|r| format!(", rtt {r} ms")).unwrap_or_default();
            format!(
                "* path to {}: {route} ({} {} -> {} {}, {}{rtt})",
                s(v, "peerId"),
                s(v, "local"),
                s(v, "localAddress"),
                s(v, "remote"),
                s(v, "remoteAddress"),
                s(v, "protocol")
            )
        }
        "security" => match s(v, "trust").as_str() {
            "changed" => format!(
                "!!! WARNING: {} ({}) shows another certificate than the one you verified. Someone may be \
                 listening in between. Compare the safety number again before trusting them: {}",
                s(v, "name"),
                s(v, "peerId"),
                s(v, "safetyNumber")
            ),
            trust => format!(
                "* safety number with {} ({}): {} [{trust}]",
                s(v, "name"),
                s(v, "peerId"),
                s(v, "safetyNumber")
            ),
        },
        "file-offer" => format!(
            "* {} offers {:?} ({} bytes): /accept {} or /decline {}",
            s(v, "peerId"),
            s(v, "name"),
            n(v, "size"),
            s(v, "id"),
            s(v, "id")
        ),
        "file-progress" => {
            let (bytes, size) = (n(v, "bytes"), n(v, "size"));
            let pct = (bytes * 100).checked_div(size).unwrap_or(100);
            let left =
                v.get("etaMs").and_then(Value::as_u64).map(|ms| format!(", {} s left", ms / 1000)).unwrap_or_default();
            format!(
                "* file {} {}: {bytes}/{size} bytes ({pct}%), {} B/s{left}",
                s(v, "id"),
                s(v, "direction"),
                n(v, "rate")
            )
        }
        "file-done" => match v.get("path") {
            Some(_) => {
                format!("* file {} received and verified: {} (sha256 {})", s(v, "id"), s(v, "path"), s(v, "sha256"))
            }
            None => {
                format!("* file {} sent and verified by {} (sha256 {})", s(v, "id"), s(v, "peerId"), s(v, "sha256"))
            }
        },
        "file-failed" => {
            let part = v.get("part").map(|_| format!("; what arrived is in {}", s(v, "part"))).unwrap_or_default();
            format!("! file {} {}: {} ({}){part}", s(v, "id"), s(v, "direction"), s(v, "message"), s(v, "kind"))
        }
        "file-restored" => format!(
            "* file {} ({:?}, {} bytes) kept from before the restart: goes on from byte {} once {} is back",
            s(v, "id"),
            s(v, "name"),
            n(v, "size"),
            n(v, "bytes"),
            s(v, "peerName")
        ),
        "file-sending" => {
            format!(
                "* offering {:?} ({} bytes) to {} as file {}",
                s(v, "name"),
                n(v, "size"),
                s(v, "peerId"),
                s(v, "id")
            )
        }
        "error" => format!("! {}: {}", s(v, "kind"), s(v, "message")),
        other => format!("* {other}: {}", inert(&v.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_texts_from_others_cannot_drive_the_terminal() {
        let ev = json!({
            "event": "message",
            "name": "\u{1b}]0;pwned\u{7}eve",
            "text": "hi\u{1b}[2J\rroot# \u{202e}gnp.exe\u{9b}31m",
            "via": "p2p"
        });
        let line = human(&ev);
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
        assert!(!line.contains('\u{202e}'), "{line:?}");
        // What was there stays visible, escaped.
        assert!(line.contains("\\u{1b}]0;pwned\\u{7}eve"), "{line:?}");
        assert!(line.starts_with("<"), "{line:?}");
    }

    #[test]
    fn ordinary_text_prints_as_it_is() {
        let ev = json!({"event": "message", "name": "Zoë", "text": "héllo 👋 — ok", "via": "p2p"});
        assert_eq!(human(&ev), "<Zoë> héllo 👋 — ok [p2p]");
    }
}
