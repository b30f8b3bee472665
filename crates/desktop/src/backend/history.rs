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
    /// When the session began: its first page holds what was said before.
    pub started_ms: i64,
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
            started_ms,
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
                Ok(())
            })
            .await;
        log.history = Some(opened);
        (log, applied.err().map(CommandError::from))
    }

    /// A page of this window's room from before its session began, newest first;
    /// `before` is the token of the page shown last (none: the newest page).
    pub async fn history_page(&self, window: &str, before: Option<&str>) -> Result<HistoryPage, CommandError> {
        let log = self.room_log_of(window)?;
        let Some(h) = log.history else { return Ok(HistoryPage { lines: Vec::new(), older: None }) };
        let cursor = match before {
            None => Cursor::before(log.started_ms),
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
    /// members who are away (delivered when they are back), and in the history. A
    /// history that fails is reported in the window; the line still goes out.
    pub async fn send_message(&self, window: &str, text: &str) -> Result<SentView, CommandError> {
        let session = self.session(window)?;
        let log = self.room_log_of(window)?;
        let away = match &log.history {
            Some(h) => self.away_members(h, &log, &session).await.unwrap_or_else(|e| {
                self.report(window, &e);
                Vec::new()
            }),
            None => Vec::new(),
        };
        let sent = match session.send_line(text) {
            Ok(sent) => sent,
            Err(ChatError::NoPeers) if !away.is_empty() => {
                Sent { id: session.next_line_id(), p2p: Vec::new(), server: Vec::new(), queued: Vec::new() }
            }
            Err(e) => return Err(e.into()),
        };
        let mut view = SentView { sent, waiting: Vec::new(), not_kept: Vec::new() };
        let Some(h) = log.history.clone() else { return Ok(view) };
        let nobody_now = view.sent.p2p.is_empty() && view.sent.server.is_empty() && view.sent.queued.is_empty();
        let line = NewLine {
            room: log.room.clone(),
            line_id: view.sent.id.clone(),
            direction: Direction::Sent,
            sender: self.joined(window).map(|j| j.name).unwrap_or_default(),
            sender_key: log.own_key.clone(),
            text: text.to_string(),
            at_ms: now_ms(),
            via: if !view.sent.p2p.is_empty() {
                "p2p"
            } else if nobody_now {
                "outbox"
            } else {
                "server"
            }
            .into(),
            state: if nobody_now { "waiting" } else { "sent" }.into(),
        };
        let (keep, per_member) = (log.keep, log.outbox_per_member);
        let kept = h
            .call(move |h| {
                let queued = if away.is_empty() {
                    Vec::new()
                } else {
                    h.queue(&line.room, &line.line_id, &line.text, line.at_ms, &away, per_member)?
                };
                if keep {
                    h.add(&line)?;
                }
                Ok(queued)
            })
            .await;
        match kept {
            Ok(queued) => {
                for q in queued {
                    if q.kept { &mut view.waiting } else { &mut view.not_kept }.push(q.name);
                }
            }
            Err(e) => self.report(window, &e),
        }
        Ok(view)
    }

    /// Members of the room seen within the outbox's days who are not here now (nor
    /// ourselves in another window), as `(key, name)`.
    async fn away_members(
        &self,
        h: &HistoryHandle,
        log: &RoomLog,
        session: &ChatSession,
    ) -> Result<Vec<(String, String)>, HistoryError> {
        let mut here: HashSet<String> = session.fingerprints().into_iter().map(|(_, k)| k).collect();
        here.extend(log.own_key.clone());
        let (room, since) = (log.room.clone(), now_ms() - i64::from(log.outbox_days) * DAY_MS);
        let members = h.call(move |h| h.members(&room, since)).await?;
        Ok(members.into_iter().filter(|m| !here.contains(&m.key)).map(|m| (m.key, m.name)).collect())
    }

    /// Tells `window` that the history failed (a non-fatal error in its log).
    pub(crate) fn report(&self, window: &str, e: &HistoryError) {
        tracing::warn!(window, error = %e, "history");
        let sink = self.sessions_lock().get(window).map(|e| e.sink.clone());
        if let Some(sink) = sink {
            let _ = sink(super::recorder::history_error(e));
        }
    }
}
