//! A bounded set that forgets its oldest entries first: the chat ids already shown (so a
//! line that arrives twice, over two channels or over a channel and the server, is shown
//! once), and the peers that left (whose late greetings are ignored).

use std::collections::{HashSet, VecDeque};

/// Chat ids remembered.
const CAPACITY: usize = 10_000;
/// Departed peers remembered.
pub(crate) const DEPARTED: usize = 1_024;

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

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Forgets `id` (a departed peer that came back).
    pub(crate) fn remove(&mut self, id: &str) {
        if self.ids.remove(id) {
            self.order.retain(|o| o != id);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
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

    #[test]
    fn a_flood_of_new_ids_keeps_the_set_at_its_bound() {
        let mut s = Seen::new(1000);
        for i in 0..50_000 {
            assert!(s.first_sight(&format!("id-{i}")));
        }
        assert_eq!(s.len(), 1000);
        assert_eq!(s.order.len(), 1000);
        assert!(s.contains("id-49999") && !s.contains("id-0"));
        s.remove("id-49999");
        assert!(!s.contains("id-49999"));
        assert_eq!(s.order.len(), 999);
    }
}
