//! Chat ids already shown, so a line that arrives twice (over two channels, or over a
//! channel and the server) is shown once. Bounded: the oldest ids are forgotten first.

use std::collections::{HashSet, VecDeque};

/// Chat ids remembered.
const CAPACITY: usize = 10_000;

pub(crate) struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
    cap: usize,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen::new(CAPACITY)
    }
}

impl Seen {
    pub(crate) fn new(cap: usize) -> Seen {
        Seen { ids: HashSet::new(), order: VecDeque::new(), cap }
    }

    /// Records `id`; false if it was seen before.
    pub(crate) fn first_sight(&mut self, id: &str) -> bool {
        if !self.ids.insert(id.to_string()) {
            return false;
        }
        self.order.push_back(id.to_string());
        if self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn repeats_are_refused_and_the_oldest_are_forgotten() {
        let mut s = Seen::new(2);
        assert!(s.first_sight("a"));
        assert!(!s.first_sight("a"));
        assert!(s.first_sight("b"));
        assert!(s.first_sight("c"));
        assert!(s.first_sight("a"), "a was evicted by c");
        assert!(!s.first_sight("c"));
    }
}
