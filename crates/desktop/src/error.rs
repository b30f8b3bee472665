//! The error every command returns. It crosses to the UI as `{kind, message}` so the UI
//! switches on `kind` (a stable snake_case name) and shows `message` to the person; and
//! [`all_kinds`], the one list of every kind the UI can receive, which the UI's texts
//! (`ui/errors.js`) are checked against.

use serde::Serialize;

/// A command's failure, as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct CommandError {
    pub kind: String,
    pub message: String,
}

impl CommandError {
    pub fn new(kind: &str, message: impl Into<String>) -> CommandError {
        CommandError { kind: kind.to_string(), message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> CommandError {
        CommandError::new(AppProblem::InvalidInput.kind(), message)
    }
}

/// What the app itself refuses or fails at (besides the chat's, the SDK's, the keyring's
/// and the settings' errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppProblem {
    InvalidInput,
    NoKey,
    LocalServer,
    NotJoined,
    TurnCredentialMissing,
    TooManyWindows,
    WindowFailed,
}

peerchat_peer::error_kinds!(AppProblem {
    AppProblem::InvalidInput => "invalid_input",
    AppProblem::NoKey => "no_key",
    AppProblem::LocalServer => "local_server",
    AppProblem::NotJoined => "not_joined",
    AppProblem::TurnCredentialMissing => "turn_credential_missing",
    AppProblem::TooManyWindows => "too_many_windows",
    AppProblem::WindowFailed => "window_failed",
});

impl AppProblem {
    /// The command error of this kind.
    pub fn error(self, message: impl Into<String>) -> CommandError {
        CommandError::new(self.kind(), message)
    }
}

/// Every `kind` the UI can receive: in a command's error, and in a chat event's error.
pub fn all_kinds() -> impl Iterator<Item = &'static str> {
    [
        AppProblem::KINDS,
        crate::keystore::KeyStoreError::KINDS,
        crate::settings::SettingsError::KINDS,
        peerchat_chat::ChatError::KINDS,
        peerchat_chat::Problem::KINDS,
        peerchat_peer::PeerError::KINDS,
        peerchat_history::HistoryError::KINDS,
    ]
    .into_iter()
    .flatten()
    .copied()
}

impl From<peerchat_chat::ChatError> for CommandError {
    fn from(e: peerchat_chat::ChatError) -> Self {
        CommandError::new(e.kind(), e.to_string())
    }
}

impl From<crate::keystore::KeyStoreError> for CommandError {
    fn from(e: crate::keystore::KeyStoreError) -> Self {
        CommandError::new(e.kind(), e.to_string())
    }
}

impl From<crate::settings::SettingsError> for CommandError {
    fn from(e: crate::settings::SettingsError) -> Self {
        CommandError::new(e.kind(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Kinds the UI shows with the backend's own message, because it says all there is
    /// (or marks the line it is about): each is a decision, so a new kind must be added
    /// either here or to `ui/errors.js`.
    const SHOWN_AS_ITS_MESSAGE: &[&str] = &[
        // The app's own refusals, worded where they arise.
        "invalid_input",
        "local_server",
        "not_joined",
        "too_many_windows",
        "window_failed",
        "keyring_failed",
        "invalid_settings",
        "settings_io",
        // The chat's: a line refused or its bounds, and per-line marks (chat.js).
        "empty",
        "too_long",
        "ended",
        "backlog",
        "no_safety_number",
        "trust",
        "overflow",
        "send_failed",
        "not_delivered",
        "bad_message",
        "channel_failed",
        // Files: said with the transfer, in its own words.
        "file",
        "unknown_transfer",
        "too_many_transfers",
        "no_download_folder",
        // The SDK's rarer ones: protocol misuse the app never makes, server-side failures
        // with the server's text, and a closed peer.
        "refused",
        "admin_disconnect",
        "policy_violation",
        "message_too_big",
        "already_joined",
        "self_send",
        "invalid_args",
        "unknown_peer",
        "peer_unavailable",
        "channel_not_authorized",
        "server_error",
        "queue_full",
        "closed",
    ];

    /// The keys of `KIND_TEXT` in `ui/errors.js`.
    fn ui_kinds() -> BTreeSet<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/errors.js");
        let js = std::fs::read_to_string(path).expect("ui/errors.js is readable");
        let start = js.find("const KIND_TEXT = {").expect("ui/errors.js defines KIND_TEXT");
        let body = &js[start..];
        let body = &body[..body.find("\n  };").expect("KIND_TEXT ends with `  };`")];
        let keys: BTreeSet<String> =
            body.lines().skip(1).filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.trim().to_string())).collect();
        assert!(keys.len() > 10, "KIND_TEXT was not read: {keys:?}");
        keys
    }

    #[test]
    fn every_text_of_the_ui_belongs_to_a_kind_the_backend_reports() {
        let rust: BTreeSet<&str> = all_kinds().collect();
        for k in ui_kinds() {
            assert!(rust.contains(k.as_str()), "ui/errors.js words `{k}`, which no error of the backend has");
        }
    }

    #[test]
    fn every_kind_the_backend_reports_is_worded_by_the_ui_or_shown_as_its_message() {
        let ui = ui_kinds();
        for k in all_kinds() {
            let worded = ui.contains(k);
            let as_is = SHOWN_AS_ITS_MESSAGE.contains(&k);
            assert!(worded || as_is, "`{k}` has no text in ui/errors.js and is not listed as shown as its message");
            assert!(!(worded && as_is), "`{k}` is both worded by the UI and listed as shown as its message");
        }
    }
}
