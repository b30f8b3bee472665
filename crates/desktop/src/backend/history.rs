//! The history behind each window: the database opened on first use (again after a
//! failure), what a session needs of it ([`RoomLog`]), the retention applied at every
//! join, the pages a window reads back, clearing a room, and keeping the lines we send
//! (with the outbox for members who are away). Without a usable database the chat goes
//! on: the window is told why, and nothing of the live conversation is lost.

use std::collections::HashSet;

use peerchat_chat::{ChatError, ChatSession, Sent};
use peerchat_history::{Cursor, Direction, HistoryError, HistoryHandle, NewLine, MAX_PAGE};
use serde::Serialize;

use super::Backend;
use crate::error::CommandError;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Lines in a page a window asks for.
const PAGE: usize = 50;

/// What one session needs of the history.
#[derive(Clone)]
pub(crate) struct RoomLog {
    /// `None`: going on without history (the window was told why).
    pub history: Option<HistoryHandle>,
    pub room: String,
    /// Lines are kept (the setting is not "keep no history").
    pub keep: bool,
    /// Our certificate's fingerprint: other windows of this app are not "away".
    pub own_key: Option<String>,
    /// The history's last place when the session began: its pages hold what was kept
    /// before (lines of the session itself are in the window already).
    pub kept_until: i64,
    pub outbox_per_member: usize,
    pub outbox_days: u32,
}

/// A kept line, as a window shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LineView {
    pub id: String,
    /// We said it.
    pub mine: bool,
    pub sender: String,
    pub text: String,
    pub at_ms: i64,
    /// `p2p`, `server`, or `outbox` (kept for someone away when nobody was here).
    pub via: String,
    /// `sent`, `delivered`, `not_delivered`, `waiting` or `received`.
    pub state: String,
    /// Members it still waits for.
    pub waiting: Vec<String>,
}

/// Lines newest first, and the token for the page before them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub lines: Vec<LineView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub older: Option<String>,
}

/// A line we sent: where it went now ([`Sent`]'s fields), whom it waits for, and who
/// could not get it kept (their queue was full).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SentView {
    #[serde(flatten)]
    pub sent: Sent,
    pub waiting: Vec<String>,
    pub not_kept: Vec<String>,
}

impl From<HistoryError> for CommandError {
    fn from(e: HistoryError) -> Self {
        CommandError::new(e.kind(), e.to_string())
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Backend {
    /// The history, opened on first use and again after a failure.
    async fn history(&self) -> Result<HistoryHandle, HistoryError> {
        let mut g = self.history.lock().await;
        if let Some(h) = &*g {
            return Ok(h.clone());
        }
        let h = HistoryHandle::open(&self.config.data_dir.join("history.sqlite3")).await?;
        *g = Some(h.clone());
        Ok(h)
    }

    /// What a session joining `room` now needs of the history, after applying the
    /// retention settings; and why there is no history, if there is none.
    pub(crate) async fn room_log(&self, room: &str, started_ms: i64) -> (RoomLog, Option<CommandError>) {
        let s = self.settings().clone();
        let mut log = RoomLog {
            history: None,
            room: room.to_string(),
            keep: s.history_days != Some(0),
            own_key: self.identity.certificate.as_ref().map(|c| c.fingerprint().to_string()),
            kept_until: 0,
            outbox_per_member: s.outbox_per_member as usize,
            outbox_days: s.outbox_days,
        };
        let opened = match self.history().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "going on without history");
                return (log, Some(e.into()));
            }
        };
        let (days, outbox_days) = (s.history_days, s.outbox_days);
        let applied = opened
            .call(move |h| {
                if let Some(d) = days {
                    h.prune(if d == 0 { i64::MAX } else { started_ms - i64::from(d) * DAY_MS })?;
                }
                // Lines that waited too long for someone are given up, visibly.
                for x in h.expire_outbox(started_ms - i64::from(outbox_days) * DAY_MS)? {
                    tracing::info!(room = %x.room, line = %x.line_id, "a kept line expired before its member came back");
                    h.set_state(&x.room, &x.line_id, Direction::Sent, "not_delivered")?;
                }
                h.last_place()
            })
            .await;
        log.history = Some(opened);
        match applied {
            Ok(last) => {
                log.kept_until = last;
                (log, None)
            }
            Err(e) => {
                // The retention failed; pages still show what is there.
                if let Some(h) = &log.history {
                    log.kept_until = h.call(|h| h.last_place()).await.unwrap_or(0);
                }
                (log, Some(e.into()))
            }
        }
    }

    /// A page of this window's room from before its session began, newest first;
    /// `before` is the token of the page shown last (none: the newest page).
    pub async fn history_page(&self, window: &str, before: Option<&str>) -> Result<HistoryPage, CommandError> {
        let log = self.room_log_of(window)?;
        let Some(h) = log.history else { return Ok(HistoryPage { lines: Vec::new(), older: None }) };
        let cursor = match before {
            None => Cursor::kept_until(log.kept_until),
            Some(t) => Cursor::from_token(t).ok_or_else(|| CommandError::invalid("not a history page token"))?,
        };
        let room = log.room.clone();
        let page = h.call(move |h| h.page(&room, Some(cursor), PAGE.min(MAX_PAGE))).await?;
        let lines = page
            .lines
            .into_iter()
            .map(|l| LineView {
                id: l.line.line_id,
                mine: l.line.direction == Direction::Sent,
                sender: l.line.sender,
                text: l.line.text,
                at_ms: l.line.at_ms,
                via: l.line.via,
                state: l.line.state,
                waiting: l.waiting,
            })
            .collect();
        Ok(HistoryPage { lines, older: page.older.map(|c| c.token()) })
    }

    /// Forgets every kept line of this window's room; how many.
    pub async fn clear_history(&self, window: &str) -> Result<usize, CommandError> {
        let log = self.room_log_of(window)?;
        let h = self.history().await?;
        let room = log.room.clone();
        Ok(h.call(move |h| h.clear_room(&room)).await?)
    }

    /// The members line `id` of this window's room still waits for.
    pub async fn line_waiting(&self, window: &str, id: &str) -> Result<Vec<String>, CommandError> {
        let log = self.room_log_of(window)?;
        let Some(h) = log.history else { return Ok(Vec::new()) };
        let (room, id) = (log.room.clone(), id.to_string());
        Ok(h.call(move |h| h.waiting_names(&room, &id)).await?)
    }

    fn room_log_of(&self, window: &str) -> Result<RoomLog, CommandError> {
        let log = self.sessions_lock().get(window).map(|e| e.log.clone());
        log.ok_or_else(|| crate::error::AppProblem::NotJoined.error("join a room first"))
    }

    /// Sends a chat line from this window to everyone in its room, keeps it for the
    /// members who are away (delivered when they are back), and in the history. The
    /// line is kept before it goes out, so its receipt always finds it. A history that
    /// fails is reported in the window; the line still goes out.
    pub async fn send_message(&self, window: &str, text: &str) -> Result<SentView, CommandError> {
        let session = self.session(window)?;
        let log = self.room_log_of(window)?;
        let id = session.next_line_id();
        let Some(h) = log.history.clone() else {
            let sent = session.send_line_as(&id, text)?;
            return Ok(SentView { sent, waiting: Vec::new(), not_kept: Vec::new() });
        };
        let line = NewLine {
            room: log.room.clone(),
            line_id: id.clone(),
            direction: Direction::Sent,
            sender: self.joined(window).map(|j| j.name).unwrap_or_default(),
            sender_key: log.own_key.clone(),
            text: text.to_string(),
            at_ms: now_ms(),
            via: "p2p".into(),
            state: "sent".into(),
        };
        let here = Here::of(&session, &log);
        let (room, since) = (log.room.clone(), now_ms() - i64::from(log.outbox_days) * DAY_MS);
        let (keep, per_member) = (log.keep, log.outbox_per_member);
        let kept = h
            .call(move |h| {
                let away: Vec<(String, String)> =
                    h.members(&room, since)?.into_iter().filter(|m| !here.has(m)).map(|m| (m.key, m.name)).collect();
                if keep {
                    h.add(&line)?;
                }
                if away.is_empty() {
                    return Ok(Vec::new());
                }
                h.queue(&line.room, &line.line_id, &line.text, line.at_ms, &away, per_member)
            })
            .await
            .unwrap_or_else(|e| {
                self.report(window, &e);
                Vec::new()
            });
        let (waiting, not_kept): (Vec<_>, Vec<_>) = kept.into_iter().partition(|q| q.kept);
        let waiting: Vec<String> = waiting.into_iter().map(|q| q.name).collect();
        let not_kept: Vec<String> = not_kept.into_iter().map(|q| q.name).collect();
        let sent = match session.send_line_as(&id, text) {
            Ok(sent) => sent,
            Err(ChatError::NoPeers) if !waiting.is_empty() || !not_kept.is_empty() => {
                Sent { id: id.clone(), p2p: Vec::new(), server: Vec::new(), queued: Vec::new() }
            }
            Err(e) => {
                // Never sent: it is not kept either.
                let (room, id) = (log.room.clone(), id.clone());
                let me = self.sink_of(window);
                let forget = move |h: &mut peerchat_history::History| {
                    h.unqueue(&room, &id)?;
                    h.forget_sent(&room, &id).map(drop)
                };
                h.submit(forget, move |e| report_to(me, &e));
                return Err(e.into());
            }
        };
        let nobody_now = sent.p2p.is_empty() && sent.server.is_empty() && sent.queued.is_empty();
        let (via, state) = match (sent.p2p.is_empty(), nobody_now, waiting.is_empty()) {
            (false, _, _) => ("p2p", "sent"),
            (true, false, _) => ("server", "sent"),
            (true, true, false) => ("outbox", "waiting"),
            // Nobody here, and nobody's queue had room: it reached no one.
            (true, true, true) => ("outbox", "not_delivered"),
        };
        if keep && (via, state) != ("p2p", "sent") {
            let (room, id) = (log.room.clone(), id.clone());
            let me = self.sink_of(window);
            h.submit(move |h| h.sent_as(&room, &id, via, state).map(drop), move |e| report_to(me, &e));
        }
        Ok(SentView { sent, waiting, not_kept })
    }

    fn sink_of(&self, window: &str) -> Option<super::EventSink> {
        self.sessions_lock().get(window).map(|e| e.sink.clone())
    }

    /// Tells `window` that the history failed (a non-fatal error in its log).
    pub(crate) fn report(&self, window: &str, e: &HistoryError) {
        report_to(self.sink_of(window), e);
    }
}

/// Tells a window's sink that the history failed (logged too).
pub(crate) fn report_to(sink: Option<super::EventSink>, e: &HistoryError) {
    tracing::warn!(error = %e, "history");
    if let Some(sink) = sink {
        let _ = sink(super::recorder::history_error(e));
    }
}

/// Who is in the room now, to tell the members who are away: by certificate
/// fingerprint, and by name for people whose certificate is not known yet (reached
/// through the server only, or still connecting). Our own other windows count as here.
pub(crate) struct Here {
    keys: HashSet<String>,
    unknown_names: HashSet<String>,
}

impl Here {
    pub(crate) fn of(session: &ChatSession, log: &RoomLog) -> Here {
        let mut here = Here { keys: HashSet::new(), unknown_names: HashSet::new() };
        for p in session.people() {
            match p.fingerprint {
                Some(k) => here.keys.insert(k),
                None => here.unknown_names.insert(p.name),
            };
        }
        here.keys.extend(log.own_key.clone());
        here
    }

    pub(crate) fn has(&self, m: &peerchat_history::Member) -> bool {
        self.keys.contains(&m.key) || self.unknown_names.contains(&m.name)
    }
}
