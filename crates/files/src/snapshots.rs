//! The SHA-256 state at each confirm point still ahead of the last confirmed one: a
//! transfer that breaks resumes from a confirm point with the hash of everything before
//! it, without reading the file again. At most `WINDOW / CONFIRM_EVERY + 1` are kept.

use std::collections::VecDeque;

use sha2::{Digest, Sha256};

/// Hash states by offset, ascending.
#[derive(Clone, Default)]
pub(crate) struct Snapshots {
    at: VecDeque<(u64, Sha256)>,
}

impl Snapshots {
    pub(crate) fn new() -> Snapshots {
        let mut s = Snapshots::default();
        s.keep(0, &Sha256::new());
        s
    }

    /// Remembers the state at `offset` (a confirm point).
    pub(crate) fn keep(&mut self, offset: u64, hasher: &Sha256) {
        if self.at.back().is_none_or(|(o, _)| *o < offset) {
            self.at.push_back((offset, hasher.clone()));
        }
    }

    /// Forgets the states before `offset`, which is confirmed (its own stays).
    pub(crate) fn confirmed(&mut self, offset: u64) {
        while self.at.len() > 1 && self.at.get(1).is_some_and(|(o, _)| *o <= offset) {
            self.at.pop_front();
        }
    }

    /// Whether the state at exactly `offset` is kept.
    pub(crate) fn has(&self, offset: u64) -> bool {
        self.at.iter().any(|(o, _)| *o == offset)
    }

    /// The state at exactly `offset`, dropping those after it.
    pub(crate) fn rewind(&mut self, offset: u64) -> Option<Sha256> {
        let h = self.at.iter().find(|(o, _)| *o == offset).map(|(_, h)| h.clone())?;
        self.at.retain(|(o, _)| *o <= offset);
        Some(h)
    }
}
