//! The runs and everything derived from them, kept up to date incrementally.
//!
//! [`RunIndex`] is plain Rust, free of signals and of the DOM: the reactive
//! [`RunsStore`](super::RunsStore) keeps one in a signal and its memos read the
//! aggregates kept here. Every change costs O(log n) (status groups, per-model
//! lists, the latest-run order, totals), so reading every derived value after
//! a change stays as cheap with 100,000 runs as with ten.

use super::model_stats::rounded_mean;
use super::run_list::Entry;
use super::{ModelStats, RunList, RunsByStatus, StoreError};
use crate::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp, Usd};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Sums over all runs, adjusted run by run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Totals {
    tokens: u64,
    cost: Usd,
    runs_with_cost: u64,
    duration_ms_sum: u64,
    runs_with_duration: u64,
}

impl Totals {
    fn add(&mut self, run: &PromptRun) {
        self.tokens += run.total_tokens.unwrap_or(0);
        if let Some(cost) = run.cost_usd() {
            self.cost += cost;
            self.runs_with_cost += 1;
        }
        if let Some(duration) = run.duration_ms {
            self.duration_ms_sum += duration;
            self.runs_with_duration += 1;
        }
    }

    fn subtract(&mut self, run: &PromptRun) {
        self.tokens -= run.total_tokens.unwrap_or(0);
        if let Some(cost) = run.cost_usd() {
            self.cost -= cost;
            self.runs_with_cost -= 1;
        }
        if let Some(duration) = run.duration_ms {
            self.duration_ms_sum -= duration;
            self.runs_with_duration -= 1;
        }
    }
}

/// All runs in history order, with their derived groups and totals.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunIndex {
    all: RunList,
    position_by_id: HashMap<String, i64>,
    by_status: RunsByStatus,
    by_model: HashMap<String, (RunList, ModelStats)>,
    /// Runs ordered by start instant; ties go to the most recently added.
    by_start: BTreeSet<(Timestamp, std::cmp::Reverse<i64>)>,
    totals: Totals,
    /// The position the next `add` takes: one before the current first run.
    next_front_position: i64,
    /// Ids of runs changed since persistence last saved them; `None` while
    /// nothing saves, so an unsaved store keeps no journal.
    unsaved: Option<BTreeSet<String>>,
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
            .map(|(_, stats)| stats.clone())
            .collect();
        // Model ids are unique, so an unstable sort orders them the same (with less code).
        stats.sort_unstable_by(|a, b| a.model_id.cmp(&b.model_id));
        stats
    }

    pub(crate) fn latest(&self) -> Option<&Arc<PromptRun>> {
        let (_, std::cmp::Reverse(position)) = self.by_start.last()?;
        self.all.run_at(*position)
    }

    pub(crate) fn total_tokens(&self) -> u64 {
        self.totals.tokens
    }

    pub(crate) fn total_cost(&self) -> Usd {
        self.totals.cost
    }

    /// How many runs have a known cost (what [`total_cost`](Self::total_cost) covers).
    pub(crate) fn priced_runs(&self) -> usize {
        self.totals.runs_with_cost as usize
    }

    /// Mean duration in whole milliseconds (half rounds up) over the runs that
    /// have one; `None` when none do.
    pub(crate) fn average_duration_ms(&self) -> Option<u64> {
        rounded_mean(
            self.totals.duration_ms_sum,
            self.totals.runs_with_duration as usize,
        )
    }

    /// Starts journaling which runs change, for persistence.
    pub(crate) fn start_journal(&mut self) {
        self.unsaved.get_or_insert_with(BTreeSet::new);
    }

    /// Ids of runs changed (added, updated or removed) since the last call.
    pub(crate) fn take_unsaved(&mut self) -> BTreeSet<String> {
        self.unsaved
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// `replacement`, carrying this index's journal over with every id of
    /// either marked changed.
    pub(crate) fn replaced_by(&mut self, mut replacement: RunIndex) -> RunIndex {
        if let Some(mut unsaved) = self.unsaved.take() {
            unsaved.extend(self.position_by_id.keys().cloned());
            unsaved.extend(replacement.position_by_id.keys().cloned());
            replacement.unsaved = Some(unsaved);
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
            .or_insert_with(|| (RunList::default(), ModelStats::new(&run.model_id)));
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
