//! The save's state machine as plain data: whether the database may be
//! written, which phase a save is in, what each round writes (which runs,
//! whether the clear marker goes, which manifest), how a large round is cut
//! into transactions, and what a failure puts back. No browser here, so each
//! decision is tested natively (below); `save.rs` does the writing.
//!
//! A save is [`Phase::Idle`], [`Phase::Scheduled`] (waiting for the
//! debounce) or [`Phase::Writing`] one round, never two of these at once.
//! Changes made while a round is written make another round once it
//! commits: after the debounce, or at once when a save was asked for
//! outright (the page being hidden, an export).

use crate::persist::indexed::database::{BackupRecord, DatabaseManifest, Save};
use crate::store::HistorySummary;
use std::collections::BTreeSet;

/// Runs written per transaction. A larger save (an import) is written in
/// steps, between which the page paints and answers input: one transaction
/// of 100,000 runs would hold the page for seconds. Each step is whole or
/// nothing; the manifest goes with the last.
pub(super) const RUNS_PER_TRANSACTION: usize = 2_000;

/// Runs by id, and whether the whole stored history goes first (the clear
/// marker): what a round writes, or what waits to be written again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Changes {
    /// Runs added, changed or removed.
    pub(super) ids: BTreeSet<String>,
    /// The history was cleared or replaced: every stored run goes.
    pub(super) cleared: bool,
}

impl Changes {
    /// Nothing to write.
    pub(super) fn is_empty(&self) -> bool {
        self.ids.is_empty() && !self.cleared
    }

    /// These changes and `other`'s.
    pub(super) fn add(&mut self, other: Changes) {
        self.ids.extend(other.ids);
        self.cleared |= other.cleared;
    }
}

/// Whether the database may be written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Access {
    /// Not open yet, or closed for another tab and being opened again; what
    /// is moved in from localStorage is not in it yet.
    #[default]
    Closed,
    /// Open, and what came from localStorage is in it.
    Open,
    /// Nothing will be written, for as long as the page lives: a newer
    /// build's data, storage that cannot be used, or the history kept in
    /// localStorage instead.
    Stopped,
}

/// Where the save stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Phase {
    /// Nothing waits to be written (what failed waits for its retry).
    #[default]
    Idle,
    /// A save waits for the debounce to pass.
    Scheduled,
    /// A round is being written.
    Writing {
        /// What it holds, until it commits: kept in localStorage should the
        /// page close before then.
        round: Changes,
        /// What follows it.
        then: Then,
    },
}

/// What follows the round being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Then {
    /// Nothing was asked for since it began: the save ends with it.
    Stop,
    /// A change asked for a save, which waits for the debounce.
    Debounce,
    /// A save was asked for outright: another round follows at once.
    Round,
}

/// What a save found when it was asked to start.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// A round is being written: another follows it.
    Queued,
    /// The database cannot be written now: nothing to do.
    Refused,
    /// Begin writing rounds.
    Begin,
}

/// The store as a round is begun: what it says goes in the manifest.
#[derive(Clone, Debug, Default)]
pub(super) struct StoreNow {
    /// Older runs are still being loaded: the history's totals are not
    /// known from the store alone.
    pub(super) loading: bool,
    /// The run the person is looking at.
    pub(super) active_run_id: Option<String>,
    /// The store's counts and totals.
    pub(super) summary: HistorySummary,
}

/// One round: the changes it writes and the manifest that goes with them.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Round {
    /// Runs to write or delete, and whether the stored history goes first.
    pub(super) changes: Changes,
    /// The database manifest as of this round.
    pub(super) manifest: DatabaseManifest,
}

/// The save's part of the attachment.
#[derive(Debug, Default)]
pub(super) struct SaveState {
    access: Access,
    phase: Phase,
    /// What failed to be written (or must be written anew), for the next round.
    retry: Changes,
    /// Whether the stored history's totals are known (else only its count
    /// is, until every run is loaded).
    totals_known: bool,
    /// The last backup, saved with the next manifest.
    last_backup: Option<BackupRecord>,
    /// The database manifest as last written (a round with nothing else to
    /// write and the same manifest writes nothing).
    written_manifest: Option<DatabaseManifest>,
}

impl SaveState {
    /// The database is open and what came from localStorage is in it
    /// (unless nothing may be written any more).
    pub(super) fn open(&mut self) {
        if self.access == Access::Closed {
            self.access = Access::Open;
        }
    }

    /// The database was closed (to be opened again).
    pub(super) fn close(&mut self) {
        if self.access == Access::Open {
            self.access = Access::Closed;
        }
    }

    /// Nothing will be written any more.
    pub(super) fn stop(&mut self) {
        self.access = Access::Stopped;
    }

    /// Whether the database may be written now.
    pub(super) fn is_open(&self) -> bool {
        self.access == Access::Open
    }

    /// Whether nothing will be written any more.
    pub(super) fn is_stopped(&self) -> bool {
        self.access == Access::Stopped
    }

    /// A change asks for a save: whether to start the debounce, at the end
    /// of which [`start`](Self::start) is called. Any number of asks before
    /// then make one save.
    pub(super) fn ask(&mut self) -> bool {
        if self.access != Access::Open {
            return false;
        }
        match &mut self.phase {
            Phase::Idle => {
                self.phase = Phase::Scheduled;
                true
            }
            Phase::Writing { then, .. } if *then == Then::Stop => {
                *then = Then::Debounce;
                true
            }
            Phase::Scheduled | Phase::Writing { .. } => false,
        }
    }

    /// A save is to start now (the debounce passed, or the page is hidden).
    pub(super) fn start(&mut self) -> Start {
        match &mut self.phase {
            Phase::Writing { then, .. } => {
                *then = Then::Round;
                Start::Queued
            }
            _ => {
                // Whatever scheduled it, this is the save it asked for.
                self.phase = Phase::Idle;
                match self.access {
                    Access::Open => Start::Begin,
                    Access::Closed | Access::Stopped => Start::Refused,
                }
            }
        }
    }

    /// Begins a round with the changes `journaled` since the last one and
    /// what failed before: what it writes, or `None` when there is nothing
    /// to write and the manifest is as last written (the save then ends).
    pub(super) fn begin_round(&mut self, journaled: Changes, store: StoreNow) -> Option<Round> {
        let mut changes = std::mem::take(&mut self.retry);
        changes.add(journaled);
        // Totals are known once every run is in, or a cleared history
        // starts from nothing.
        if changes.cleared || !store.loading {
            self.totals_known = true;
        }
        let manifest = DatabaseManifest {
            active_run_id: store.active_run_id,
            summary: self.totals_known.then_some(store.summary),
            last_backup: self.last_backup,
        };
        if changes.is_empty() && self.written_manifest.as_ref() == Some(&manifest) {
            self.phase = Phase::Idle;
            return None;
        }
        self.phase = Phase::Writing {
            round: changes.clone(),
            then: Then::Stop,
        };
        Some(Round { changes, manifest })
    }

    /// The round being written ended: `Ok` with its manifest once all of
    /// it committed, or `Err` with what a failed step did not write, which
    /// goes back for the next round. Returns whether another round follows
    /// at once.
    pub(super) fn end_round(&mut self, written: Result<DatabaseManifest, Changes>) -> bool {
        let then = match std::mem::take(&mut self.phase) {
            Phase::Writing { then, .. } => then,
            Phase::Idle | Phase::Scheduled => Then::Stop,
        };
        let failed = match written {
            Ok(manifest) => {
                self.written_manifest = Some(manifest);
                false
            }
            Err(unwritten) => {
                self.retry.add(unwritten);
                true
            }
        };
        match then {
            Then::Debounce => {
                self.phase = Phase::Scheduled;
                false
            }
            // A failure is retried later rather than in a loop; what was
            // asked for meanwhile is in the store's journal for that retry.
            Then::Round => !failed,
            Then::Stop => false,
        }
    }

    /// What is not committed: what failed, and the round being written.
    /// (The store's journal holds the rest.)
    pub(super) fn uncommitted(&self) -> Changes {
        let mut uncommitted = self.retry.clone();
        if let Phase::Writing { round, .. } = &self.phase {
            uncommitted.add(round.clone());
        }
        uncommitted
    }

    /// Nothing waits to be saved, is being saved, or failed to save.
    pub(super) fn is_settled(&self) -> bool {
        matches!(self.phase, Phase::Idle) && self.retry.is_empty()
    }

    /// Runs that failed and wait for the next round.
    pub(super) fn failed_runs(&self) -> usize {
        self.retry.ids.len()
    }

    /// Writes runs `ids` anew with the next round (the database was
    /// created again and holds none of them).
    pub(super) fn write_again(&mut self, ids: impl IntoIterator<Item = String>) {
        self.retry.ids.extend(ids);
    }

    /// The history's manifest as read at start: the next round writes
    /// nothing unless something changed from it.
    pub(super) fn read_manifest(&mut self, manifest: Option<DatabaseManifest>, totals_known: bool) {
        self.written_manifest = manifest;
        self.totals_known = totals_known;
    }

    /// The last backup, to go with the next manifest.
    pub(super) fn set_last_backup(&mut self, backup: Option<BackupRecord>) {
        self.last_backup = backup;
    }
}

/// Step `step` of writing `save` in [`steps`] transactions: its share of
/// the runs to put; the clear, the deletes and the cold runs with the
/// first; the manifest with the last.
pub(super) fn step(save: &Save, step: usize) -> Save {
    let (first, last) = (step == 0, step + 1 == steps(save));
    Save {
        cleared: first && save.cleared,
        puts: save
            .puts
            .iter()
            .skip(step * RUNS_PER_TRANSACTION)
            .take(RUNS_PER_TRANSACTION)
            .cloned()
            .collect(),
        deletes: if first {
            save.deletes.clone()
        } else {
            Vec::new()
        },
        manifest: if last { save.manifest.clone() } else { None },
        cold_puts: if first {
            save.cold_puts.clone()
        } else {
            Vec::new()
        },
        outbox: save.outbox,
    }
}

/// How many transactions `save` is written in (one at least: the manifest).
pub(super) fn steps(save: &Save) -> usize {
    save.puts.len().div_ceil(RUNS_PER_TRANSACTION).max(1)
}

/// What is not written when step `failed` of `save` fails: its runs and
/// every later step's; with the first, the deletes, the cold runs and the
/// clear too. (Earlier steps committed.)
pub(super) fn unwritten(save: &Save, failed: usize) -> Changes {
    let first = failed == 0;
    let later_puts = save
        .puts
        .iter()
        .skip(failed * RUNS_PER_TRANSACTION)
        .map(|run| run.id.clone());
    let first_only = save
        .deletes
        .iter()
        .chain(save.cold_puts.iter().map(|run| &run.id))
        .filter(|_| first)
        .cloned();
    // Inserted one by one: collecting into a set would bring a sort into
    // the bundle for this one call.
    let mut ids = BTreeSet::new();
    for id in later_puts.chain(first_only) {
        ids.insert(id);
    }
    Changes {
        ids,
        cleared: first && save.cleared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PromptRun;
    use std::sync::Arc;

    fn changes(ids: &[&str], cleared: bool) -> Changes {
        Changes {
            ids: ids.iter().map(|id| id.to_string()).collect(),
            cleared,
        }
    }

    fn open() -> SaveState {
        let mut state = SaveState::default();
        state.open();
        state
    }

    fn store_now() -> StoreNow {
        StoreNow::default()
    }

    fn run(id: &str) -> Arc<PromptRun> {
        Arc::new(PromptRun::pending(id, "gpt-4o", "Hi"))
    }

    /// A save of `puts` runs named `p0…`, deletes `d`, a cold run `c`, cleared.
    fn save_of(puts: usize) -> Save {
        Save {
            cleared: true,
            puts: (0..puts).map(|n| run(&format!("p{n}"))).collect(),
            cold_puts: vec![run("c")],
            deletes: vec!["d".to_owned()],
            manifest: Some(DatabaseManifest::default()),
            outbox: false,
        }
    }

    #[test]
    fn asks_before_the_database_is_open_schedule_nothing() {
        let mut state = SaveState::default();
        assert!(!state.ask());
        assert_eq!(state.start(), Start::Refused);
        state.open();
        state.stop();
        state.open();
        assert!(!state.ask(), "a stopped history never saves");
        assert!(state.is_stopped() && !state.is_open());
    }

    #[test]
    fn many_asks_before_the_debounce_make_one_save() {
        let mut state = open();
        assert!(state.ask(), "the first ask starts the debounce");
        assert!(!state.ask() && !state.ask());
        assert_eq!(state.phase, Phase::Scheduled);
        assert!(!state.is_settled());
        assert_eq!(state.start(), Start::Begin);
    }

    #[test]
    fn a_round_takes_what_failed_and_what_was_journaled() {
        let mut state = open();
        state.retry = changes(&["a"], true);
        let round = state
            .begin_round(changes(&["b"], false), store_now())
            .expect("something to write");
        assert_eq!(round.changes, changes(&["a", "b"], true));
        assert_eq!(state.uncommitted(), changes(&["a", "b"], true));
        assert!(state.retry.is_empty(), "the round holds them now");
    }

    #[test]
    fn nothing_changed_and_the_same_manifest_writes_nothing() {
        let mut state = open();
        state.read_manifest(Some(DatabaseManifest::default()), false);
        let loading = StoreNow {
            loading: true,
            ..StoreNow::default()
        };
        assert_eq!(state.begin_round(Changes::default(), loading.clone()), None);
        assert!(state.is_settled());
        // Once every run is loaded the totals go in the manifest: a change.
        let round = state
            .begin_round(Changes::default(), store_now())
            .expect("the manifest changed");
        assert_eq!(round.manifest.summary, Some(HistorySummary::default()));
        assert!(!state.end_round(Ok(round.manifest)));
        assert_eq!(state.begin_round(Changes::default(), store_now()), None);
    }

    #[test]
    fn a_clear_makes_the_totals_known_while_loading() {
        let mut state = open();
        let loading = StoreNow {
            loading: true,
            ..StoreNow::default()
        };
        let round = state.begin_round(changes(&[], true), loading).unwrap();
        assert_eq!(round.manifest.summary, Some(HistorySummary::default()));
    }

    #[test]
    fn the_manifest_holds_the_active_run_and_the_last_backup() {
        let mut state = open();
        let backup = BackupRecord {
            at_unix_millis: 5,
            runs: 3,
        };
        state.set_last_backup(Some(backup));
        let now = StoreNow {
            loading: true,
            active_run_id: Some("a".to_owned()),
            ..StoreNow::default()
        };
        let round = state.begin_round(Changes::default(), now).unwrap();
        assert_eq!(
            round.manifest,
            DatabaseManifest {
                active_run_id: Some("a".to_owned()),
                summary: None,
                last_backup: Some(backup),
            }
        );
    }

    #[test]
    fn a_failed_round_puts_back_what_it_did_not_write() {
        let mut state = open();
        state.begin_round(changes(&["a", "b"], true), store_now());
        assert!(!state.end_round(Err(changes(&["b"], true))));
        assert_eq!(state.retry, changes(&["b"], true));
        assert_eq!(state.failed_runs(), 1);
        assert_eq!(state.phase, Phase::Idle);
        assert!(!state.is_settled());
        let next = state
            .begin_round(changes(&["c"], false), store_now())
            .unwrap();
        assert_eq!(next.changes, changes(&["b", "c"], true));
    }

    #[test]
    fn changes_while_writing_wait_for_the_debounce_then_make_another_round() {
        let mut state = open();
        state.begin_round(changes(&["a"], false), store_now());
        assert!(state.ask(), "a change while writing starts the debounce");
        assert!(!state.ask());
        assert!(!state.end_round(Ok(DatabaseManifest::default())));
        assert_eq!(state.phase, Phase::Scheduled, "the debounce still runs");
        assert_eq!(state.start(), Start::Begin);
    }

    #[test]
    fn a_save_asked_for_while_writing_follows_at_once() {
        let mut state = open();
        state.begin_round(changes(&["a"], false), store_now());
        assert_eq!(state.start(), Start::Queued);
        assert!(!state.ask(), "the next round takes this change too");
        assert!(state.end_round(Ok(DatabaseManifest::default())));
        let next = state
            .begin_round(changes(&["b"], false), store_now())
            .unwrap();
        assert_eq!(next.changes, changes(&["b"], false));
        assert!(!state.end_round(Ok(DatabaseManifest::default())));
        assert!(state.is_settled());
    }

    #[test]
    fn a_failure_is_not_retried_in_a_loop() {
        let mut state = open();
        state.begin_round(changes(&["a"], false), store_now());
        assert_eq!(state.start(), Start::Queued);
        assert!(!state.end_round(Err(changes(&["a"], false))));
        assert_eq!(state.phase, Phase::Idle);
    }

    #[test]
    fn a_closed_database_refuses_a_save_but_keeps_what_is_uncommitted() {
        let mut state = open();
        state.begin_round(changes(&["a"], false), store_now());
        state.close();
        assert!(!state.ask());
        assert_eq!(
            state.start(),
            Start::Queued,
            "the round being written goes on"
        );
        assert!(!state.end_round(Err(changes(&["a"], false))));
        assert_eq!(state.start(), Start::Refused);
        assert_eq!(state.phase, Phase::Idle);
        state.write_again(["b".to_owned()]);
        assert_eq!(state.uncommitted(), changes(&["a", "b"], false));
        state.open();
        assert!(state.ask());
    }

    #[test]
    fn a_large_save_is_cut_into_steps_the_manifest_with_the_last() {
        let save = save_of(2 * RUNS_PER_TRANSACTION + 1);
        assert_eq!(steps(&save), 3);
        let parts: Vec<Save> = (0..3).map(|n| step(&save, n)).collect();
        assert_eq!(
            parts.iter().map(|part| part.puts.len()).collect::<Vec<_>>(),
            [RUNS_PER_TRANSACTION, RUNS_PER_TRANSACTION, 1]
        );
        assert!(parts[0].cleared && !parts[1].cleared && !parts[2].cleared);
        assert_eq!(parts[0].deletes, ["d"]);
        assert!(parts[1].deletes.is_empty() && parts[2].cold_puts.is_empty());
        assert_eq!(parts[0].cold_puts.len(), 1);
        assert!(parts[0].manifest.is_none() && parts[1].manifest.is_none());
        assert!(parts[2].manifest.is_some());
        assert_eq!(steps(&save_of(0)), 1, "the manifest alone is one step");
    }

    #[test]
    fn a_failed_step_puts_back_its_runs_and_the_later_ones() {
        let save = save_of(RUNS_PER_TRANSACTION + 2);
        let first = unwritten(&save, 0);
        assert_eq!(first.ids.len(), RUNS_PER_TRANSACTION + 2 + 2);
        assert!(first.cleared && first.ids.contains("d") && first.ids.contains("c"));
        let second = unwritten(&save, 1);
        assert_eq!(
            second,
            changes(
                &[
                    &format!("p{RUNS_PER_TRANSACTION}"),
                    &format!("p{}", RUNS_PER_TRANSACTION + 1)
                ],
                false
            ),
            "the first step committed: its runs, deletes and clear are written"
        );
    }
}
