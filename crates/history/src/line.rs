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
    /// Names of the members it still waits for (the outbox), for a line we sent.
    pub waiting: Vec<String>,
}

/// Where a page ends: the next page holds the lines before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) at_ms: i64,
    pub(crate) seq: i64,
}

impl Cursor {
    /// Everything said before `at_ms` (a session's first page: the lines before it began).
    pub fn before(at_ms: i64) -> Cursor {
        Cursor { at_ms, seq: 0 }
    }

    /// The cursor as text, for a window to hand back for the next page.
    pub fn token(&self) -> String {
        format!("{}.{}", self.at_ms, self.seq)
    }

    /// A cursor from [`Cursor::token`]'s text; `None` for anything else.
    pub fn from_token(token: &str) -> Option<Cursor> {
        let (at, seq) = token.split_once('.')?;
        Some(Cursor { at_ms: at.parse().ok()?, seq: seq.parse().ok()? })
    }
}

/// Lines of a room, newest first, and where the next (older) page starts if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub lines: Vec<Line>,
    pub older: Option<Cursor>,
}
