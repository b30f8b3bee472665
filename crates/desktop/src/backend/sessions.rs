//! One chat session per window: join (leaving any previous room first), send, leave.
//! A forwarder task hands each [`ChatEvent`] to the window's sink; when the window is
//! gone (the sink refuses), the session leaves on its own.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use peerchat_chat::{ChatConfig, ChatEvent, ChatSession};
use peerchat_peer::PeerOptions;
use serde::Serialize;

use super::Backend;
use crate::error::{AppProblem, CommandError};
use crate::settings::{MAX_NAME_BYTES, MAX_ROOM_BYTES};

/// Where a window's events go; returns false once the window is gone.
pub type EventSink = Arc<dyn Fn(ChatEvent) -> bool + Send + Sync>;

/// A window's session, as the UI sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JoinInfo {
    pub peer_id: String,
    pub room: String,
    pub name: String,
    pub server_url: String,
    pub local: bool,
    /// The signalling connection leaves this machine unencrypted (`ws://` to another
    /// host, which the person allowed): the UI says so.
    pub unencrypted: bool,
    /// Why this session has no history (the chat works without).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_problem: Option<CommandError>,
}

/// The path to one peer, for the peer's details view: the SDK's figures plus the
/// route in words.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PathView {
    pub route: peerchat_peer::Route,
    pub words: &'static str,
    #[serde(flatten)]
    pub path: peerchat_peer::PathInfo,
}

pub(crate) struct Entry {
    id: u64,
    pub(crate) session: ChatSession,
    info: JoinInfo,
    pub(crate) log: super::history::RoomLog,
    /// The window's event sink, for what the backend itself has to say in it.
    pub(crate) sink: EventSink,
}

fn check_text(what: &str, v: &str, max: usize) -> Result<String, CommandError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(CommandError::invalid(format!("the {what} is empty")));
    }
    if v.len() > max {
        return Err(CommandError::invalid(format!("the {what} is longer than {max} bytes")));
    }
    if v.chars().any(char::is_control) {
        return Err(CommandError::invalid(format!("the {what} has control characters")));
    }
    Ok(v.to_string())
}

impl Backend {
    pub(crate) fn sessions_lock(&self) -> MutexGuard<'_, std::collections::HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This window's session, if any.
    pub fn joined(&self, window: &str) -> Option<JoinInfo> {
        self.sessions_lock().get(window).map(|e| e.info.clone())
    }

    /// Joins `room` as `name` in `window` (leaving the window's current room first).
    /// Events go to `sink` until the session ends.
    pub async fn join(
        self: &Arc<Self>,
        window: &str,
        room: &str,
        name: &str,
        sink: EventSink,
    ) -> Result<JoinInfo, CommandError> {
        let room = check_text("room name", room, MAX_ROOM_BYTES)?;
        let name = check_text("display name", name, MAX_NAME_BYTES)?;
        self.leave(window).await;
        let (url, local) = self.server_url();
        let key = if local {
            self.ensure_local(false).await?.1
        } else {
            match self.vault.get(&url).await? {
                Some((k, _)) => k,
                None => return Err(AppProblem::NoKey.error("no key is saved for this server")),
            }
        };
        let mut options = PeerOptions::new(url.clone(), key);
        options.ice_servers = self.ice_servers().await?;
        options.ice_transport_policy = self.settings().ice_transport_policy;
        options.tls = self.tls_options(&url);
        options.certificate = self.identity.certificate.clone();
        let started_ms = super::history::now_ms();
        let (log, history_problem) = self.room_log(&room, started_ms).await;
        let mut config = ChatConfig::new(options, &room, &name);
        config.server_fallback = true;
        config.trust = self.identity.trust.clone();
        config.files = self.files_config();
        let (session, mut events) = ChatSession::start(config).await?;
        let info = JoinInfo {
            peer_id: session.peer_id(),
            room: room.clone(),
            name: name.clone(),
            unencrypted: peerchat_peer::is_exposed_plaintext(&url),
            server_url: url,
            local,
            history_problem,
        };
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let mut recorder = super::recorder::Recorder::new(log.clone(), session.clone(), sink.clone());
        let entry = Entry { id, session: session.clone(), info: info.clone(), log, sink: sink.clone() };
        self.sessions_lock().insert(window.to_string(), entry);
        // Remember the room, and the name if the person chose it: the numbered name an
        // extra window gets by default ("ada 2") is not a choice, and saving it would
        // make the next start number it again ("ada 2 2").
        let derived = super::default_name(&self.settings().display_name, window);
        let chosen = window == "main" || name != derived;
        if let Err(e) = self.update_settings(|s| {
            if chosen {
                s.display_name = name;
            }
            s.last_room = room;
        }) {
            tracing::warn!(error = %e, "joined, but the settings could not be saved");
        }
        tracing::info!(window, peer = %info.peer_id, room = %info.room, "joined");
        let (me, window) = (self.clone(), window.to_string());
        tokio::spawn(async move {
            while let Some(ev) = events.next().await {
                if super::failover::takes_over_on(local, &ev) {
                    let adopt = me.clone();
                    tokio::spawn(async move { adopt.adopt_local_server().await });
                }
                if recorder.see(&ev).await == super::recorder::Pass::On && !sink(ev) {
                    tracing::info!(%window, "window gone; leaving");
                    break;
                }
            }
            // The window is gone, or the session ended (a fatal error): end it, unless the
            // window has joined again meanwhile.
            me.end_session(&window, Some(id)).await;
        });
        Ok(info)
    }

    /// A window closed: its session leaves in the background; [`Backend::shutdown`]
    /// waits for such leaves, so closing the last window still says goodbye.
    pub fn close_window(self: &Arc<Self>, window: &str) {
        self.notices.lock().unwrap_or_else(|p| p.into_inner()).forget(window);
        let (me, window) = (self.clone(), window.to_string());
        self.leaving.spawn(async move { me.leave(&window).await });
    }

    /// Leaves this window's room, if it is in one: `unsubscribe` first, so the others
    /// see it leave at once.
    pub async fn leave(&self, window: &str) {
        self.end_session(window, None).await;
    }

    /// Removes the window's session (only if it is session `only`, when given) and
    /// leaves its room.
    async fn end_session(&self, window: &str, only: Option<u64>) {
        let entry = {
            let mut g = self.sessions_lock();
            match g.get(window) {
                Some(e) if only.is_none_or(|id| id == e.id) => g.remove(window),
                _ => None,
            }
        };
        if let Some(e) = entry {
            e.session.leave().await;
            tracing::info!(window, peer = %e.info.peer_id, "left");
        }
    }

    /// The person is writing a line in this window: the peers hear of it (at most every
    /// few seconds); whether a note went out.
    pub fn typing(&self, window: &str) -> Result<bool, CommandError> {
        Ok(self.session(window)?.typing()?)
    }

    /// The path to `peer_id` as this window's session sees it now (`None`: not
    /// connected peer to peer).
    pub async fn peer_path(&self, window: &str, peer_id: &str) -> Result<Option<PathView>, CommandError> {
        let session = self.session(window)?;
        let remotes = session.peer().remotes().await;
        let path = remotes.iter().find(|r| r.id() == peer_id).and_then(|r| r.path());
        Ok(path.map(|path| PathView { route: path.route(), words: path.route().describe(), path }))
    }
}
