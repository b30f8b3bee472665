//! One session's events, kept: received lines go to the history with their sender's
//! key, receipts and failures update our lines' state, every peer whose certificate is
//! known is remembered as a member of the room, and a member who comes back gets the
//! lines that waited for them (the outbox), a few at a time, once our channel to them
//! is open. Owned by the session's forwarder task, which hands each event on after the
//! recorder saw it: writes are queued to the history's thread without waiting (in
//! order, so later reads see them); only sending the outbox waits for a read.

use peerchat_chat::{ChatEvent, ChatSession, MessageKind};
use peerchat_history::{Direction, HistoryError, HistoryHandle, NewLine};

use super::flights::Flights;
use super::history::{now_ms, report_to, RoomLog};
use super::EventSink;

/// Outbox lines on their way to one returning member at a time (the rest follow as
/// receipts come back), well under the chat's 4 096 lines awaiting receipts.
const IN_FLIGHT: usize = 16;
/// A line that waited for us is shown at the time it was written, but never in the
/// future and never more than this long ago (the sender's clock is theirs).
const WRITTEN_AT_MOST_MS: i64 = 90 * 24 * 60 * 60 * 1000;

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
    sink: EventSink,
    flights: Flights,
}

/// A history failure as an error in the window's log (the chat goes on).
pub(crate) fn history_error(e: &HistoryError) -> ChatEvent {
    ChatEvent::Error { kind: e.kind().into(), message: e.to_string(), peer_id: None, id: None, fatal: false }
}

impl Recorder {
    pub(crate) fn new(log: RoomLog, session: ChatSession, sink: EventSink) -> Recorder {
        Recorder { log, session, sink, flights: Flights::default() }
    }

    /// Queues `job` on the history's thread; a failure is said in the window.
    fn write(
        &self,
        h: &HistoryHandle,
        job: impl FnOnce(&mut peerchat_history::History) -> Result<(), HistoryError> + Send + 'static,
    ) {
        let sink = self.sink.clone();
        h.submit(job, move |e| report_to(Some(sink), &e));
    }

    /// Keeps what `ev` says; whether the window gets it.
    pub(crate) async fn see(&mut self, ev: &ChatEvent) -> Pass {
        let Some(h) = self.log.history.clone() else { return Pass::On };
        let room = self.log.room.clone();
        match ev {
            ChatEvent::Message { from, name, via, kind: MessageKind::Chat, id: Some(id), text, at_ms, written_ms }
                if self.log.keep =>
            {
                let at_ms = *at_ms as i64;
                let written = written_ms.map_or(at_ms, |w| (w as i64).clamp(at_ms - WRITTEN_AT_MOST_MS, at_ms));
                let line = NewLine {
                    room,
                    line_id: id.clone(),
                    direction: Direction::Received,
                    sender: name.clone(),
                    sender_key: self.session.security(from).map(|s| s.fingerprint),
                    text: text.clone(),
                    at_ms: written,
                    via: via.as_str().into(),
                    state: "received".into(),
                };
                self.write(&h, move |h| h.add(&line).map(drop));
            }
            ChatEvent::Delivered { peer_id, id } => {
                let key = self.flights.settle(peer_id, id);
                let (line, k) = (id.clone(), key.clone());
                self.write(&h, move |h| {
                    if let Some(k) = k {
                        h.delivered(&room, &line, &k)?;
                    }
                    h.mark_delivered(&room, &line).map(drop)
                });
                if let Some(key) = key {
                    // The next of that member's lines, if more wait.
                    self.flush(peer_id, &key).await;
                }
            }
            ChatEvent::Error { peer_id: Some(peer), id: Some(id), .. } => {
                if self.flights.settle(peer, id).is_some() {
                    tracing::info!(%peer, line = %id, "a kept line did not reach its member this time; it waits on");
                    return Pass::Hold;
                }
                let id = id.clone();
                self.write(&h, move |h| h.set_state(&room, &id, Direction::Sent, "not_delivered").map(drop));
            }
            ChatEvent::Security(v) => {
                let name = shown_to_chosen(&v.name, &v.peer_id).to_string();
                let (key, at) = (v.fingerprint.clone(), now_ms());
                self.write(&h, move |h| h.saw_member(&room, &key, &name, at));
                if self.session.channel_open(&v.peer_id) {
                    self.flush(&v.peer_id, &v.fingerprint).await;
                }
            }
            ChatEvent::ChannelOpen { peer_id, .. } => {
                if let Some(v) = self.session.security(peer_id) {
                    self.flush(peer_id, &v.fingerprint).await;
                }
            }
            ChatEvent::PeerLeft { peer_id } => self.flights.peer_gone(peer_id),
            _ => {}
        }
        Pass::On
    }

    /// Sends `peer` (member `key`) the lines that wait for it, up to [`IN_FLIGHT`] on
    /// their way at once.
    async fn flush(&mut self, peer: &str, key: &str) {
        if Some(key) == self.log.own_key.as_deref() {
            return;
        }
        let Some(h) = &self.log.history else { return };
        let (room, k) = (self.log.room.clone(), key.to_string());
        // The ones on their way are among the oldest: this many covers them and the next.
        let waiting = match h.call(move |h| h.waiting_for(&room, &k, 2 * IN_FLIGHT)).await {
            Ok(w) => w,
            Err(e) => return report_to(Some(self.sink.clone()), &e),
        };
        for w in waiting {
            if self.flights.in_flight(peer) >= IN_FLIGHT {
                break;
            }
            if !self.flights.start(peer, key, &w.line_id) {
                continue;
            }
            match self.session.deliver(peer, &w.line_id, &w.text, w.at_ms.max(0) as u64) {
                Ok(()) => tracing::info!(%peer, line = %w.line_id, "a kept line goes to its returning member"),
                Err(e) => {
                    // It stays in the outbox for the next return.
                    self.flights.settle(peer, &w.line_id);
                    tracing::warn!(%peer, line = %w.line_id, error = %e, "a kept line could not go out yet");
                    break;
                }
            }
        }
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
