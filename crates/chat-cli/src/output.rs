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

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The readable form of an event.
fn human(v: &Value) -> String {
    match s(v, "event") {
        "welcome" => format!("* connected as {}", s(v, "peerId")),
        "peer-joined" => format!("* {} joined ({})", s(v, "name"), s(v, "peerId")),
        "peer-left" => format!("* {} left", s(v, "peerId")),
        "state-change" => format!("* {}: {} -> {}", s(v, "peerId"), s(v, "from"), s(v, "to")),
        "channel-open" => format!("* channel {:?} open to {}", s(v, "label"), s(v, "peerId")),
        "message" => format!("<{}> {} [{}]", s(v, "name"), s(v, "text"), s(v, "via")),
        "signalling" => format!("* signalling {}", s(v, "state")),
        "delivered" => format!("* delivered to {}", s(v, "peerId")),
        "path" => {
            let route = match s(v, "route") {
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
        "error" => format!("! {}: {}", s(v, "kind"), s(v, "message")),
        other => format!("* {other}: {v}"),
    }
}
