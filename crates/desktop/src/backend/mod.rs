//! The app's backend without Tauri: settings, keys, the embedded server and one chat
//! session per window. The Tauri commands are one-line calls into [`Backend`], so the
//! command layer is tested by calling it directly (`tests/commands.rs`).

mod failover;
mod files;
mod flights;
mod history;
mod ice;
mod keys;
mod notify;
mod recorder;
mod sessions;
mod trust;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::embedded::{local_url, Embedded};
use crate::error::CommandError;
use crate::keystore::{mask, KeySource, KeyVault, SecretStore};
use crate::settings::Settings;
pub use history::{HistoryPage, LineView, SentView};
pub use sessions::{EventSink, JoinInfo, PathView};

/// How the backend is set up (paths and ports come from here, so tests isolate them).
#[derive(Debug, Clone)]
pub struct BackendConfig {
    pub settings_path: PathBuf,
    /// Where the DTLS certificate and the verified peers are kept.
    pub data_dir: PathBuf,
    /// Loopback port of the embedded server.
    pub local_port: u16,
    /// Join this room in every window at start (`--room`).
    pub auto_room: Option<String>,
    /// Where accepted files go unless the settings name a folder (the Downloads folder).
    pub downloads: PathBuf,
}

/// A room and name a window joins on its own at start.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AutoJoin {
    pub room: String,
    pub name: String,
}

/// The key for the server in use, as the UI may see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub masked: String,
    pub source: KeySource,
}

/// Whether the OS keyring answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyringInfo {
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What a window needs to know to pick its screen.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// No settings were ever saved: show the first-run key screen.
    pub first_run: bool,
    /// The embedded local server is in use.
    pub local: bool,
    pub server_url: String,
    pub key: Option<KeyInfo>,
    pub keyring: KeyringInfo,
    pub settings: Settings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_join: Option<AutoJoin>,
    /// This window's chat session, if it is in a room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined: Option<JoinInfo>,
}

pub struct Backend {
    config: BackendConfig,
    settings: Mutex<Settings>,
    first_run: AtomicBool,
    vault: KeyVault,
    embedded: tokio::sync::Mutex<Option<Embedded>>,
    sessions: Mutex<HashMap<String, sessions::Entry>>,
    next_session: std::sync::atomic::AtomicU64,
    /// Leaves started by closed windows.
    leaving: tokio_util::task::TaskTracker,
    identity: trust::Identity,
    /// The history, opened at the first join (again after a failure).
    history: tokio::sync::Mutex<Option<peerchat_history::HistoryHandle>>,
    notices: Mutex<crate::notices::Notices>,
}

impl Backend {
    pub fn new(config: BackendConfig, keyring: Arc<dyn SecretStore>) -> Backend {
        let loaded = Settings::load(&config.settings_path);
        let first_run = loaded.is_none() && config.auto_room.is_none();
        Backend {
            settings: Mutex::new(loaded.unwrap_or_default()),
            first_run: AtomicBool::new(first_run),
            vault: KeyVault::new(keyring),
            embedded: tokio::sync::Mutex::new(None),
            sessions: Mutex::default(),
            next_session: Default::default(),
            leaving: tokio_util::task::TaskTracker::new(),
            identity: trust::Identity::open(&config.data_dir),
            history: tokio::sync::Mutex::new(None),
            notices: Mutex::default(),
            config,
        }
    }

    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The URL the next join uses.
    pub fn server_url(&self) -> (String, bool) {
        match self.settings().server_url.clone() {
            Some(u) => (u, false),
            None => (local_url(self.config.local_port), true),
        }
    }

    /// TLS for the signalling connection to `url`: the OS trust store, and plaintext
    /// beyond this machine only if the person allowed it. The local server gets the key
    /// only once it proved that it knows it (any program of this machine could be
    /// listening on its port in its place).
    pub fn tls_options(&self, url: &str) -> peerchat_peer::TlsOptions {
        peerchat_peer::TlsOptions {
            allow_plaintext: self.settings().allow_plaintext,
            require_key_proof: url == local_url(self.config.local_port),
            ..Default::default()
        }
    }

    /// Everything a window needs at start.
    pub async fn status(&self, window: &str) -> AppStatus {
        // The page calls this as soon as its script runs: the window is interactive.
        tracing::info!(window, "app_status");
        let (server_url, local) = self.server_url();
        let (key, answered) = self.vault.lookup(&server_url).await;
        let keyring = match answered {
            Ok(()) => KeyringInfo { available: true, message: None },
            Err(e) => KeyringInfo { available: false, message: Some(e.to_string()) },
        };
        let key = key.map(|(k, source)| KeyInfo { masked: mask(&k), source });
        let settings = self.settings().clone();
        let auto_join = self
            .config
            .auto_room
            .as_ref()
            .map(|room| AutoJoin { room: room.clone(), name: default_name(&settings.display_name, window) });
        let first_run = self.first_run.load(Ordering::Relaxed);
        AppStatus { first_run, local, server_url, key, keyring, settings, auto_join, joined: self.joined(window) }
    }

    pub fn get_settings(&self) -> Settings {
        self.settings().clone()
    }

    /// Checks and saves new settings. They apply to the next join.
    pub fn set_settings(&self, new: Settings) -> Result<Settings, CommandError> {
        new.save(&self.config.settings_path)?;
        *self.settings() = new.clone();
        self.first_run.store(false, Ordering::Relaxed);
        Ok(new)
    }

    /// Applies `change` to the settings and saves them.
    fn update_settings(&self, change: impl FnOnce(&mut Settings)) -> Result<(), CommandError> {
        let mut s = self.settings().clone();
        change(&mut s);
        self.set_settings(s).map(|_| ())
    }

    /// Stops every session and the embedded server (app exit).
    pub async fn shutdown(&self) {
        self.leaving.close();
        self.leaving.wait().await;
        let labels: Vec<String> = self.sessions_lock().keys().cloned().collect();
        for l in labels {
            self.leave(&l).await;
        }
        if let Some(e) = self.embedded.lock().await.take() {
            e.stop().await;
        }
    }
}

/// A display name for `window` when none was chosen: the saved name, else the user's
/// login name, else "guest"; windows after the first get a number.
pub(crate) fn default_name(saved: &str, window: &str) -> String {
    let base = if !saved.trim().is_empty() {
        saved.trim().to_string()
    } else {
        std::env::var("USER").ok().filter(|u| !u.is_empty() && u.len() <= 32).unwrap_or_else(|| "guest".into())
    };
    match window.strip_prefix("chat-") {
        Some(n) => format!("{base} {n}"),
        None => base,
    }
}
