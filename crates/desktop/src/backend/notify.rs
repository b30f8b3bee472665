//! What the shell asks before showing a desktop notification: windows' focus as the
//! window system reports it, and the notice (if any) an event of a window's session
//! calls for ([`crate::notices`] decides).

use std::time::Instant;

use peerchat_chat::ChatEvent;

use super::Backend;
use crate::notices::Notice;

impl Backend {
    /// `window` gained or lost the focus.
    pub fn window_focus(&self, window: &str, focused: bool) {
        self.notices().focus(window, focused);
    }

    /// The notice `ev` of `window`'s session calls for now, if any.
    pub fn notice_for(&self, window: &str, ev: &ChatEvent) -> Option<Notice> {
        let room = self.sessions_lock().get(window).map(|e| e.log.room.clone())?;
        let enabled = self.settings().notifications;
        self.notices().on_event(window, &room, ev, enabled, Instant::now())
    }

    fn notices(&self) -> std::sync::MutexGuard<'_, crate::notices::Notices> {
        self.notices.lock().unwrap_or_else(|p| p.into_inner())
    }
}
