//! The names people are shown under. Names come from presence, which the server checked
//! (a `hello` sent through the server no longer sets one: anyone could have written any
//! name in it). Where two people in the room share a name (ourselves included), each of
//! them is shown with a short suffix of their peer id (`ada #k3f9`), so nobody can pass
//! for someone else by taking their name. Sans-IO: each change returns the peers whose
//! shown name changed. Each change looks only at the peers sharing the names involved
//! (a snapshot of a big room is hundreds of joins at once).

use std::collections::{BTreeSet, HashMap};

/// Characters of the peer id shown after a shared name.
const SUFFIX: usize = 4;

/// Remote peers' names, and ours.
#[derive(Debug, Default)]
pub(crate) struct Names {
    me: String,
    raw: HashMap<String, String>,
    /// The peers using each name.
    by_name: HashMap<String, BTreeSet<String>>,
}

impl Names {
    pub(crate) fn new(me: &str) -> Names {
        Names { me: me.to_string(), raw: HashMap::new(), by_name: HashMap::new() }
    }

    /// The name `peer_id` chose (what verification is keyed by).
    pub(crate) fn raw(&self, peer_id: &str) -> Option<&str> {
        self.raw.get(peer_id).map(String::as_str)
    }

    pub(crate) fn contains(&self, peer_id: &str) -> bool {
        self.raw.contains_key(peer_id)
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = &String> {
        self.raw.keys()
    }

    /// How `peer_id` is shown: its name, with an id suffix if another person in the room
    /// has the same name; `""` for a peer not in the room.
    pub(crate) fn shown(&self, peer_id: &str) -> String {
        let Some(name) = self.raw.get(peer_id) else { return String::new() };
        let shared = *name == self.me || self.by_name.get(name).is_some_and(|ids| ids.len() > 1);
        if shared {
            let suffix: String = peer_id.chars().take(SUFFIX).collect();
            format!("{name} #{suffix}")
        } else {
            name.clone()
        }
    }

    /// `peer_id` is in the room as `name` (joined, or renamed). Returns the other peers
    /// whose shown name changed, with the new one.
    pub(crate) fn set(&mut self, peer_id: &str, name: &str) -> Vec<(String, String)> {
        let before = self.sharing(peer_id, Some(name));
        self.unlink(peer_id);
        self.raw.insert(peer_id.to_string(), name.to_string());
        self.by_name.entry(name.to_string()).or_default().insert(peer_id.to_string());
        self.changed(before)
    }

    /// `peer_id` left. Returns the peers whose shown name changed.
    pub(crate) fn remove(&mut self, peer_id: &str) -> Vec<(String, String)> {
        let before = self.sharing(peer_id, None);
        self.unlink(peer_id);
        self.raw.remove(peer_id);
        self.changed(before)
    }

    fn unlink(&mut self, peer_id: &str) {
        if let Some(old) = self.raw.get(peer_id) {
            if let Some(ids) = self.by_name.get_mut(old) {
                ids.remove(peer_id);
                if ids.is_empty() {
                    self.by_name.remove(old);
                }
            }
        }
    }

    /// The other peers whose shown name a change of `peer_id` (to `new`) can touch:
    /// those sharing its current name or the new one, with how they are shown now.
    fn sharing(&self, peer_id: &str, new: Option<&str>) -> Vec<(String, String)> {
        let names = self.raw.get(peer_id).map(String::as_str).into_iter().chain(new);
        let ids: BTreeSet<&String> =
            names.filter_map(|n| self.by_name.get(n)).flatten().filter(|id| *id != peer_id).collect();
        ids.into_iter().map(|id| (id.clone(), self.shown(id))).collect()
    }

    fn changed(&self, before: Vec<(String, String)>) -> Vec<(String, String)> {
        before
            .into_iter()
            .filter_map(|(id, old)| {
                let now = self.shown(&id);
                (now != old).then_some((id, now))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unique_name_is_shown_as_it_is() {
        let mut n = Names::new("ann");
        assert!(n.set("k3f9aa", "ada").is_empty());
        assert_eq!(n.shown("k3f9aa"), "ada");
        assert_eq!(n.shown("nobody"), "");
    }

    #[test]
    fn two_people_with_one_name_both_get_an_id_suffix() {
        let mut n = Names::new("ann");
        n.set("k3f9aa", "ada");
        let changed = n.set("zz81bb", "ada");
        assert_eq!(changed, vec![("k3f9aa".to_string(), "ada #k3f9".to_string())], "the first one is told");
        assert_eq!(n.shown("zz81bb"), "ada #zz81");
        let changed = n.remove("zz81bb");
        assert_eq!(changed, vec![("k3f9aa".to_string(), "ada".to_string())], "alone again");
    }

    #[test]
    fn someone_taking_our_own_name_is_shown_with_a_suffix() {
        let mut n = Names::new("ann");
        n.set("m4ll0r", "ann");
        assert_eq!(n.shown("m4ll0r"), "ann #m4ll");
    }

    #[test]
    fn a_rename_into_a_taken_name_marks_both() {
        let mut n = Names::new("me");
        n.set("aaaa11", "ada");
        n.set("bbbb22", "bob");
        let changed = n.set("bbbb22", "ada");
        assert_eq!(changed, vec![("aaaa11".to_string(), "ada #aaaa".to_string())]);
        assert_eq!(n.shown("bbbb22"), "ada #bbbb");
        assert_eq!(n.raw("bbbb22"), Some("ada"));
        let changed = n.set("bbbb22", "bob");
        assert_eq!(changed, vec![("aaaa11".to_string(), "ada".to_string())], "renamed away again");
    }

    #[test]
    fn a_big_room_costs_each_change_only_its_namesakes() {
        let mut n = Names::new("me");
        for i in 0..20_000 {
            assert!(n.set(&format!("p{i:05}"), &format!("m{i}")).is_empty());
        }
        assert_eq!(n.set("x0", "m7").len(), 1);
        assert_eq!(n.shown("p00007"), "m7 #p000");
        assert_eq!(n.remove("x0").len(), 1);
        assert_eq!(n.shown("p00007"), "m7");
    }
}
