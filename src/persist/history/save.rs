//! Saving: coalesced, one transaction per step, retried on failure, and
//! kept in localStorage when the page closes before it commits.

use super::*;

impl HistoryPersistence {
    /// Asks for a save after the debounce; any number of requests make one.
    pub(super) fn request_save(&self) {
        {
            let mut state = self.inner.state.borrow_mut();
            if state.read_only.is_some() || !state.ready || state.scheduled {
                return;
            }
            state.scheduled = true;
        }
        let history = self.clone();
        set_timeout(
            move || spawn_local(history.save()),
            self.inner.options.debounce,
        );
    }

    /// Saves without waiting for the debounce (the page is being hidden).
    pub(super) fn save_soon(&self) {
        let ready = {
            let state = self.inner.state.borrow();
            state.ready && state.read_only.is_none()
        };
        if ready {
            spawn_local(self.clone().save());
        }
    }

    /// Writes what changed, one transaction per round; changes made while a
    /// round is written make another round.
    pub(super) async fn save(self) {
        let inner = &self.inner;
        {
            let mut state = inner.state.borrow_mut();
            state.scheduled = false;
            if state.saving {
                state.again = true;
                return;
            }
            if state.read_only.is_some() || !state.ready || inner.store.is_disposed() {
                return;
            }
            state.saving = true;
        }
        loop {
            let Some(db) = inner.db.borrow().clone() else {
                break;
            };
            let (save, ids, cleared, clears_spill) = {
                let unsaved = inner.store.take_unsaved();
                let mut state = inner.state.borrow_mut();
                let mut ids = std::mem::take(&mut state.retry);
                ids.extend(unsaved.ids);
                let cleared = std::mem::take(&mut state.retry_cleared) || unsaved.cleared;
                // Totals are known once every run is in, or a cleared history
                // starts from nothing.
                if cleared || !inner.store.is_loading_history_untracked() {
                    state.totals_known = true;
                }
                let manifest = DatabaseManifest {
                    active_run_id: inner.store.active_run_id_untracked(),
                    summary: state
                        .totals_known
                        .then(|| inner.store.history_summary_untracked()),
                    last_backup: state.last_backup,
                };
                if ids.is_empty() && !cleared && state.written_manifest.as_ref() == Some(&manifest)
                {
                    break;
                }
                state.writing = ids.clone();
                state.writing_cleared = cleared;
                let save = Save {
                    cleared,
                    puts: ids
                        .iter()
                        .filter(|id| !inner.store.is_run_cold_untracked(id))
                        .filter_map(|id| inner.store.get_run_untracked(id))
                        .collect(),
                    cold_puts: ids
                        .iter()
                        .filter(|id| inner.store.is_run_cold_untracked(id))
                        .filter_map(|id| inner.store.get_run_untracked(id))
                        .collect(),
                    deletes: ids
                        .iter()
                        .filter(|id| inner.store.get_run_untracked(id).is_none())
                        .cloned()
                        .collect(),
                    manifest: Some(manifest),
                    outbox: self.is_syncing(),
                };
                (save, ids, cleared, state.spilled)
            };
            let written = write_in_steps(&db, &save).await;
            let runs_now = inner.store.history_summary_untracked().runs();
            {
                let mut state = inner.state.borrow_mut();
                state.writing.clear();
                state.writing_cleared = false;
                if let Err(failure) = &written {
                    state.retry.extend(failure.unwritten.iter().cloned());
                    state.retry_cleared |= failure.cleared;
                }
            }
            match written {
                Ok(()) => {
                    inner.state.borrow_mut().written_manifest = save.manifest;
                    self.announce(&ids, cleared);
                    if save.outbox && (cleared || !ids.is_empty()) {
                        self.note_unsynced(ids.len().max(1) as u64);
                        self.wake_sync();
                    }
                    // A history found missing keeps its count (and the warning
                    // on every start) until as many runs are back.
                    let missing = inner.status.missing_runs.get_untracked();
                    if missing.is_none_or(|missing| runs_now >= missing) {
                        inner.status.missing_runs.set(None);
                        self.write_local_manifest(Some(runs_now));
                    }
                    self.clear_shown_error();
                    let all_saved = inner.state.borrow().retry.is_empty()
                        && inner.store.unsaved_ids().is_empty();
                    if clears_spill && all_saved {
                        self.forget_spill(&ids);
                    }
                }
                Err(StepFailure {
                    error, unwritten, ..
                }) => {
                    let mut written = ids.clone();
                    written.retain(|id| !unwritten.contains(id));
                    if !written.is_empty() {
                        self.announce(&written, false);
                    }
                    let unsaved = inner.state.borrow().retry.len();
                    self.show_error(match error {
                        DbError::QuotaExceeded => format!(
                            "Browser storage is full: {unsaved} run(s) are not saved yet. Back up (Export JSON), then remove old runs to make room; everything saved before is intact."
                        ),
                        error => format!("Runs could not be saved ({error}); {unsaved} run(s) exist only in this page. Saving is tried again."),
                    });
                    // Try again later rather than in a loop.
                    let history = self.clone();
                    set_timeout(move || history.request_save(), Duration::from_secs(2));
                    break;
                }
            }
            let mut state = inner.state.borrow_mut();
            if !std::mem::take(&mut state.again) {
                break;
            }
        }
        inner.state.borrow_mut().saving = false;
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
        let (mut ids, cleared) = {
            let state = inner.state.borrow();
            if state.read_only.is_some()
                || inner.status.place.get_untracked() != HistoryPlace::IndexedDb
            {
                return;
            }
            let mut ids = state.retry.clone();
            ids.extend(state.writing.iter().cloned());
            (ids, state.retry_cleared || state.writing_cleared)
        };
        ids.extend(inner.store.unsaved_ids());
        let cleared = cleared || inner.store.is_cleared_unsaved();
        if ids.is_empty() && !cleared {
            return;
        }
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

/// Runs written per transaction. A larger save (an import) is written in
/// steps, between which the page paints and answers input: one transaction
/// of 100,000 runs would hold the page for seconds. Each step is whole or
/// nothing; the manifest goes with the last.
const RUNS_PER_TRANSACTION: usize = 2_000;

/// What a save that failed part-way did not write.
struct StepFailure {
    error: DbError,
    unwritten: BTreeSet<String>,
    cleared: bool,
}

async fn write_in_steps(db: &RunDatabase, save: &Save) -> Result<(), StepFailure> {
    let steps = save.puts.len().div_ceil(RUNS_PER_TRANSACTION).max(1);
    for step in 0..steps {
        let (first, last) = (step == 0, step + 1 == steps);
        let puts = save
            .puts
            .iter()
            .skip(step * RUNS_PER_TRANSACTION)
            .take(RUNS_PER_TRANSACTION);
        let part = Save {
            cleared: first && save.cleared,
            puts: puts.cloned().collect(),
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
        };
        if let Err(error) = db.write(&part, Durability::Default).await {
            let unwritten_puts = save
                .puts
                .iter()
                .skip(step * RUNS_PER_TRANSACTION)
                .map(|run| run.id.clone());
            let unwritten_deletes = save
                .deletes
                .iter()
                .chain(save.cold_puts.iter().map(|run| &run.id))
                .filter(|_| first)
                .cloned();
            let mut unwritten = BTreeSet::new();
            for id in unwritten_puts.chain(unwritten_deletes) {
                unwritten.insert(id);
            }
            return Err(StepFailure {
                error,
                unwritten,
                cleared: part.cleared,
            });
        }
        if !last {
            gloo_timers::future::TimeoutFuture::new(0).await;
        }
    }
    Ok(())
}
