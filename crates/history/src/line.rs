//! A line as the history keeps it, and the cursor that pages through a room.

/// Which way a line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Sent,
    Received,
}

impl Direction {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::Sent => "sent",
            Direction::Received => "received",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Direction> {
        match s {
            "sent" => Some(Direction::Sent),
            "received" => Some(Direction::Received),
            _ => None,
        }
    }
}

/// A line to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub room: String,
    /// The chat's id of the line (unique per sender): a repeat is kept once.
    pub line_id: String,
    pub direction: Direction,
    /// The name shown for the sender when it was said.
    pub sender: String,
    /// The sender's stable identity (its certificate's fingerprint), when known.
    pub sender_key: Option<String>,
    pub text: String,
    /// When it was said, ms since the epoch.
    pub at_ms: i64,
    /// How it travelled (`p2p`, `server`).
    pub via: String,
    /// Its delivery state (`sent`, `delivered`, `not_delivered`, `waiting`, `received`).
    pub state: String,
}

/// A kept line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its place in the history (increasing as lines are added).
    pub seq: i64,
    pub line: NewLine,
}

/// Where a page ends: the next page holds the lines before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) at_ms: i64,
    pub(crate) seq: i64,
}

/// Lines of a room, newest first, and where the next (older) page starts if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub lines: Vec<Line>,
    pub older: Option<Cursor>,
}
