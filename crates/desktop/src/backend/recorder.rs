//! One session's events, kept: received lines go to the history with their sender's
//! key, receipts and failures update our lines' state, every peer whose certificate is
//! known is remembered as a member of the room, and a member who comes back gets the
//! lines that waited for them (the outbox) as soon as our channel to them is open.
//! Owned by the session's forwarder task; it sees each event before the window does.

use peerchat_chat::{ChatEvent, ChatSession, MessageKind};
use peerchat_history::{Direction, HistoryError, NewLine};

use super::flights::Flights;
use super::history::{now_ms, RoomLog};

/// What the forwarder does with an event after the recorder saw it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Hand it to the window.
    On,
    /// Not the window's business: an outbox line that did not reach a returning member
    /// this time stays in the outbox (logged), and goes again at their next return.
    Hold,
}

pub(crate) struct Recorder {
    log: RoomLog,
    session: ChatSession,
    flights: Flights,
}

/// A history failure as an error in the window's log (the chat goes on).
pub(crate) fn history_error(e: &HistoryError) -> ChatEvent {
    ChatEvent::Error { kind: e.kind().into(), message: e.to_string(), peer_id: None, id: None, fatal: false }
}

impl Recorder {
    pub(crate) fn new(log: RoomLog, session: ChatSession) -> Recorder {
        Recorder { log, session, flights: Flights::default() }
    }

    /// Keeps what `ev` says; a history failure is returned for the window to show.
    pub(crate) async fn see(&mut self, ev: &ChatEvent) -> (Pass, Option<ChatEvent>) {
        match self.record(ev).await {
            Ok(pass) => (pass, None),
            Err(e) => {
                tracing::warn!(error = %e, "history");
                (Pass::On, Some(history_error(&e)))
            }
        }
    }

    async fn record(&mut self, ev: &ChatEvent) -> Result<Pass, HistoryError> {
        let Some(h) = self.log.history.clone() else { return Ok(Pass::On) };
        let room = self.log.room.clone();
        match ev {
            ChatEvent::Message { from, name, via, kind: MessageKind::Chat, id: Some(id), text, at_ms }
                if self.log.keep =>
            {
                let line = NewLine {
                    room,
                    line_id: id.clone(),
                    direction: Direction::Received,
                    sender: name.clone(),
                    sender_key: self.session.security(from).map(|s| s.fingerprint),
                    text: text.clone(),
                    at_ms: *at_ms as i64,
                    via: serde_json::to_value(via)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    state: "received".into(),
                };
                h.call(move |h| h.add(&line)).await?;
            }
            ChatEvent::Delivered { peer_id, id } => {
                let key = self.flights.settle(peer_id, id);
                let id = id.clone();
                h.call(move |h| {
                    if let Some(key) = key {
                        h.delivered(&room, &id, &key)?;
                    }
                    h.mark_delivered(&room, &id)
                })
                .await?;
            }
            ChatEvent::Error { peer_id: Some(peer), id: Some(id), .. } => {
                if self.flights.settle(peer, id).is_some() {
                    tracing::info!(%peer, line = %id, "a kept line did not reach its member this time; it waits on");
                    return Ok(Pass::Hold);
                }
                let id = id.clone();
                h.call(move |h| h.set_state(&room, &id, Direction::Sent, "not_delivered")).await?;
            }
            ChatEvent::Security(v) => {
                let name = shown_to_chosen(&v.name, &v.peer_id).to_string();
                let (key, at) = (v.fingerprint.clone(), now_ms());
                h.call(move |h| h.saw_member(&room, &key, &name, at)).await?;
                if self.session.channel_open(&v.peer_id) {
                    self.flush(&v.peer_id, &v.fingerprint).await?;
                }
            }
            ChatEvent::ChannelOpen { peer_id, .. } => {
                if let Some(v) = self.session.security(peer_id) {
                    self.flush(peer_id, &v.fingerprint).await?;
                }
            }
            ChatEvent::PeerLeft { peer_id } => self.flights.peer_gone(peer_id),
            _ => {}
        }
        Ok(Pass::On)
    }

    /// Sends `peer` (member `key`) the lines that waited for it.
    async fn flush(&mut self, peer: &str, key: &str) -> Result<(), HistoryError> {
        if Some(key) == self.log.own_key.as_deref() {
            return Ok(());
        }
        let Some(h) = &self.log.history else { return Ok(()) };
        let (room, k) = (self.log.room.clone(), key.to_string());
        let waiting = h.call(move |h| h.waiting_for(&room, &k)).await?;
        for w in waiting {
            if !self.flights.start(peer, key, &w.line_id) {
                continue;
            }
            match self.session.deliver(peer, &w.line_id, &w.text) {
                Ok(()) => tracing::info!(%peer, line = %w.line_id, "a kept line goes to its returning member"),
                Err(e) => {
                    // It stays in the outbox for the next return.
                    self.flights.settle(peer, &w.line_id);
                    tracing::warn!(%peer, line = %w.line_id, error = %e, "a kept line could not go out yet");
                }
            }
        }
        Ok(())
    }
}

/// The name a peer chose, from the name shown for it (` #` and four characters of its
/// id are added when two in the room share a name).
fn shown_to_chosen<'a>(shown: &'a str, peer_id: &str) -> &'a str {
    let suffix: String = peer_id.chars().take(4).collect();
    shown.strip_suffix(&format!(" #{suffix}")).unwrap_or(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_suffix_of_a_shared_name_is_not_part_of_the_member_name() {
        assert_eq!(shown_to_chosen("bob #ab12", "ab12cdef"), "bob");
        assert_eq!(shown_to_chosen("bob #zz", "ab12cdef"), "bob #zz", "a name that only looks like one");
        assert_eq!(shown_to_chosen("bob", "ab12cdef"), "bob");
    }
}
