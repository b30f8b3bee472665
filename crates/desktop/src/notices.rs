//! Desktop notifications, decided without I/O: which chat events become a notice, for
//! which window (only one that is not focused, only while the setting is on), and not
//! more often than every [`QUIET`] per window. Lines that come meanwhile are counted in
//! the next notice ("and 3 more"); each of them is in the window and its title's unread
//! count whether or not another notice comes. Time is passed in; the Tauri shell shows
//! what this returns.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use peerchat_chat::{ChatEvent, MessageKind};

/// Shortest time between two notices of one window.
pub const QUIET: Duration = Duration::from_secs(3);
/// Longest body shown, in characters.
const MAX_BODY_CHARS: usize = 200;

/// A notice to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

#[derive(Debug, Default)]
struct Window {
    focused: bool,
    last: Option<Instant>,
    /// Lines that came while notices were held back.
    held: usize,
}

/// Focus and the last notice of every window.
#[derive(Debug, Default)]
pub struct Notices {
    windows: HashMap<String, Window>,
}

impl Notices {
    /// `window` gained or lost the focus. A window never reported is not focused.
    pub fn focus(&mut self, window: &str, focused: bool) {
        let w = self.windows.entry(window.to_string()).or_default();
        w.focused = focused;
        if focused {
            w.held = 0;
        }
    }

    /// The window closed.
    pub fn forget(&mut self, window: &str) {
        self.windows.remove(window);
    }

    /// The notice `ev` in `window` (of `room`) calls for at `now`, if any.
    pub fn on_event(
        &mut self,
        window: &str,
        room: &str,
        ev: &ChatEvent,
        enabled: bool,
        now: Instant,
    ) -> Option<Notice> {
        let ChatEvent::Message { kind: MessageKind::Chat, name, text, .. } = ev else { return None };
        let w = self.windows.entry(window.to_string()).or_default();
        if !enabled || w.focused {
            return None;
        }
        if w.last.is_some_and(|t| now.duration_since(t) < QUIET) {
            w.held += 1;
            return None;
        }
        w.last = Some(now);
        let mut body: String = text.chars().take(MAX_BODY_CHARS).collect();
        if text.chars().count() > MAX_BODY_CHARS {
            body.push('…');
        }
        match std::mem::take(&mut w.held) {
            0 => {}
            1 => body.push_str("\n(and 1 more line)"),
            n => body.push_str(&format!("\n(and {n} more lines)")),
        }
        Some(Notice { title: format!("{name} in #{room}"), body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> ChatEvent {
        ChatEvent::Message {
            from: "p1".into(),
            name: "bob".into(),
            via: peerchat_chat::Via::P2p,
            kind: MessageKind::Chat,
            id: Some("p1-1".into()),
            text: text.into(),
            at_ms: 0,
            written_ms: None,
        }
    }

    #[test]
    fn a_line_in_a_window_without_focus_is_a_notice_and_in_a_focused_one_is_not() {
        let mut n = Notices::default();
        let t = Instant::now();
        let got = n.on_event("main", "lobby", &line("hi"), true, t).unwrap();
        assert_eq!(got, Notice { title: "bob in #lobby".into(), body: "hi".into() });
        n.focus("main", true);
        assert_eq!(n.on_event("main", "lobby", &line("hi"), true, t + QUIET * 2), None);
        n.focus("main", false);
        assert!(n.on_event("main", "lobby", &line("hi"), true, t + QUIET * 3).is_some());
    }

    #[test]
    fn the_setting_off_means_no_notice_and_only_chat_lines_count() {
        let mut n = Notices::default();
        let t = Instant::now();
        assert_eq!(n.on_event("main", "lobby", &line("hi"), false, t), None);
        let hello = ChatEvent::Message {
            from: "p1".into(),
            name: "bob".into(),
            via: peerchat_chat::Via::Server,
            kind: MessageKind::Hello,
            id: None,
            text: String::new(),
            at_ms: 0,
            written_ms: None,
        };
        assert_eq!(n.on_event("main", "lobby", &hello, true, t), None);
        assert_eq!(n.on_event("main", "lobby", &ChatEvent::PeerLeft { peer_id: "p1".into() }, true, t), None);
    }

    #[test]
    fn lines_in_quick_succession_are_counted_into_the_next_notice() {
        let mut n = Notices::default();
        let t = Instant::now();
        assert!(n.on_event("main", "lobby", &line("one"), true, t).is_some());
        for (i, text) in ["two", "three"].iter().enumerate() {
            assert_eq!(
                n.on_event("main", "lobby", &line(text), true, t + Duration::from_millis(100 * i as u64 + 1)),
                None
            );
        }
        assert!(n.on_event("other", "lobby", &line("x"), true, t).is_some(), "each window on its own");
        let next = n.on_event("main", "lobby", &line("four"), true, t + QUIET).unwrap();
        assert_eq!(next.body, "four\n(and 2 more lines)");
    }

    #[test]
    fn a_long_line_is_cut_in_the_notice() {
        let mut n = Notices::default();
        let long = "é".repeat(MAX_BODY_CHARS + 5);
        let got = n.on_event("main", "lobby", &line(&long), true, Instant::now()).unwrap();
        assert_eq!(got.body.chars().count(), MAX_BODY_CHARS + 1);
        assert!(got.body.ends_with('…'));
    }
}
