//! Files in the app: a window's session sends a file (picked in the native dialog or
//! dropped on the window) to one person or everyone in its room, and accepts, declines
//! or cancels transfers. Accepted files go to the folder the settings name, the
//! Downloads folder by default; offers over the size the settings allow are declined.

use std::path::{Path, PathBuf};

use peerchat_chat::{ChatEvent, FileSent, FilesConfig};

use super::Backend;
use crate::error::CommandError;

/// Longest path accepted from the UI, in bytes.
const MAX_PATH_BYTES: usize = 4096;
/// Transfer ids are the chat's (32 hex digits); anything longer is refused here.
const MAX_ID_BYTES: usize = 64;
/// Files taken from one drop.
const MAX_DROPPED: usize = 32;

impl Backend {
    /// What a session joined now does with files.
    pub(crate) fn files_config(&self) -> FilesConfig {
        let s = self.settings();
        FilesConfig {
            download_dir: Some(
                s.download_dir.clone().map(PathBuf::from).unwrap_or_else(|| self.config.downloads.clone()),
            ),
            max_size: s.max_file_mib.saturating_mul(1 << 20),
            // Kept beside the certificate that identifies this app to its peers.
            state_dir: Some(self.config.data_dir.join("transfers")),
            ..FilesConfig::default()
        }
    }

    /// Offers the file at `path` from this window to `to` (a peer id) or everyone.
    pub async fn send_file(&self, window: &str, path: &str, to: Option<&str>) -> Result<Vec<FileSent>, CommandError> {
        if path.is_empty() || path.len() > MAX_PATH_BYTES || !Path::new(path).is_absolute() {
            return Err(CommandError::invalid("not an absolute file path"));
        }
        if let Some(t) = to {
            check_id("peer id", t)?;
        }
        Ok(self.session(window)?.send_file(Path::new(path), to).await?)
    }

    /// Files dropped on `window` go to everyone in its room; what cannot be sent is said
    /// in the window as an error event.
    pub async fn send_dropped(&self, window: &str, paths: &[String]) {
        if paths.len() > MAX_DROPPED {
            self.say(window, "invalid_input", format!("at most {MAX_DROPPED} files at once; none was sent"));
            return;
        }
        for p in paths {
            if let Err(e) = self.send_file(window, p, None).await {
                self.say(window, &e.kind, format!("{p} was not sent: {}", e.message));
            }
        }
    }

    /// Tells `window` about an error of its own making (it has no command to answer).
    fn say(&self, window: &str, kind: &str, message: String) {
        let sink = self.sessions_lock().get(window).map(|e| e.sink.clone());
        let ev = ChatEvent::Error { kind: kind.to_string(), message, peer_id: None, id: None, fatal: false };
        match sink {
            Some(sink) => drop(sink(ev)),
            None => tracing::warn!(window, "a file was dropped on a window that is in no room"),
        }
    }

    /// Accepts transfer `id` into the configured folder.
    pub async fn accept_file(&self, window: &str, id: &str) -> Result<(), CommandError> {
        check_id("transfer id", id)?;
        Ok(self.session(window)?.accept_file(id, None).await?)
    }

    pub async fn decline_file(&self, window: &str, id: &str) -> Result<(), CommandError> {
        check_id("transfer id", id)?;
        Ok(self.session(window)?.decline_file(id).await?)
    }

    pub async fn cancel_file(&self, window: &str, id: &str) -> Result<(), CommandError> {
        check_id("transfer id", id)?;
        Ok(self.session(window)?.cancel_file(id).await?)
    }
}

fn check_id(what: &str, id: &str) -> Result<(), CommandError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CommandError::invalid(format!("not a valid {what}")))
    }
}
