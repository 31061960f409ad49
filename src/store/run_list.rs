//! Lists of runs that the store hands out: ordered, shared, and O(1) to clone.

use crate::model::PromptRun;
use std::sync::Arc;

/// A run together with its place in the history's order.
///
/// `position` orders the history (smaller first); the newest run added gets the
/// smallest, so iteration is most recent first. Every list the store keeps
/// (all runs, each status group, each model's runs) is keyed by it, which lets
/// a run be found, moved or removed in O(log n) instead of by a scan.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) position: i64,
    pub(crate) run: Arc<PromptRun>,
}

/// An ordered list of runs, most recent first.
///
/// Backed by a persistent B-tree map from position to run (`imbl::OrdMap`), so
/// cloning it is O(1) and adding or removing a run anywhere costs O(log n)
/// with small constants: the store's derived lists are handed out without
/// copying 100,000 runs each time one of them changes, and changing one stays
/// as cheap at 100,000 runs as at 1,000.
#[derive(Clone, Debug, Default)]
pub struct RunList {
    entries: imbl::OrdMap<i64, Arc<PromptRun>>,
}

impl RunList {
    /// Number of runs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no runs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The run at `index` (0 is the most recent). O(index): to show a window
    /// of the list, use [`iter`](Self::iter) with `skip` and `take`.
    pub fn get(&self, index: usize) -> Option<&Arc<PromptRun>> {
        self.iter().nth(index)
    }

    /// The runs in order, most recent first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<PromptRun>> + ExactSizeIterator {
        self.entries.values()
    }

    /// A plain vector of the runs, in order.
    pub fn to_vec(&self) -> Vec<PromptRun> {
        self.iter().map(|run| PromptRun::clone(run)).collect()
    }

    /// True when both hold the very same runs (not merely equal ones) in the
    /// same order: the cheap test memos use to decide whether to notify.
    ///
    /// O(1) for lists that share their storage after a clone; for small
    /// lists, the runs are also compared by pointer.
    pub fn is_same_as(&self, other: &RunList) -> bool {
        const COMPARED_ONE_BY_ONE: usize = 64;
        self.entries.ptr_eq(&other.entries)
            || (self.len() == other.len()
                && self.len() <= COMPARED_ONE_BY_ONE
                && self.entries.iter().zip(other.entries.iter()).all(
                    |((a_position, a), (b_position, b))| {
                        a_position == b_position && Arc::ptr_eq(a, b)
                    },
                ))
    }

    /// The runs for which `keep` is true, in the same order. O(n).
    pub fn filtered(&self, mut keep: impl FnMut(&PromptRun) -> bool) -> RunList {
        RunList {
            entries: self
                .entries
                .iter()
                .filter(|(_, run)| keep(run))
                .map(|(position, run)| (*position, run.clone()))
                .collect(),
        }
    }

    /// The run at `position` and its neighbours either side for as long as
    /// `same` holds: a group added together, such as a batch, found in
    /// O(log n + group size).
    pub(crate) fn group_around(&self, position: i64, same: impl Fn(&PromptRun) -> bool) -> RunList {
        if !self.entries.contains_key(&position) {
            return RunList::default();
        }
        let before = self
            .entries
            .range(..position)
            .rev()
            .take_while(|(_, run)| same(run));
        let after = self
            .entries
            .range(position..)
            .take_while(|(_, run)| same(run));
        RunList {
            entries: before
                .chain(after)
                .map(|(position, run)| (*position, run.clone()))
                .collect(),
        }
    }

    pub(crate) fn from_entries(entries: impl IntoIterator<Item = Entry>) -> RunList {
        RunList {
            entries: entries
                .into_iter()
                .map(|entry| (entry.position, entry.run))
                .collect(),
        }
    }

    /// Puts `entry` at its place in the order (replacing one at the same position).
    pub(crate) fn insert(&mut self, entry: Entry) {
        self.entries.insert(entry.position, entry.run);
    }

    /// Removes the entry at `position`, if present.
    pub(crate) fn remove(&mut self, position: i64) {
        self.entries.remove(&position);
    }

    /// The entry at `position`, if present.
    pub(crate) fn entry(&self, position: i64) -> Option<Entry> {
        let run = self.run_at(position)?.clone();
        Some(Entry { position, run })
    }

    /// The position of the last (oldest) run, if any.
    pub(crate) fn last_position(&self) -> Option<i64> {
        self.entries.get_max().map(|(position, _)| *position)
    }

    /// The run at `position`, if present.
    pub(crate) fn run_at(&self, position: i64) -> Option<&Arc<PromptRun>> {
        self.entries.get(&position)
    }
}

/// The change test for memos of a [`RunList`]: changed unless both are the
/// very same list (see [`RunList::is_same_as`]).
pub(crate) fn list_changed(old: Option<&RunList>, new: Option<&RunList>) -> bool {
    !matches!((old, new), (Some(old), Some(new)) if old.is_same_as(new))
}

/// Two lists are equal when they hold equal runs in the same order.
impl PartialEq for RunList {
    fn eq(&self, other: &RunList) -> bool {
        self.is_same_as(other) || (self.len() == other.len() && self.iter().eq(other.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(count: i64) -> RunList {
        RunList::from_entries((0..count).map(|position| Entry {
            position,
            run: Arc::new(PromptRun::pending(format!("r{position}"), "m", "p")),
        }))
    }

    #[test]
    fn keeps_entries_sorted_by_position_through_inserts_and_removals() {
        let mut runs = list(5);
        runs.insert(Entry {
            position: -1,
            run: Arc::new(PromptRun::pending("new", "m", "p")),
        });
        runs.remove(2);
        let ids: Vec<&str> = runs.iter().map(|run| run.id.as_str()).collect();
        assert_eq!(ids, ["new", "r0", "r1", "r3", "r4"]);
        assert_eq!(runs.entry(3).unwrap().run.id, "r3");
        assert_eq!(runs.get(3).unwrap().id, "r3", "index 3 after the removal");
        assert!(runs.entry(2).is_none());
    }

    #[test]
    fn a_clone_is_the_same_list_until_either_changes_at_any_size() {
        for size in [0, 3, 64, 65, 10_000] {
            let original = list(size);
            let mut copy = original.clone();
            assert!(copy.is_same_as(&original), "size {size}");
            copy.insert(Entry {
                position: -1,
                run: Arc::new(PromptRun::pending("x", "m", "p")),
            });
            assert!(!copy.is_same_as(&original), "size {size}");
            assert!(
                !list(size.max(1)).is_same_as(&list(size.max(1))),
                "equal runs are not the same runs"
            );
        }
    }
}
