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

/// Where a page ends: the next page holds the lines before it (by time, then place),
/// among those kept up to a place in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) at_ms: i64,
    pub(crate) seq: i64,
    /// Only lines kept at or before this place.
    pub(crate) upto: i64,
}

impl Cursor {
    /// The lines kept up to place `last` ([`crate::History::last_place`]): a session's
    /// first page, what was kept before it began (a line that waited for us and came
    /// during the session is shown live, not again in its pages, whenever it was written).
    pub fn kept_until(last: i64) -> Cursor {
        Cursor { at_ms: i64::MAX, seq: i64::MAX, upto: last }
    }

    /// The cursor as text, for a window to hand back for the next page.
    pub fn token(&self) -> String {
        format!("{}.{}.{}", self.at_ms, self.seq, self.upto)
    }

    /// A cursor from [`Cursor::token`]'s text; `None` for anything else.
    pub fn from_token(token: &str) -> Option<Cursor> {
        let mut parts = token.split('.').map(|p| p.parse::<i64>().ok());
        let c = Cursor { at_ms: parts.next()??, seq: parts.next()??, upto: parts.next()?? };
        parts.next().is_none().then_some(c)
    }
}

/// Lines of a room, newest first, and where the next (older) page starts if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub lines: Vec<Line>,
    pub older: Option<Cursor>,
}
