//! Saving: coalesced, one transaction per step, retried on failure, and
//! kept in localStorage when the page closes before it commits. What each
//! round writes is decided in `save_state.rs`; here it is read from the
//! store and written.

use super::save_state::{self, Changes, Round, Start, StoreNow};
use super::{HistoryPersistence, HistoryPlace};
use crate::persist::indexed::database::{DatabaseManifest, RunDatabase, Save};
use crate::persist::indexed::idb::{DbError, Durability};
use crate::persist::local::layout::encode_run;
use crate::persist::local::StorageBackend;
use leptos::prelude::{set_timeout, GetUntracked, Set};
use leptos::task::spawn_local;
use std::collections::BTreeSet;
use std::time::Duration;

impl HistoryPersistence {
    /// Asks for a save after the debounce; any number of requests make one.
    pub(super) fn request_save(&self) {
        if !self.inner.state.borrow_mut().save.ask() {
            return;
        }
        let history = self.clone();
        set_timeout(
            move || spawn_local(history.save()),
            self.inner.options.debounce,
        );
    }

    /// Saves without waiting for the debounce (the page is being hidden).
    pub(super) fn save_soon(&self) {
        if self.inner.state.borrow().save.is_open() {
            spawn_local(self.clone().save());
        }
    }

    /// Writes what changed, one transaction per round; changes made while a
    /// round is written make another round.
    pub(super) async fn save(self) {
        let inner = &self.inner;
        if inner.state.borrow_mut().save.start() != Start::Begin || inner.store.is_disposed() {
            return;
        }
        loop {
            let Some(db) = inner.db.borrow().clone() else {
                break;
            };
            let Some((Round { changes, manifest }, clears_spill)) = self.begin_round() else {
                break;
            };
            let save = self.read_round(&changes, manifest.clone());
            let written = write_in_steps(&db, &save).await;
            let again = inner.state.borrow_mut().save.end_round(match &written {
                Ok(()) => Ok(manifest),
                Err(failure) => Err(failure.unwritten.clone()),
            });
            match written {
                Ok(()) => self.committed(changes, save.outbox, clears_spill),
                Err(failure) => {
                    self.failed(changes.ids, failure);
                    break;
                }
            }
            if !again {
                break;
            }
        }
    }

    /// The next round, from what the store journaled since the last, or
    /// `None` when there is nothing to write; and whether what was kept in
    /// localStorage at `pagehide` is to go once it commits.
    fn begin_round(&self) -> Option<(Round, bool)> {
        let store = self.inner.store;
        let unsaved = store.take_unsaved();
        let journaled = Changes {
            ids: unsaved.ids,
            cleared: unsaved.cleared,
        };
        // The stored active run, until its chunk loads and it is restored,
        // is still the active run: a save meanwhile that wrote none would
        // lose it if the page closed first.
        let pending = self.inner.state.borrow().pending_active.clone();
        let now = StoreNow {
            loading: store.is_loading_history_untracked(),
            active_run_id: store.active_run_id_untracked().or(pending),
            summary: store.history_summary_untracked(),
        };
        let mut state = self.inner.state.borrow_mut();
        let round = state.save.begin_round(journaled, now)?;
        Some((round, state.spilled))
    }

    /// A round committed: other tabs and the server sync hear of it, the
    /// localStorage manifest counts the runs, a save error shown goes.
    fn committed(&self, Changes { ids, cleared }: Changes, outbox: bool, clears_spill: bool) {
        let inner = &self.inner;
        let runs_now = inner.store.history_summary_untracked().runs();
        self.announce(&ids, cleared);
        if outbox && (cleared || !ids.is_empty()) {
            self.note_unsynced(ids.len().max(1) as u64);
            self.wake_sync();
        }
        let all_saved =
            inner.state.borrow().save.failed_runs() == 0 && inner.store.unsaved_ids().is_empty();
        // The manifest counts committed runs: counted while more still wait in
        // memory (an import added during this round), a reload before the next
        // round would find fewer runs than it says. A history found missing
        // keeps its count (and the warning on every start) until as many runs
        // are back.
        let missing = inner.status.missing_runs.get_untracked();
        if all_saved && missing.is_none_or(|missing| runs_now >= missing) {
            inner.status.missing_runs.set(None);
            self.write_local_manifest(Some(runs_now));
        }
        self.clear_shown_error();
        if clears_spill && all_saved {
            self.forget_spill(&ids);
        }
    }

    /// A step of the round with runs `ids` failed: the steps before it are
    /// announced, the error is shown, and saving is tried again later
    /// rather than in a loop.
    fn failed(&self, mut ids: BTreeSet<String>, StepFailure { error, unwritten }: StepFailure) {
        ids.retain(|id| !unwritten.ids.contains(id));
        if !ids.is_empty() {
            self.announce(&ids, false);
        }
        let unsaved = self.inner.state.borrow().save.failed_runs();
        self.show_error(match error {
            DbError::QuotaExceeded => format!(
                "Browser storage is full: {unsaved} run(s) are not saved yet. Back up (Export JSON), then remove old runs to make room; everything saved before is intact."
            ),
            error => format!("Runs could not be saved ({error}); {unsaved} run(s) exist only in this page. Saving is tried again."),
        });
        let history = self.clone();
        set_timeout(move || history.request_save(), Duration::from_secs(2));
    }

    /// The save of a round: its runs as the store holds them (a cold one
    /// written from its stored copy), the deletes, and `manifest`.
    fn read_round(&self, changes: &Changes, manifest: DatabaseManifest) -> Save {
        let store = self.inner.store;
        Save {
            cleared: changes.cleared,
            puts: changes
                .ids
                .iter()
                .filter(|id| !store.is_run_cold_untracked(id))
                .filter_map(|id| store.get_run_untracked(id))
                .collect(),
            cold_puts: changes
                .ids
                .iter()
                .filter(|id| store.is_run_cold_untracked(id))
                .filter_map(|id| store.get_run_untracked(id))
                .collect(),
            deletes: changes
                .ids
                .iter()
                .filter(|id| store.get_run_untracked(id).is_none())
                .cloned()
                .collect(),
            manifest: Some(manifest),
            outbox: self.is_syncing(),
        }
    }

    /// Copies what is not committed yet to localStorage, synchronously: the
    /// page may be closing, and an IndexedDB transaction still running then
    /// may never commit. The next start moves it into the database.
    pub(super) fn keep_unsaved(&self) {
        let inner = &self.inner;
        let Some(local) = &inner.local else {
            return;
        };
        if inner.store.is_disposed() {
            return;
        }
        let keys = &inner.options.keys;
        let mut uncommitted = {
            let state = inner.state.borrow();
            if state.save.is_stopped()
                || inner.status.place.get_untracked() != HistoryPlace::IndexedDb
            {
                return;
            }
            state.save.uncommitted()
        };
        uncommitted.ids.extend(inner.store.unsaved_ids());
        uncommitted.cleared |= inner.store.is_cleared_unsaved();
        if uncommitted.is_empty() {
            return;
        }
        let Changes { ids, cleared } = uncommitted;
        let mut removed = Vec::new();
        for id in ids {
            match inner.store.get_run_untracked(&id) {
                // A cold run's copy here lacks its text: written out, it would
                // replace the whole one. (A change to it made in the last
                // moment before closing is lost; its text is not.)
                Some(_) if inner.store.is_run_cold_untracked(&id) => {}
                Some(run) => {
                    let _ = local.set(&keys.run(&id), &encode_run(&run));
                }
                None => removed.push(id),
            }
        }
        if !removed.is_empty() {
            let text = serde_json::to_string(&removed).expect("ids always serialize");
            let _ = local.set(&keys.unsaved_removals(), &text);
        }
        if cleared {
            let _ = local.set(&keys.unsaved_clear(), "");
        }
        inner.state.borrow_mut().spilled = true;
    }

    /// Everything kept at `pagehide` is now committed: remove it from
    /// localStorage again (the page lives on, e.g. back from the back-forward cache).
    pub(super) fn forget_spill(&self, saved: &BTreeSet<String>) {
        let inner = &self.inner;
        inner.state.borrow_mut().spilled = false;
        if let Some(local) = &inner.local {
            let keys = &inner.options.keys;
            for id in saved {
                let _ = local.remove(&keys.run(id));
            }
            let _ = local.remove(&keys.unsaved_removals());
            let _ = local.remove(&keys.unsaved_clear());
        }
    }
}

/// What a save that failed part-way did not write.
struct StepFailure {
    error: DbError,
    unwritten: Changes,
}

/// Writes `save` in steps (see [`save_state::step`]), letting the page
/// paint between them.
async fn write_in_steps(db: &RunDatabase, save: &Save) -> Result<(), StepFailure> {
    let steps = save_state::steps(save);
    for step in 0..steps {
        if let Err(error) = db
            .write(&save_state::step(save, step), Durability::Default)
            .await
        {
            return Err(StepFailure {
                error,
                unwritten: save_state::unwritten(save, step),
            });
        }
        if step + 1 < steps {
            gloo_timers::future::TimeoutFuture::new(0).await;
        }
    }
    Ok(())
}
