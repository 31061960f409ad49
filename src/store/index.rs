//! The runs and everything derived from them, kept up to date incrementally.
//!
//! [`RunIndex`] is plain Rust, free of signals and of the DOM: the reactive
//! [`RunsStore`](super::RunsStore) keeps one in a signal and its memos read the
//! aggregates kept here. Every change costs O(log n) (status groups, per-model
//! lists, the latest-run order, totals), so reading every derived value after
//! a change stays as cheap with 100,000 runs as with ten.

use super::model_stats::ModelRecord;
use super::run_list::Entry;
use super::{HistorySummary, ModelStats, RunList, RunsByStatus, StoreError};
use crate::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// All runs in history order, with their derived groups and totals.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunIndex {
    all: RunList,
    position_by_id: HashMap<String, i64>,
    by_status: RunsByStatus,
    by_model: HashMap<String, (RunList, ModelRecord)>,
    /// Runs ordered by start instant; ties go to the most recently added.
    by_start: BTreeSet<(Timestamp, std::cmp::Reverse<i64>)>,
    /// Counts and sums over the runs held.
    totals: HistorySummary,
    /// While a stored history is still loading: what its runs not loaded yet
    /// add up to, so that counts and totals cover the whole history at once.
    unloaded: Option<HistorySummary>,
    /// The position the next `add` takes: one before the current first run.
    next_front_position: i64,
    /// Ids of runs changed since persistence last saved them; `None` while
    /// nothing saves, so an unsaved store keeps no journal.
    unsaved: Option<BTreeSet<String>>,
    /// Every run was replaced or removed since the last save: storage must
    /// drop what it holds, including runs never loaded into this index.
    cleared: bool,
    /// Positions of the runs held cold (see [`super::cold`]): their text is
    /// in storage only.
    cold: HashSet<i64>,
}

/// What changed since persistence last saved, taken by it in one go.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Unsaved {
    /// Every stored run is to go first (the history was cleared or replaced).
    pub(crate) cleared: bool,
    /// Runs added, changed or removed.
    pub(crate) ids: BTreeSet<String>,
}

/// What merging one copy of a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The run was new and was added.
    Added,
    /// The copy superseded the run held (see [`PromptRun::supersedes`]).
    Updated,
    /// The run held was as new or newer; nothing changed.
    Unchanged,
}

impl RunIndex {
    /// An index of `runs`, in the order given, or the first repeated id.
    pub(crate) fn from_runs(runs: Vec<PromptRun>) -> Result<RunIndex, StoreError> {
        let mut index = RunIndex::default();
        let mut entries = Vec::with_capacity(runs.len());
        for (position, run) in (0_i64..).zip(runs) {
            if index
                .position_by_id
                .insert(run.id.clone(), position)
                .is_some()
            {
                return Err(StoreError::DuplicateId(run.id));
            }
            let entry = Entry {
                position,
                run: Arc::new(run),
            };
            index.link(&entry);
            entries.push(entry);
        }
        index.all = RunList::from_entries(entries);
        index.next_front_position = -1;
        Ok(index)
    }

    pub(crate) fn all(&self) -> &RunList {
        &self.all
    }

    pub(crate) fn by_status(&self) -> &RunsByStatus {
        &self.by_status
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.position_by_id.contains_key(id)
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Arc<PromptRun>> {
        let position = *self.position_by_id.get(id)?;
        self.all.run_at(position)
    }

    /// The runs sharing `id`'s batch: executed together, so adjacent in the
    /// history. Empty when `id` is unknown or in no batch.
    pub(crate) fn batch_of(&self, id: &str) -> RunList {
        let Some(batch) = self
            .get(id)
            .and_then(|run| run.batch_id().map(str::to_owned))
        else {
            return RunList::default();
        };
        self.all.group_around(self.position_by_id[id], |run| {
            run.batch_id() == Some(batch.as_str())
        })
    }

    pub(crate) fn by_model(&self, model_id: &str) -> RunList {
        self.by_model
            .get(model_id)
            .map(|(runs, _)| runs.clone())
            .unwrap_or_default()
    }

    /// Every model's record, ordered by model id.
    pub(crate) fn model_stats(&self) -> Vec<ModelStats> {
        let mut stats: Vec<ModelStats> = self
            .by_model
            .values()
            .map(|(_, record)| record.stats())
            .collect();
        // Model ids are unique, so an unstable sort orders them the same (with less code).
        stats.sort_unstable_by(|a, b| a.model_id.cmp(&b.model_id));
        stats
    }

    pub(crate) fn latest(&self) -> Option<&Arc<PromptRun>> {
        let (_, std::cmp::Reverse(position)) = self.by_start.last()?;
        self.all.run_at(*position)
    }

    /// Counts and sums over the whole history: the runs held, plus those of
    /// a stored history not loaded yet.
    pub(crate) fn summary(&self) -> HistorySummary {
        match &self.unloaded {
            Some(unloaded) => self.totals.plus(unloaded),
            None => self.totals,
        }
    }

    /// While a stored history loads: how many of its runs are held, of how many.
    pub(crate) fn loading(&self) -> Option<(usize, usize)> {
        let unloaded = self.unloaded.as_ref()?;
        Some((self.all.len(), self.all.len() + unloaded.runs() as usize))
    }

    /// A stored history begins to load: `stored` sums all of it; none of it
    /// is held yet (runs held now were made since, so are not in it).
    pub(crate) fn begin_loading(&mut self, stored: HistorySummary) {
        self.unloaded = Some(stored);
    }

    /// Takes in older runs of the stored history, after every run held (each
    /// merged by id if already held), without journaling them: they are
    /// stored. Past the first `warm` new ones, they are held cold (see
    /// [`super::cold`]).
    pub(crate) fn load_older(&mut self, runs: Vec<PromptRun>, mut warm: usize) {
        self.unjournaled(|index| {
            for run in runs {
                if index.contains(&run.id) {
                    index.merge(run);
                    continue;
                }
                if let Some(unloaded) = &mut index.unloaded {
                    *unloaded = unloaded.saturating_sub(&HistorySummary::of([&run]));
                }
                // One after the last run: older runs go to the end.
                let position = index.all.last_position().map_or(0, |last| last + 1);
                index.position_by_id.insert(run.id.clone(), position);
                let run = if warm == 0 {
                    index.cold.insert(position);
                    super::cold::cold(run)
                } else {
                    warm -= 1;
                    run
                };
                let entry = Entry {
                    position,
                    run: Arc::new(run),
                };
                index.link(&entry);
                index.all.insert(entry);
            }
        });
    }

    /// Whether run `id` is held cold.
    pub(crate) fn is_cold(&self, id: &str) -> bool {
        self.position_by_id
            .get(id)
            .is_some_and(|position| self.cold.contains(position))
    }

    /// How many runs are held cold.
    pub(crate) fn cold_count(&self) -> usize {
        self.cold.len()
    }

    /// Gives a cold run its text back from `stored` (storage's copy),
    /// keeping what changed in it since; not journaled (storage has the
    /// text). False when the run is not held cold (any more).
    pub(crate) fn warm(&mut self, stored: PromptRun) -> bool {
        let Some(&position) = self.position_by_id.get(&stored.id) else {
            return false;
        };
        if !self.cold.remove(&position) {
            return false;
        }
        let held = self.entry_at(position).expect("indexed id has an entry");
        let warm = super::cold::warmed(&held.run, stored);
        self.unjournaled(|index| index.replace(held, warm));
        true
    }

    /// The stored history is all loaded (or will not be): counts and totals
    /// are the runs held from now on.
    pub(crate) fn finish_loading(&mut self) {
        self.unloaded = None;
    }

    /// Starts journaling which runs change, for persistence.
    pub(crate) fn start_journal(&mut self) {
        self.unsaved.get_or_insert_with(BTreeSet::new);
    }

    /// What changed (runs added, updated or removed, or all cleared) since the last call.
    pub(crate) fn take_unsaved(&mut self) -> Unsaved {
        Unsaved {
            cleared: std::mem::take(&mut self.cleared),
            ids: self
                .unsaved
                .as_mut()
                .map(std::mem::take)
                .unwrap_or_default(),
        }
    }

    /// Whether the history was cleared since the last [`take_unsaved`](Self::take_unsaved).
    pub(crate) fn is_cleared(&self) -> bool {
        self.cleared
    }

    /// Ids changed since the last [`take_unsaved`](Self::take_unsaved), left in the journal.
    pub(crate) fn peek_unsaved(&self) -> Option<&BTreeSet<String>> {
        self.unsaved.as_ref()
    }

    /// `replacement`, carrying this index's journal over with every id of
    /// either marked changed and the history marked cleared. A history still
    /// loading stops loading: its unloaded runs are replaced too.
    pub(crate) fn replaced_by(&mut self, mut replacement: RunIndex) -> RunIndex {
        if let Some(mut unsaved) = self.unsaved.take() {
            unsaved.extend(self.position_by_id.keys().cloned());
            unsaved.extend(replacement.position_by_id.keys().cloned());
            replacement.unsaved = Some(unsaved);
            replacement.cleared = true;
        }
        replacement
    }

    /// Runs `change` without journaling it: for changes that came from storage
    /// and so need no saving.
    pub(crate) fn unjournaled<T>(&mut self, change: impl FnOnce(&mut RunIndex) -> T) -> T {
        let journal = self.unsaved.take();
        let result = change(self);
        self.unsaved = journal;
        result
    }

    fn mark_unsaved(&mut self, id: &str) {
        if let Some(unsaved) = &mut self.unsaved {
            unsaved.insert(id.to_owned());
        }
    }

    /// Puts `run` first, or refuses a repeated id and changes nothing.
    pub(crate) fn add(&mut self, run: PromptRun) -> Result<(), StoreError> {
        if self.contains(&run.id) {
            return Err(StoreError::DuplicateId(run.id));
        }
        self.mark_unsaved(&run.id);
        let position = self.next_front_position;
        self.next_front_position -= 1;
        self.position_by_id.insert(run.id.clone(), position);
        let entry = Entry {
            position,
            run: Arc::new(run),
        };
        self.link(&entry);
        self.all.insert(entry);
        Ok(())
    }

    /// Applies `update` to the run `id`, or reports an unknown id or a refused
    /// status move and changes nothing.
    pub(crate) fn update(&mut self, id: &str, update: PromptRunUpdate) -> Result<(), StoreError> {
        let old = self.held(id)?;
        let updated = update.apply_to(&old.run)?;
        self.replace(old, updated);
        Ok(())
    }

    /// Re-keys run `id` as `new_id` at the same position.
    pub(crate) fn rename(&mut self, id: &str, new_id: &str) -> Result<(), StoreError> {
        if self.contains(new_id) {
            return Err(StoreError::DuplicateId(new_id.to_owned()));
        }
        let old = self.held(id)?;
        let renamed = PromptRun {
            id: new_id.to_owned(),
            ..PromptRun::clone(&old.run)
        };
        self.position_by_id.remove(id);
        self.position_by_id.insert(new_id.to_owned(), old.position);
        self.mark_unsaved(id);
        self.replace(old, renamed);
        Ok(())
    }

    /// Takes in a copy of a run from elsewhere: added first if new, replacing
    /// the run held if it supersedes it, otherwise ignored.
    pub(crate) fn merge(&mut self, run: PromptRun) -> MergeOutcome {
        let Some(&position) = self.position_by_id.get(&run.id) else {
            self.add(run).expect("an id not in the index is free");
            return MergeOutcome::Added;
        };
        let held = self.entry_at(position).expect("indexed id has an entry");
        if run.supersedes(&held.run) {
            // A whole copy from elsewhere: the run is not cold any more.
            self.cold.remove(&position);
            self.replace(held, run);
            MergeOutcome::Updated
        } else {
            MergeOutcome::Unchanged
        }
    }

    fn replace(&mut self, old: Entry, updated: PromptRun) {
        self.mark_unsaved(&updated.id);
        self.unlink(&old);
        let entry = Entry {
            position: old.position,
            run: Arc::new(updated),
        };
        self.link(&entry);
        self.all.insert(entry);
    }

    /// Removes the run `id`, returning it, or `None` for an unknown id.
    pub(crate) fn remove(&mut self, id: &str) -> Option<Arc<PromptRun>> {
        let position = self.position_by_id.remove(id)?;
        self.mark_unsaved(id);
        self.cold.remove(&position);
        let entry = self.entry_at(position).expect("indexed id has an entry");
        self.unlink(&entry);
        self.all.remove(position);
        Some(entry.run)
    }

    /// Ids of the runs still `pending` or `running`.
    pub(crate) fn in_flight_ids(&self) -> Vec<String> {
        [RunStatus::Pending, RunStatus::Running]
            .into_iter()
            .flat_map(|status| self.by_status.get(status).iter())
            .map(|run| run.id.clone())
            .collect()
    }

    /// The entry of run `id`, or the unknown id refused.
    fn held(&self, id: &str) -> Result<Entry, StoreError> {
        let position = *self
            .position_by_id
            .get(id)
            .ok_or_else(|| StoreError::UnknownId(id.to_owned()))?;
        Ok(self.entry_at(position).expect("indexed id has an entry"))
    }

    fn entry_at(&self, position: i64) -> Option<Entry> {
        self.all.entry(position)
    }

    /// Adds `entry`'s run to every derived structure except the main list.
    fn link(&mut self, entry: &Entry) {
        let run = &entry.run;
        self.by_status.group_mut(run.status).insert(entry.clone());
        let (runs, stats) = self
            .by_model
            .entry(run.model_id.clone())
            .or_insert_with(|| (RunList::default(), ModelRecord::new(&run.model_id)));
        runs.insert(entry.clone());
        stats.add(run);
        self.by_start
            .insert((run.started_at.clone(), std::cmp::Reverse(entry.position)));
        self.totals.add(run);
    }

    /// Takes `entry`'s run out of every derived structure except the main list.
    fn unlink(&mut self, entry: &Entry) {
        let run = &entry.run;
        self.by_status.group_mut(run.status).remove(entry.position);
        if let Some((runs, stats)) = self.by_model.get_mut(&run.model_id) {
            runs.remove(entry.position);
            stats.subtract(run);
            if stats.is_empty() {
                self.by_model.remove(&run.model_id);
            }
        }
        self.by_start
            .remove(&(run.started_at.clone(), std::cmp::Reverse(entry.position)));
        self.totals.subtract(run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str, started_ms: i64, tokens: u64) -> PromptRun {
        let mut run = PromptRun::pending(id, "m", "p");
        run.started_at = Timestamp::from_unix_millis(started_ms);
        run.status = RunStatus::Success;
        run.total_tokens = Some(tokens);
        run
    }

    fn ids(index: &RunIndex) -> Vec<&str> {
        index.all().iter().map(|run| run.id.as_str()).collect()
    }

    #[test]
    fn a_loading_history_counts_its_unloaded_runs_until_they_arrive() {
        let history = [stored("c", 3, 1), stored("b", 2, 10), stored("a", 1, 100)];
        let mut index = RunIndex::default();
        index.start_journal();
        index.add(stored("new", 9, 1_000)).unwrap();
        index.take_unsaved();

        index.begin_loading(HistorySummary::of(&history));
        assert_eq!(index.loading(), Some((1, 4)));
        assert_eq!(index.summary().runs(), 4);
        assert_eq!(index.summary().tokens(), 1_111);

        index.load_older(history[..1].to_vec(), usize::MAX);
        assert_eq!(ids(&index), ["new", "c"], "older runs go after those held");
        assert_eq!(index.loading(), Some((2, 4)));
        assert_eq!(
            index.summary().tokens(),
            1_111,
            "the whole history all along"
        );

        index.load_older(history[1..].to_vec(), usize::MAX);
        assert_eq!(ids(&index), ["new", "c", "b", "a"]);
        assert_eq!(index.loading(), Some((4, 4)));
        index.finish_loading();
        assert_eq!(index.loading(), None);
        assert_eq!(
            index.summary(),
            HistorySummary::of(index.all().iter().map(|run| &**run))
        );
        assert_eq!(
            index.take_unsaved(),
            Unsaved::default(),
            "loaded runs are stored already: nothing to save"
        );
    }

    #[test]
    fn a_loaded_copy_of_a_run_held_merges_by_id() {
        let mut index = RunIndex::default();
        let mut running = stored("x", 5, 0);
        running.status = RunStatus::Running;
        index.add(running).unwrap();
        index.begin_loading(HistorySummary::default());
        index.load_older(vec![stored("x", 5, 7)], usize::MAX);
        assert_eq!(ids(&index), ["x"]);
        assert_eq!(
            index.get("x").unwrap().status,
            RunStatus::Success,
            "the later state wins"
        );
    }

    #[test]
    fn clearing_a_history_tells_storage_to_drop_even_unloaded_runs() {
        let mut index = RunIndex::default();
        index.start_journal();
        index.begin_loading(HistorySummary::of(&[stored("old", 1, 1)]));
        let mut replaced = index.replaced_by(RunIndex::default());
        assert!(replaced.take_unsaved().cleared);
        assert_eq!(
            replaced.loading(),
            None,
            "nothing more loads into a cleared history"
        );
        assert!(!replaced.take_unsaved().cleared, "taken once");
    }
}
