//! What can go wrong with the history, as the UI says it: each kind is a reason to go
//! on without history, not to stop the chat.

/// Why the history cannot be used (or one operation failed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// Another process holds the database (a second app using the same data folder).
    #[error("the history is in use by another program")]
    Locked,
    /// The file is not a database, or is damaged.
    #[error("the history file is damaged: {0}")]
    Corrupt(String),
    /// The disk is full.
    #[error("the disk is full: the history cannot grow")]
    Full,
    /// The file was written by a newer peerchat.
    #[error("the history was written by a newer peerchat (version {found}; this one knows up to {known})")]
    TooNew { found: i64, known: i64 },
    /// A line this store refuses (the caller's bug or a hostile peer's text).
    #[error("refused: {0}")]
    Refused(String),
    /// Anything else from the file system or SQLite.
    #[error("the history cannot be read or written: {0}")]
    Io(String),
}

impl HistoryError {
    /// Every name [`HistoryError::kind`] returns.
    pub const KINDS: &'static [&'static str] =
        &["history_locked", "history_corrupt", "history_full", "history_too_new", "history_refused", "history_io"];

    /// The kind, as the UI's error words know it.
    pub fn kind(&self) -> &'static str {
        match self {
            HistoryError::Locked => "history_locked",
            HistoryError::Corrupt(_) => "history_corrupt",
            HistoryError::Full => "history_full",
            HistoryError::TooNew { .. } => "history_too_new",
            HistoryError::Refused(_) => "history_refused",
            HistoryError::Io(_) => "history_io",
        }
    }
}

impl From<rusqlite::Error> for HistoryError {
    fn from(e: rusqlite::Error) -> HistoryError {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => HistoryError::Locked,
            Some(C::DatabaseCorrupt | C::NotADatabase) => HistoryError::Corrupt(e.to_string()),
            Some(C::DiskFull) => HistoryError::Full,
            _ => HistoryError::Io(e.to_string()),
        }
    }
}

impl From<std::io::Error> for HistoryError {
    fn from(e: std::io::Error) -> HistoryError {
        if e.raw_os_error() == Some(28) {
            return HistoryError::Full;
        }
        HistoryError::Io(e.to_string())
    }
}
