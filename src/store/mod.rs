//! The reactive runs store: the history of prompt runs and the state of the
//! current execution, as Leptos signals and memos.
//!
//! [`RunsStore`] is a `Copy` handle. Its getters are tracked reads, so a view or
//! effect that calls `store.total_cost()` re-runs when the total changes and not
//! otherwise. Its actions validate before they change anything: a refused
//! action returns an error and leaves the store as it was.
//!
//! Derived values are cheap at any size: the runs live in a `RunIndex`
//! that keeps counts, sums, status groups and the latest run up to date as runs
//! change, and the memos only read those aggregates.
//!
//! ```
//! use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus};
//! use prompt_runs::store::RunsStore;
//!
//! let store = RunsStore::new();
//! store.add_run(PromptRun::pending("run-1", "gpt-4o", "Say hi")).unwrap();
//! store
//!     .update_run("run-1", PromptRunUpdate { status: Some(RunStatus::Success), total_tokens: Some(12), ..Default::default() })
//!     .unwrap();
//! assert_eq!(store.total_tokens_used(), 12);
//! assert_eq!(store.successful_runs().len(), 1);
//! ```

// What persistence calls (the journal of unsaved changes, cold runs, loading
// older runs) is crate-private, so without the `persist` feature nothing
// calls it; the default build, with every feature, still reports dead code.
#![cfg_attr(not(feature = "persist"), allow(dead_code))]

mod by_status;
mod cold;
mod context;
mod error;
mod execute;
mod experiment;
mod index;
mod model_stats;
mod pacing;
mod ranked;
mod run_list;
mod summary;

pub use by_status::RunsByStatus;
#[cfg(feature = "persist")]
pub(crate) use cold::warmed;
pub use context::{provide_runs_store, try_use_runs_store, use_runs_store};
pub use error::StoreError;
pub use execute::MAX_CONCURRENT_REQUESTS;
pub use experiment::{failed_cells, ExperimentReport, ExperimentStop};
pub use index::MergeOutcome;
pub use model_stats::{ModelStats, Spread};
pub use pacing::{backoff, Pause, MAX_TRIES};
pub(crate) use run_list::list_changed;
pub use run_list::RunList;
pub use summary::HistorySummary;

use crate::api::wire::{ExecuteParameters, ServerLimits};
use crate::api::PromptExecutor;
use crate::model::{Model, PromptRun, PromptRunUpdate, RunStatus, Timestamp, Usd};
use futures::future::AbortHandle;
use index::RunIndex;
use leptos::prelude::*;
use std::rc::Rc;
use std::sync::Arc;

/// The runs store: state, derived values and actions. Cheap to copy; all
/// copies share the same signals.
#[derive(Clone, Copy)]
pub struct RunsStore {
    index: RwSignal<RunIndex>,
    active_run_id: RwSignal<Option<String>>,
    is_executing: RwSignal<bool>,
    execution_progress: RwSignal<f64>,
    /// The runs of the current (or last) execution, in the order of its models.
    execution_runs: RwSignal<Vec<String>>,
    /// False while the execution cannot measure its progress (no streaming yet).
    progress_known: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    /// The models the server offers, for their prices.
    models: RwSignal<Vec<Model>>,
    /// Sent with every execution; all `None` leaves the choice to the server.
    parameters: RwSignal<ExecuteParameters>,
    executor: StoredValue<Option<Rc<dyn PromptExecutor>>, LocalStorage>,
    /// Abort handles of the requests in flight, with their run ids (at most
    /// [`MAX_CONCURRENT_REQUESTS`], so a list).
    in_flight: StoredValue<Vec<(String, AbortHandle)>>,
    /// When requests may go, shared by every execution: the server's pace
    /// outlives one batch.
    pacer: StoredValue<Rc<pacing::Pacer>, LocalStorage>,
    /// Until when requests wait because the server asked them to.
    pause: RwSignal<Option<pacing::Pause>>,
    /// What the server said of its limits; `None` while not known.
    server_limits: RwSignal<Option<ServerLimits>>,
    active_run: Memo<Option<Arc<PromptRun>>>,
    latest_run: Memo<Option<Arc<PromptRun>>>,
    runs_by_status: Memo<RunsByStatus>,
    successful_runs: Memo<RunList>,
    failed_runs: Memo<RunList>,
    summary: Memo<HistorySummary>,
    loading: Memo<Option<HistoryLoading>>,
    model_stats: Memo<Vec<ModelStats>>,
}

/// A stored history that is still loading: the newest runs are in the store,
/// older ones arrive in the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLoading {
    /// Runs in the store so far.
    pub loaded: usize,
    /// Runs in the whole history, as storage last summed them.
    pub total: usize,
}

impl Default for RunsStore {
    fn default() -> Self {
        RunsStore::new()
    }
}

impl RunsStore {
    /// An empty store, owned by the current reactive owner.
    pub fn new() -> RunsStore {
        let index = RwSignal::new(RunIndex::default());
        let active_run_id = RwSignal::new(None::<String>);
        // Each memo re-reads one aggregate the index keeps (O(1) or O(log n)),
        // and uses identity rather than deep equality to decide whether its
        // readers must re-run: comparing 100,000 runs to find "no change" would
        // cost what the index exists to avoid.
        let runs_by_status = Memo::new_with_compare(
            move |_| index.with(|runs| runs.by_status().clone()),
            |old, new| !matches!((old, new), (Some(old), Some(new)) if old.is_same_as(new)),
        );
        let status_group = move |status: RunStatus| {
            Memo::new_with_compare(
                move |_| runs_by_status.with(|groups| groups.get(status).clone()),
                list_changed,
            )
        };
        RunsStore {
            index,
            active_run_id,
            is_executing: RwSignal::new(false),
            execution_progress: RwSignal::new(0.0),
            execution_runs: RwSignal::new(Vec::new()),
            progress_known: RwSignal::new(true),
            error: RwSignal::new(None),
            models: RwSignal::new(Vec::new()),
            parameters: RwSignal::new(ExecuteParameters::default()),
            executor: StoredValue::new_local(None),
            in_flight: StoredValue::new(Vec::new()),
            pacer: StoredValue::new_local(Rc::new(pacing::Pacer::new())),
            pause: RwSignal::new(None),
            server_limits: RwSignal::new(None),
            active_run: Memo::new_with_compare(
                move |_| {
                    let id = active_run_id.get()?;
                    index.with(|runs| runs.get(&id).cloned())
                },
                run_changed,
            ),
            latest_run: Memo::new_with_compare(
                move |_| index.with(|runs| runs.latest().cloned()),
                run_changed,
            ),
            runs_by_status,
            successful_runs: status_group(RunStatus::Success),
            failed_runs: status_group(RunStatus::Error),
            summary: Memo::new(move |_| index.with(RunIndex::summary)),
            loading: Memo::new(move |_| {
                index.with(|runs| {
                    runs.loading()
                        .map(|(loaded, total)| HistoryLoading { loaded, total })
                })
            }),
            model_stats: Memo::new(move |_| index.with(RunIndex::model_stats)),
        }
    }

    // ---- state ----

    /// All runs, most recent first.
    pub fn runs(&self) -> RunList {
        self.index.with(|runs| runs.all().clone())
    }

    /// Id of the run the user is looking at, if any.
    pub fn active_run_id(&self) -> Option<String> {
        self.active_run_id.get()
    }

    /// True while an execution is in progress.
    pub fn is_executing(&self) -> bool {
        self.is_executing.get()
    }

    /// Progress of the current execution, 0–100.
    pub fn execution_progress(&self) -> f64 {
        self.execution_progress.get()
    }

    /// Ids of the runs of the current execution (one per model, in the order
    /// the models were given), or of the last one when none is in progress:
    /// what a progress display follows run by run. Empty before the first.
    pub fn execution_run_ids(&self) -> Vec<String> {
        self.execution_runs.get()
    }

    /// Whether [`execution_progress`](Self::execution_progress) measures
    /// anything: false while an execution runs without streaming, so the UI
    /// shows an indeterminate bar instead of a made-up one.
    pub fn is_progress_known(&self) -> bool {
        self.progress_known.get()
    }

    /// The models the server offers (set with [`set_models`](Self::set_models)).
    pub fn models(&self) -> Vec<Model> {
        self.models.get()
    }

    /// The sampling parameters sent with every execution (set with
    /// [`set_execution_parameters`](Self::set_execution_parameters)).
    pub fn execution_parameters(&self) -> ExecuteParameters {
        self.parameters.get()
    }

    /// What the server said of its limits (set with
    /// [`set_server_limits`](Self::set_server_limits)); `None` when nothing
    /// is known (a server without `GET /api/v1/limits`).
    pub fn server_limits(&self) -> Option<ServerLimits> {
        self.server_limits.get()
    }

    /// The error to show the user, if any.
    pub fn error(&self) -> Option<String> {
        self.error.get()
    }

    // ---- derived ----

    /// The active run; `None` when no run is active or the active id names no run.
    pub fn active_run(&self) -> Option<Arc<PromptRun>> {
        self.active_run.get()
    }

    /// The run with the latest `startedAt` (ties: the most recently added).
    pub fn latest_run(&self) -> Option<Arc<PromptRun>> {
        self.latest_run.get()
    }

    /// Runs grouped by status; all five statuses are present.
    pub fn runs_by_status(&self) -> RunsByStatus {
        self.runs_by_status.get()
    }

    /// Runs with status `success`.
    pub fn successful_runs(&self) -> RunList {
        self.successful_runs.get()
    }

    /// Runs with status `error`.
    pub fn failed_runs(&self) -> RunList {
        self.failed_runs.get()
    }

    /// Counts and totals over the whole history, kept per change (O(1) to
    /// read). While a stored history loads, they include the runs not loaded
    /// yet, as storage last summed them.
    pub fn history_summary(&self) -> HistorySummary {
        self.summary.get()
    }

    /// Number of runs in the whole history (including any still loading).
    pub fn run_count(&self) -> usize {
        self.summary.with(|summary| summary.runs() as usize)
    }

    /// While a stored history is still loading: how far it got. `None` once
    /// every run is in the store (and for a store that loads nothing).
    /// Searches and per-model figures cover the loaded runs only until then.
    pub fn history_loading(&self) -> Option<HistoryLoading> {
        self.loading.get()
    }

    /// Sum of `totalTokens`; runs without a count add 0.
    pub fn total_tokens_used(&self) -> u64 {
        self.summary.with(HistorySummary::tokens)
    }

    /// Sum of `cost`, exact to the nanodollar.
    pub fn total_cost(&self) -> Usd {
        self.summary.with(HistorySummary::cost)
    }

    /// How many runs have a known `cost`: what [`total_cost`](Self::total_cost)
    /// covers, so that a total over some runs can say so.
    pub fn priced_runs(&self) -> usize {
        self.summary.with(HistorySummary::priced_runs) as usize
    }

    /// How many runs' costs are estimates (a price × tokens) rather than
    /// reported: when any is, [`total_cost`](Self::total_cost) is approximate.
    pub fn estimated_costs(&self) -> usize {
        self.summary.with(HistorySummary::estimated_costs) as usize
    }

    /// Mean `durationMs` over the runs that have one, in whole ms; `None`
    /// when no run has one (an unknown duration is not a duration of 0).
    pub fn average_duration(&self) -> Option<u64> {
        self.summary.with(HistorySummary::average_duration_ms)
    }

    /// Each model's record (runs, success rate, averages, cost), ordered by
    /// model id; kept per change, so reading it costs O(models), not O(runs).
    pub fn model_stats(&self) -> Vec<ModelStats> {
        self.model_stats.get()
    }

    // ---- actions on runs ----

    /// Replaces every run with `runs` (in the order given) and clears the error.
    /// Refuses a list that repeats an id, changing nothing. The active run stays
    /// active if it is among the new runs.
    pub fn set_runs(&self, runs: Vec<PromptRun>) -> Result<(), StoreError> {
        let replacement = RunIndex::from_runs(runs)?;
        self.index
            .update(|held| *held = held.replaced_by(replacement));
        self.forget_active_run_if_gone();
        self.error.set(None);
        Ok(())
    }

    /// Puts `run` first in the history; refuses an id already present.
    pub fn add_run(&self, run: PromptRun) -> Result<(), StoreError> {
        self.change_runs(|runs| runs.add(run))
    }

    /// Applies `update` to the run `id`. Refuses an unknown id, or a status
    /// that would move backwards, changing nothing.
    pub fn update_run(&self, id: &str, update: PromptRunUpdate) -> Result<(), StoreError> {
        self.change_runs(|runs| runs.update(id, update))
    }

    /// Removes the run `id` and returns it; refuses an unknown id. Removing the
    /// active run leaves no active run.
    pub fn remove_run(&self, id: &str) -> Result<Arc<PromptRun>, StoreError> {
        let removed = self.change_runs(|runs| {
            runs.remove(id)
                .ok_or_else(|| StoreError::UnknownId(id.to_owned()))
        })?;
        self.forget_active_run_if_gone();
        Ok(removed)
    }

    /// Removes every run; no run is active afterwards.
    pub fn clear_runs(&self) {
        self.index
            .update(|held| *held = held.replaced_by(RunIndex::default()));
        self.active_run_id.set(None);
    }

    /// Gives run `id` the id `new_id` (the server's, once it answers), keeping
    /// its place; the active run follows. Refused if `new_id` is taken.
    pub fn rename_run(&self, id: &str, new_id: &str) -> Result<(), StoreError> {
        if id == new_id {
            return Ok(());
        }
        self.change_runs(|runs| runs.rename(id, new_id))?;
        if self.active_run_id.get_untracked().as_deref() == Some(id) {
            self.active_run_id.set(Some(new_id.to_owned()));
        }
        Ok(())
    }

    /// Merges copies of runs from elsewhere (an imported file) by id: new runs are added first, keeping their order among themselves; a
    /// copy replaces the run held only if it is further along (see
    /// [`PromptRun::supersedes`]). Never refuses; reports what it did.
    pub fn merge_runs(&self, runs: Vec<PromptRun>) -> MergeReport {
        let mut report = MergeReport::default();
        self.index.maybe_update(|held| {
            for run in runs.into_iter().rev() {
                report.count(held.merge(run));
            }
            report.added + report.updated > 0
        });
        report
    }

    /// Makes `id` the active run, or none. An unknown id is refused and leaves
    /// no active run.
    pub fn set_active_run(&self, id: Option<&str>) -> Result<(), StoreError> {
        match id {
            Some(id) if !self.index.with_untracked(|runs| runs.contains(id)) => {
                self.active_run_id.set(None);
                Err(StoreError::UnknownId(id.to_owned()))
            }
            id => {
                self.active_run_id.set(id.map(str::to_owned));
                Ok(())
            }
        }
    }

    /// The run with `id`, if any.
    pub fn get_run_by_id(&self, id: &str) -> Option<Arc<PromptRun>> {
        self.index.with(|runs| runs.get(id).cloned())
    }

    /// The runs executed together with run `id` on several models (those
    /// sharing its `batchId`), in history order: what a side-by-side comparison
    /// shows. Empty when the run is unknown or was executed alone.
    pub fn batch_runs(&self, id: &str) -> RunList {
        self.index.with(|runs| runs.batch_of(id))
    }

    /// The runs on `model_id`, most recent first.
    pub fn get_runs_by_model(&self, model_id: &str) -> RunList {
        self.index.with(|runs| runs.by_model(model_id))
    }

    // ---- actions on the execution ----

    /// An execution begins: executing, progress 0, error cleared.
    pub fn start_execution(&self) {
        self.is_executing.set(true);
        self.execution_progress.set(0.0);
        self.error.set(None);
    }

    /// Sets the models offered; a model's `costPer1kTokens` prices runs whose
    /// answer carries no cost.
    pub fn set_models(&self, models: Vec<Model>) {
        self.models.set(models);
    }

    /// Sets what the server said of its limits (its `GET /api/v1/limits`),
    /// or `None` when it said nothing: requests larger than its
    /// `max_request_bytes` are then refused before they are sent, and an
    /// experiment's plan warns when it asks for more than its pace.
    pub fn set_server_limits(&self, limits: Option<ServerLimits>) {
        // Answers arrive late: the store may be gone by then.
        let _ = self.server_limits.try_set(limits);
    }

    /// Sets the sampling parameters (temperature, `max_tokens`, `top_p`) sent
    /// with every execution from now on; `max_tokens` is also what streamed
    /// progress measures against. All `None` leaves them to the server.
    pub fn set_execution_parameters(&self, parameters: ExecuteParameters) {
        self.parameters.set(parameters);
    }

    /// Sets the progress, clamped to 0–100; NaN is ignored.
    pub fn update_execution_progress(&self, progress: f64) {
        if !progress.is_nan() {
            self.execution_progress.set(progress.clamp(0.0, 100.0));
        }
    }

    /// The execution finished: not executing, progress 100.
    pub fn complete_execution(&self) {
        self.end_pause();
        self.is_executing.set(false);
        self.execution_progress.set(100.0);
        self.progress_known.set(true);
    }

    /// The execution was stopped: every `pending` or `running` run becomes
    /// `cancelled` with `completedAt` set (finished runs are untouched); not
    /// executing, progress 0.
    pub fn cancel_execution(&self) {
        // Aborting drops the requests' futures, which aborts the fetches: no
        // late answer can reach a cancelled run.
        for (_, request) in self
            .in_flight
            .try_update_value(std::mem::take)
            .unwrap_or_default()
        {
            request.abort();
        }
        let completed_at = Timestamp::now();
        self.index.maybe_update(|runs| {
            let in_flight = runs.in_flight_ids();
            for id in &in_flight {
                let cancel = PromptRunUpdate {
                    status: Some(RunStatus::Cancelled),
                    completed_at: Some(completed_at.clone()),
                    ..PromptRunUpdate::default()
                };
                runs.update(id, cancel)
                    .expect("an in-flight run can always be cancelled");
            }
            !in_flight.is_empty()
        });
        self.end_pause();
        self.is_executing.set(false);
        self.execution_progress.set(0.0);
        self.progress_known.set(true);
    }

    /// Shows `message` as the error without ending the execution: for
    /// problems beside the run in flight, such as storage being full. Work
    /// that finishes after the store's owner is gone reports to no one.
    pub fn report_background_error(&self, message: impl Into<String>) {
        let _ = self.error.try_set(Some(message.into()));
    }

    /// Sets or clears the error shown to the user. Setting one also ends the
    /// execution.
    pub fn set_error(&self, error: Option<String>) {
        if error.is_some() {
            self.is_executing.set(false);
        }
        self.error.set(error);
    }

    // ---- seams for persistence ----

    /// True once the store's reactive owner is gone (the app was unmounted):
    /// work finishing later must leave it alone.
    pub(crate) fn is_disposed(&self) -> bool {
        self.index.is_disposed()
    }

    /// From now on, record which runs change so that they can be saved.
    pub(crate) fn start_journal(&self) {
        self.index.update_untracked(RunIndex::start_journal);
    }

    /// What changed since the last call: runs (gone ones included), or all cleared.
    pub(crate) fn take_unsaved(&self) -> index::Unsaved {
        self.index
            .try_update_untracked(RunIndex::take_unsaved)
            .unwrap_or_default()
    }

    /// Ids changed and not yet taken for saving.
    pub(crate) fn unsaved_ids(&self) -> Vec<String> {
        self.index
            .try_with_untracked(|runs| runs.peek_unsaved().into_iter().flatten().cloned().collect())
            .unwrap_or_default()
    }

    /// A stored history is being opened: until it is read (or storage
    /// fails) [`history_loading`](Self::history_loading) says so, and a view
    /// shows "opening" rather than an empty history.
    pub(crate) fn begin_opening_history(&self) {
        let _ = self
            .index
            .try_update(|held| held.begin_loading(HistorySummary::default()));
    }

    /// Begins taking in a stored history summed by `stored`, whose newest
    /// runs are `first`; older runs follow through
    /// [`load_older_runs`](Self::load_older_runs). Runs already held (made in
    /// this page before storage answered) stay first. Nothing is journaled:
    /// these runs are what storage holds.
    pub(crate) fn begin_loading_history(&self, first: Vec<PromptRun>, stored: HistorySummary) {
        let _ = self.index.try_update(|held| {
            held.begin_loading(stored);
            held.load_older(first, usize::MAX);
        });
    }

    /// Whether run `id` is held cold: loaded from a large stored history
    /// with only the start of its output (its card), its prompt and full
    /// output still in storage until it is opened (persistence then warms
    /// it). Figures, filters by status and model, and cards are exact for
    /// cold runs; only their text waits.
    pub fn is_run_cold(&self, id: &str) -> bool {
        self.index.with(|runs| runs.is_cold(id))
    }

    /// How many runs are held cold (see [`is_run_cold`](Self::is_run_cold)).
    pub fn cold_run_count(&self) -> usize {
        self.index.with(RunIndex::cold_count)
    }

    /// Whether a stored history is still loading, without tracking.
    pub(crate) fn is_loading_history_untracked(&self) -> bool {
        self.index
            .try_with_untracked(|runs| runs.loading().is_some())
            .unwrap_or(false)
    }

    /// Whether the history was cleared since the last save, without taking it.
    pub(crate) fn is_cleared_unsaved(&self) -> bool {
        self.index
            .try_with_untracked(RunIndex::is_cleared)
            .unwrap_or(false)
    }

    /// [`history_summary`](Self::history_summary), without tracking.
    pub(crate) fn history_summary_untracked(&self) -> HistorySummary {
        // Work finishing after the app was unmounted finds nothing rather than panicking.
        self.index
            .try_with_untracked(RunIndex::summary)
            .unwrap_or_default()
    }

    /// Takes in older stored runs, after those held (merged by id when
    /// held); past the first `warm` new ones, held cold (see
    /// [`is_run_cold`](Self::is_run_cold)).
    pub(crate) fn load_older_runs(&self, runs: Vec<PromptRun>, warm: usize) {
        let _ = self.index.try_update(|held| held.load_older(runs, warm));
    }

    /// Gives cold runs their text back from storage's copies.
    pub(crate) fn warm_runs(&self, stored: Vec<PromptRun>) {
        let _ = self.index.try_maybe_update(|held| {
            let mut warmed = false;
            for run in stored {
                warmed |= held.warm(run);
            }
            (warmed, ())
        });
    }

    /// Whether run `id` is held cold, without tracking.
    pub(crate) fn is_run_cold_untracked(&self, id: &str) -> bool {
        self.index
            .try_with_untracked(|runs| runs.is_cold(id))
            .unwrap_or(false)
    }

    /// The stored history is all in (or loading stopped): totals are the runs held.
    pub(crate) fn finish_loading_history(&self) {
        let _ = self.index.try_maybe_update(|held| {
            let was_loading = held.loading().is_some();
            held.finish_loading();
            (was_loading, ())
        });
    }

    /// Takes in a run another tab saved, without marking it for saving again.
    pub(crate) fn merge_saved_run(&self, run: PromptRun) -> MergeOutcome {
        let mut outcome = MergeOutcome::Unchanged;
        self.index.maybe_update(|held| {
            outcome = held.unjournaled(|held| held.merge(run));
            outcome != MergeOutcome::Unchanged
        });
        outcome
    }

    /// Drops a run another tab removed from storage, without saving anything.
    pub(crate) fn forget_saved_run(&self, id: &str) {
        let removed = self
            .index
            .try_maybe_update(|held| {
                let removed = held.unjournaled(|held| held.remove(id)).is_some();
                (removed, removed)
            })
            .unwrap_or(false);
        if removed {
            self.forget_active_run_if_gone();
        }
    }

    /// The run `id` as it is now, without tracking.
    pub(crate) fn get_run_untracked(&self, id: &str) -> Option<Arc<PromptRun>> {
        self.index
            .try_with_untracked(|runs| runs.get(id).cloned())
            .flatten()
    }

    pub(crate) fn runs_untracked(&self) -> RunList {
        self.index
            .try_with_untracked(|runs| runs.all().clone())
            .unwrap_or_default()
    }

    pub(crate) fn active_run_id_untracked(&self) -> Option<String> {
        self.active_run_id.try_get_untracked().flatten()
    }

    pub(crate) fn error_untracked(&self) -> Option<String> {
        self.error.try_get_untracked().flatten()
    }

    /// Runs `change` on the index, notifying readers only if it succeeded.
    fn change_runs<T>(
        &self,
        change: impl FnOnce(&mut RunIndex) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.index
            .try_maybe_update(|runs| {
                let result = change(runs);
                (result.is_ok(), result)
            })
            .unwrap_or(Err(StoreError::Disposed))
    }

    fn forget_active_run_if_gone(&self) {
        let active_is_gone = self.active_run_id.with_untracked(|active| {
            active
                .as_deref()
                .is_some_and(|id| !self.index.with_untracked(|runs| runs.contains(id)))
        });
        if active_is_gone {
            self.active_run_id.set(None);
        }
    }
}

/// What [`RunsStore::merge_runs`] did, run by run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Runs that were new.
    pub added: usize,
    /// Runs that replaced an older copy.
    pub updated: usize,
    /// Runs already held as new or newer.
    pub unchanged: usize,
}

impl MergeReport {
    fn count(&mut self, outcome: MergeOutcome) {
        match outcome {
            MergeOutcome::Added => self.added += 1,
            MergeOutcome::Updated => self.updated += 1,
            MergeOutcome::Unchanged => self.unchanged += 1,
        }
    }
}

/// Memo comparator for single runs: a new `Arc` means the run changed.
fn run_changed(old: Option<&Option<Arc<PromptRun>>>, new: Option<&Option<Arc<PromptRun>>>) -> bool {
    match (old, new) {
        (Some(Some(old)), Some(Some(new))) => !Arc::ptr_eq(old, new),
        (Some(None), Some(None)) => false,
        _ => true,
    }
}
