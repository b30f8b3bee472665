//! The error every command returns. It crosses to the UI as `{kind, message}` so the UI
//! switches on `kind` (a stable snake_case name) and shows `message` to the person.

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
        CommandError::new("invalid_input", message)
    }
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
