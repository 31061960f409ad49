//! The app's persistence: the whole history in IndexedDB, shown newest first
//! at once and loaded in the background, saved one transaction per coalesced
//! change, followed across tabs, and moved in from localStorage without loss.
//!
//! [`persist_history`] wires it up; README.md ("Where the history is kept")
//! says why it is built this way.
//!
//! - **Start**: the newest runs, the history's counts and totals (kept in the
//!   database's manifest) and the active run are read in one transaction, so
//!   the first screen costs the same with 100 runs or 100,000; older runs
//!   follow in chunks, between which the page paints and answers input.
//! - **Saving**: what changed since the last save, in one read-write
//!   transaction with the manifest: all of it or nothing. A failed save keeps
//!   the runs in memory, retries, and says so.
//! - **Closing mid-save**: at `pagehide`, whatever is not committed yet is
//!   also written to localStorage synchronously; the next start moves it in.
//! - **Moving in**: a history in localStorage (this store's earlier layout,
//!   or the TypeScript store's array) is merged into the database in one
//!   durable transaction, checked by id, and only then removed. Interrupted
//!   at any point, the next start does it again, to the same result.
//! - **Tabs**: each committed save is announced on a `BroadcastChannel`;
//!   other tabs read those runs back and merge them by id. A `versionchange`
//!   (another tab upgrading or deleting the database) closes the connection
//!   and reopens it.
//! - **Eviction**: the localStorage manifest counts the stored runs; a
//!   database found empty while it counts some was deleted by the browser,
//!   and the app says so and offers a restore instead of an empty history.
//! - **No IndexedDB**: the history is kept in localStorage instead
//!   ([`persist_to_local_storage`](super::persist_to_local_storage)), with a notice.

use super::database::{
    BackupRecord, Chunk, DatabaseManifest, OrderKey, RunDatabase, Save, Unreadable,
};
use super::idb::{self, DbError, Durability};
use super::layout::{
    encode_run, Manifest, StorageKeys, UnsavedRemovals, INDEXED_DB_SCHEMA_VERSION, SCHEMA_VERSION,
};
use super::restore::restore_for_indexed_db;
use super::runs_json::settle_interrupted;
use super::{persist_to_local_storage, LocalStorage, PersistOptions, StorageBackend};
use crate::model::Timestamp;
use crate::store::{HistorySummary, RunsStore};
use leptos::prelude::*;
use leptos::reactive::owner::WeakOwner;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// How the history is persisted by [`persist_history`].
#[derive(Clone)]
pub struct HistoryOptions {
    keys: StorageKeys,
    debounce: Duration,
    first_screen: usize,
    chunk: usize,
    factory: Option<web_sys::IdbFactory>,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            keys: StorageKeys::default(),
            debounce: Duration::from_millis(100),
            first_screen: 60,
            chunk: 1_000,
            factory: None,
        }
    }
}

impl HistoryOptions {
    /// Keys (and database name) under another prefix than `prompt-runs`.
    pub fn keys(mut self, keys: StorageKeys) -> Self {
        self.keys = keys;
        self
    }

    /// How long a burst of changes may last before it is saved (default 100 ms).
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// How many of the newest runs are read before anything else (default 60:
    /// more than a tall screen shows).
    pub fn first_screen(mut self, runs: usize) -> Self {
        self.first_screen = runs.max(1);
        self
    }

    /// How many older runs are read per step in the background (default 1,000).
    pub fn chunk(mut self, runs: usize) -> Self {
        self.chunk = runs.max(1);
        self
    }

    /// The IndexedDB to use instead of the page's, e.g. a storage bucket's.
    pub fn indexed_db(mut self, factory: web_sys::IdbFactory) -> Self {
        self.factory = Some(factory);
        self
    }
}

/// Where the history is kept, as a person should know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryPlace {
    /// Opening storage.
    Opening,
    /// IndexedDB: no practical limit.
    IndexedDb,
    /// localStorage, because IndexedDB could not be used: about 8,000 runs fit.
    LocalStorage,
    /// Nowhere: runs live in this page only (why is shown as the store's error).
    PageOnly,
}

/// What the app shows about its storage: reactive, shared by the clones of
/// a [`HistoryPersistence`].
#[derive(Clone, Copy)]
pub struct HistoryStatus {
    place: RwSignal<HistoryPlace>,
    loaded: RwSignal<bool>,
    missing_runs: RwSignal<Option<u64>>,
    last_backup: RwSignal<Option<BackupRecord>>,
}

impl HistoryStatus {
    /// Where the history is kept.
    pub fn place(&self) -> HistoryPlace {
        self.place.get()
    }

    /// True once storage is open and every stored run is in the store (or
    /// storage could not be used, which the store's error explains).
    pub fn is_loaded(&self) -> bool {
        self.loaded.get()
    }

    /// When the stored history was found gone (deleted by the browser or with
    /// the site's data): how many runs it held. Cleared by a restore.
    pub fn missing_runs(&self) -> Option<u64> {
        self.missing_runs.get()
    }

    /// The last backup made from this browser.
    pub fn last_backup(&self) -> Option<BackupRecord> {
        self.last_backup.get()
    }
}

/// The history attached to IndexedDB. Cheap to clone; clones share it.
#[derive(Clone)]
pub struct HistoryPersistence {
    inner: Rc<Inner>,
}

struct Inner {
    store: RunsStore,
    options: HistoryOptions,
    status: HistoryStatus,
    local: Option<LocalStorage>,
    db: RefCell<Option<Rc<RunDatabase>>>,
    state: RefCell<SaveState>,
    channel: Option<web_sys::BroadcastChannel>,
    /// Kept alive with the attachment: the handlers listening for other tabs
    /// and for `versionchange`.
    listeners: RefCell<Vec<Listener>>,
    /// Where the localStorage fallback attaches its effects. Weak: a strong
    /// owner here would keep the page's owner, and so this attachment,
    /// alive for ever.
    owner: Option<WeakOwner>,
}

#[derive(Default)]
struct SaveState {
    /// Why nothing may be written, if so.
    read_only: Option<String>,
    /// The database is open and what came from localStorage is in it.
    ready: bool,
    scheduled: bool,
    saving: bool,
    /// Changes arrived while a save was being written.
    again: bool,
    /// Runs (and a clear) whose save failed, or is being written.
    retry: BTreeSet<String>,
    retry_cleared: bool,
    /// What the save being written holds, until it commits.
    writing: BTreeSet<String>,
    writing_cleared: bool,
    /// Unsaved changes were copied to localStorage at `pagehide`.
    spilled: bool,
    /// The save error this attachment shows, to clear once saving works.
    shown_error: Option<String>,
    /// Bumped whenever loading must stop (database closed or reopened).
    generation: u32,
    /// The run count the localStorage manifest holds.
    manifest_runs: Option<u64>,
    last_backup: Option<BackupRecord>,
    /// The database manifest as last written (a save with nothing else to
    /// write and the same manifest writes nothing).
    written_manifest: Option<DatabaseManifest>,
    /// Whether the stored history's totals are known (else only its count
    /// is, until every run is loaded).
    totals_known: bool,
    /// The active run to restore once it is loaded (it may be an older one).
    pending_active: Option<String>,
}

/// Restores `store` from IndexedDB and keeps it saved there for as long as
/// the current reactive owner lives (see the [module docs](self)). The
/// newest runs and the history's totals appear first; older runs load in
/// the background (`store.history_loading()`). When IndexedDB cannot be
/// used, the history is kept in localStorage instead, with a notice.
///
/// ```no_run
/// use prompt_runs::persist::{persist_history, HistoryOptions};
/// use prompt_runs::store::provide_runs_store;
///
/// let store = provide_runs_store();
/// let history = persist_history(store, HistoryOptions::default());
/// ```
pub fn persist_history(store: RunsStore, options: HistoryOptions) -> HistoryPersistence {
    // Runs made before the database answers are journaled, then saved.
    store.start_journal();
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let channel =
        web_sys::BroadcastChannel::new(&format!("{}:history", options.keys.prefix())).ok();
    let history = HistoryPersistence {
        inner: Rc::new(Inner {
            store,
            status: HistoryStatus {
                place: RwSignal::new(HistoryPlace::Opening),
                loaded: RwSignal::new(false),
                missing_runs: RwSignal::new(None),
                last_backup: RwSignal::new(None),
            },
            local: LocalStorage::new().ok(),
            db: RefCell::new(None),
            state: RefCell::new(SaveState::default()),
            channel,
            listeners: RefCell::new(Vec::new()),
            owner: Owner::current().map(|owner| owner.downgrade()),
            options,
        }),
    };

    let on_change = history.clone();
    Effect::new(move |_| {
        store.runs();
        store.active_run_id();
        on_change.request_save();
    });
    history.listen_to_other_tabs();
    let on_leave = history.clone();
    let pagehide = window_event_listener(leptos::ev::pagehide, move |_| on_leave.keep_unsaved());
    let on_hide = history.clone();
    let visibility = window_event_listener_untyped("visibilitychange", move |_| {
        let hidden = document().visibility_state() == web_sys::VisibilityState::Hidden;
        if hidden {
            on_hide.keep_unsaved();
            on_hide.save_soon();
        }
    });
    let on_unmount = send_wrapper::SendWrapper::new(history.clone());
    on_cleanup(move || {
        pagehide.remove();
        visibility.remove();
        on_unmount.keep_unsaved();
        on_unmount.detach();
    });

    spawn_local(history.clone().open());
    history
}

impl HistoryPersistence {
    /// Where the history is kept, eviction, backups: for the app to show.
    pub fn status(&self) -> HistoryStatus {
        self.inner.status
    }

    /// The store this persists.
    pub fn store(&self) -> RunsStore {
        self.inner.store
    }

    /// True when every change is committed to storage: nothing waits to be
    /// saved, is being saved, or failed to save.
    pub fn is_saved(&self) -> bool {
        let state = self.inner.state.borrow();
        !state.scheduled
            && !state.saving
            && state.retry.is_empty()
            && !state.retry_cleared
            && self.inner.store.unsaved_ids().is_empty()
            && !self.inner.store.is_cleared_unsaved()
    }

    /// Notes that the history (of `runs` runs) was just backed up: saved
    /// with the next save, and the reminder starts again.
    pub fn record_backup(&self, runs: u64) {
        let record = BackupRecord {
            at_unix_millis: Timestamp::now().unix_millis().unwrap_or_default(),
            runs,
        };
        self.inner.state.borrow_mut().last_backup = Some(record);
        self.inner.status.last_backup.set(Some(record));
        self.inner.status.missing_runs.set(None);
        self.save_soon();
    }

    /// Opens the database, moves in what localStorage holds, shows the first
    /// screen and loads the rest.
    async fn open(self) {
        let inner = &self.inner;
        let keys = inner.options.keys.clone();
        let manifest = self.local_manifest();
        if manifest.schema > INDEXED_DB_SCHEMA_VERSION {
            return self.stop(format!(
                "Saved history was written by a newer version of prompt-runs (storage schema {}, this version knows {INDEXED_DB_SCHEMA_VERSION}). It was left untouched and nothing will be saved; open the newer version to see it.",
                manifest.schema
            ));
        }
        let factory = match inner
            .options
            .factory
            .clone()
            .map(Ok)
            .unwrap_or_else(idb::factory)
        {
            Ok(factory) => factory,
            Err(error) => return self.fall_back(error, &manifest),
        };
        let (db, created) = match RunDatabase::open(&factory, keys.prefix()).await {
            Ok(opened) => opened,
            Err(DbError::Newer(version)) => {
                return self.stop(format!(
                    "Saved history was written by a newer version of prompt-runs (database version {version}, this version knows {}). It was left untouched and nothing will be saved; open the newer version to see it.",
                    super::database::DATABASE_VERSION
                ))
            }
            Err(error) => return self.fall_back(error, &manifest),
        };
        let db = Rc::new(db);
        self.watch_version_changes(&db);
        *inner.db.borrow_mut() = Some(db.clone());
        inner.status.place.set(HistoryPlace::IndexedDb);

        let moved_in = match self.move_in(&db, &manifest).await {
            Ok(moved) => moved,
            Err(message) => {
                inner.store.report_background_error(message);
                false
            }
        };
        self.show_first_screen(&db, &manifest, created, moved_in)
            .await;
    }

    /// Merges what localStorage holds (an older layout's history, or what a
    /// page closed mid-save left) into the database, checks it is there, then
    /// removes it from localStorage. Returns whether anything moved in.
    async fn move_in(&self, db: &RunDatabase, manifest: &Manifest) -> Result<bool, String> {
        let inner = &self.inner;
        let Some(local) = &inner.local else {
            return Ok(false);
        };
        let keys = &inner.options.keys;
        let restored = restore_for_indexed_db(local, keys);
        if !restored.problems.is_empty() {
            inner
                .store
                .report_background_error(restored.problems.join(" "));
        }
        let removals: UnsavedRemovals = local
            .get(&keys.unsaved_removals())
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let first_move = manifest.schema < INDEXED_DB_SCHEMA_VERSION;
        let nothing_to_move = restored.runs.is_empty() && removals == UnsavedRemovals::default();
        if nothing_to_move && !first_move {
            return Ok(false);
        }
        let failed = |error: DbError| {
            format!("The history saved in localStorage could not be moved into IndexedDB ({error}); it stays where it is and will be moved on the next start.")
        };
        if !nothing_to_move {
            db.merge(
                &restored.runs,
                &removals.removed,
                removals.cleared,
                Durability::Strict,
            )
            .await
            .map_err(failed)?;
            let stored = db.ids().await.map_err(failed)?;
            let missing = restored
                .runs
                .iter()
                .filter(|run| !stored.contains(&run.id))
                .count();
            let kept = removals
                .removed
                .iter()
                .filter(|id| stored.contains(*id))
                .count();
            if missing + kept > 0 {
                return Err(format!(
                    "Moving the history from localStorage into IndexedDB could not be checked ({missing} run(s) missing, {kept} removed run(s) still there); localStorage keeps it and the move is tried again on the next start."
                ));
            }
        }
        // Checked: localStorage may now let go, manifest first (so an older
        // build stops using the old layout), then each moved key.
        self.write_local_manifest(None);
        for run in &restored.runs {
            let _ = local.remove(&keys.run(&run.id));
        }
        let _ = local.remove(&keys.unsaved_removals());
        Ok(!restored.runs.is_empty())
    }

    async fn show_first_screen(
        &self,
        db: &Rc<RunDatabase>,
        manifest: &Manifest,
        created: bool,
        moved_in: bool,
    ) {
        let inner = &self.inner;
        let first = match db.first_screen(inner.options.first_screen).await {
            Ok(first) => first,
            Err(error) => {
                return self.stop(format!("Saved history could not be read ({error}); this page keeps runs in memory only and will not write to storage."));
            }
        };
        let stored = first.manifest.clone().unwrap_or_default();
        let generation = {
            let mut state = inner.state.borrow_mut();
            state.last_backup = stored.last_backup;
            state.pending_active = stored.active_run_id.clone();
            state.manifest_runs = manifest.runs;
            state.ready = true;
            state.generation
        };
        inner.status.last_backup.set(stored.last_backup);

        let counted = manifest.runs.unwrap_or(0);
        let evicted = manifest.schema == INDEXED_DB_SCHEMA_VERSION
            && counted > 0
            && first.stored_runs == 0
            && !moved_in;
        if evicted {
            inner.status.missing_runs.set(Some(counted));
            let how = if created {
                "its database is gone"
            } else {
                "its database is empty"
            };
            inner.store.report_background_error(format!(
                "Your saved history of {counted} run(s) is missing: {how}. The browser may have deleted it to free disk space, or this site's data was cleared. Restore it from a backup file with \"Import JSON\"; nothing else was changed."
            ));
        }

        // The summary counts every stored run as of the last save; when the
        // database holds another number (moved in since, or another tab's
        // save raced it), only the count is known until the runs are loaded.
        let known = stored
            .summary
            .filter(|summary| summary.runs() == first.stored_runs);
        inner.state.borrow_mut().totals_known = known.is_some();
        inner.state.borrow_mut().written_manifest = first.manifest.clone();
        let summary = known.unwrap_or_else(|| HistorySummary::counting(first.stored_runs));
        let Chunk {
            mut runs,
            unreadable,
            next,
        } = first.newest;
        settle_interrupted(&mut runs);
        inner.store.begin_loading_history(runs, summary);
        self.restore_active_run();
        self.back_up_unreadable(db, unreadable).await;
        self.request_save();
        self.load_older(next, generation).await;
    }

    /// Loads the runs after `next`, chunk by chunk, letting the page paint
    /// and respond between chunks.
    async fn load_older(&self, mut next: Option<OrderKey>, generation: u32) {
        let inner = &self.inner;
        while let Some(after) = next.take() {
            gloo_timers::future::TimeoutFuture::new(0).await;
            let Some(db) = self.current_db(generation) else {
                return;
            };
            if !inner.store.is_loading_history_untracked() {
                return; // the history was cleared or replaced meanwhile
            }
            match db.older(&after, inner.options.chunk).await {
                Ok(Chunk {
                    mut runs,
                    unreadable,
                    next: following,
                }) => {
                    settle_interrupted(&mut runs);
                    inner.store.load_older_runs(runs);
                    self.restore_active_run();
                    self.back_up_unreadable(&db, unreadable).await;
                    next = following;
                }
                Err(error) => {
                    inner.store.report_background_error(format!(
                        "Older runs could not be loaded ({error}); they are still stored and will load on the next start."
                    ));
                    break;
                }
            }
        }
        if self.current_db(generation).is_some() {
            inner.store.finish_loading_history();
            inner.status.loaded.set(true);
        }
    }

    fn restore_active_run(&self) {
        let inner = &self.inner;
        let pending = inner.state.borrow().pending_active.clone();
        if let Some(id) = pending {
            let chosen_meanwhile = inner.store.active_run_id_untracked().is_some();
            let loaded = inner.store.get_run_untracked(&id).is_some();
            if chosen_meanwhile || loaded {
                inner.state.borrow_mut().pending_active = None;
            }
            if loaded && !chosen_meanwhile {
                let _ = inner.store.set_active_run(Some(&id));
            }
        }
    }

    async fn back_up_unreadable(&self, db: &RunDatabase, unreadable: Vec<Unreadable>) {
        if unreadable.is_empty() {
            return;
        }
        let message = match db.back_up(&unreadable).await {
            Ok(backups) => unreadable
                .iter()
                .zip(backups)
                .map(|(record, backup)| {
                    format!("Saved run {} could not be read ({}); its data is kept in the database's backups under \"{backup}\".", record.id, record.reason)
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(error) => format!(
                "{} saved run(s) could not be read and could not be backed up ({error}); they were left where they are.",
                unreadable.len()
            ),
        };
        self.inner.store.report_background_error(message);
    }

    /// The database, unless it was closed or reopened since `generation`.
    fn current_db(&self, generation: u32) -> Option<Rc<RunDatabase>> {
        let state = self.inner.state.borrow();
        (state.generation == generation)
            .then(|| self.inner.db.borrow().clone())
            .flatten()
    }

    /// Asks for a save after the debounce; any number of requests make one.
    fn request_save(&self) {
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
    fn save_soon(&self) {
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
    async fn save(self) {
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
                        .filter_map(|id| inner.store.get_run_untracked(id))
                        .collect(),
                    deletes: ids
                        .iter()
                        .filter(|id| inner.store.get_run_untracked(id).is_none())
                        .cloned()
                        .collect(),
                    manifest: Some(manifest),
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
                    let written: BTreeSet<String> = ids.difference(&unwritten).cloned().collect();
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
    fn keep_unsaved(&self) {
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
            let ids: BTreeSet<String> = state.retry.iter().chain(&state.writing).cloned().collect();
            (ids, state.retry_cleared || state.writing_cleared)
        };
        ids.extend(inner.store.unsaved_ids());
        let cleared = cleared || inner.store.is_cleared_unsaved();
        if ids.is_empty() && !cleared {
            return;
        }
        let mut removals = UnsavedRemovals {
            cleared,
            removed: Vec::new(),
        };
        for id in ids {
            match inner.store.get_run_untracked(&id) {
                Some(run) => {
                    let _ = local.set(&keys.run(&id), &encode_run(&run));
                }
                None => removals.removed.push(id),
            }
        }
        if removals != UnsavedRemovals::default() {
            let text = serde_json::to_string(&removals).expect("removals always serialize");
            let _ = local.set(&keys.unsaved_removals(), &text);
        }
        inner.state.borrow_mut().spilled = true;
    }

    /// Everything kept at `pagehide` is now committed: remove it from
    /// localStorage again (the page lives on, e.g. back from the back-forward cache).
    fn forget_spill(&self, saved: &BTreeSet<String>) {
        let inner = &self.inner;
        inner.state.borrow_mut().spilled = false;
        if let Some(local) = &inner.local {
            let keys = &inner.options.keys;
            for id in saved {
                let _ = local.remove(&keys.run(id));
            }
            let _ = local.remove(&keys.unsaved_removals());
        }
    }

    /// The localStorage manifest, or the default when there is none (or it
    /// is unreadable: moving in backs it up).
    fn local_manifest(&self) -> Manifest {
        self.inner
            .local
            .as_ref()
            .and_then(|local| {
                local
                    .get(&self.inner.options.keys.manifest())
                    .ok()
                    .flatten()
            })
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Writes the localStorage manifest of the IndexedDB layout, with the run
    /// count when it changed. A full localStorage only loses the eviction check.
    fn write_local_manifest(&self, runs: Option<u64>) {
        let inner = &self.inner;
        let Some(local) = &inner.local else {
            return;
        };
        let mut state = inner.state.borrow_mut();
        if runs.is_some() && runs == state.manifest_runs {
            return;
        }
        let manifest = Manifest {
            schema: INDEXED_DB_SCHEMA_VERSION,
            active_run_id: None,
            legacy_imported: true,
            store: Some("indexedDB".to_owned()),
            runs: runs.or(state.manifest_runs),
        };
        let text = serde_json::to_string(&manifest).expect("a manifest always serializes");
        if local.set(&inner.options.keys.manifest(), &text).is_ok() {
            state.manifest_runs = manifest.runs;
        }
    }

    /// IndexedDB cannot be used: keep the history in localStorage, unless it
    /// already moved to IndexedDB (then this page keeps runs in memory).
    fn fall_back(&self, error: DbError, manifest: &Manifest) {
        let inner = &self.inner;
        if manifest.schema == INDEXED_DB_SCHEMA_VERSION {
            return self.stop(format!(
                "Your history is kept in IndexedDB, which this browser will not open right now ({error}). New runs are kept in this page only; export them before closing it."
            ));
        }
        debug_assert!(manifest.schema <= SCHEMA_VERSION);
        inner.state.borrow_mut().read_only = Some("kept in localStorage".to_owned());
        inner.status.place.set(HistoryPlace::LocalStorage);
        // Runs made since the page opened would be replaced by the restore:
        // they are merged back in after it.
        let made_here = inner.store.runs_untracked().to_vec();
        let attach = || {
            persist_to_local_storage(
                inner.store,
                PersistOptions::default().keys(inner.options.keys.clone()),
            )
        };
        let attached = match inner.owner.as_ref().and_then(WeakOwner::upgrade) {
            Some(owner) => owner.with(attach),
            None => attach(),
        };
        match attached {
            Ok(_) => {
                inner.store.merge_runs(made_here);
                inner.status.loaded.set(true);
                inner.store.report_background_error(format!(
                    "IndexedDB cannot be used here ({error}), so the history is kept in localStorage, which holds about 8,000 runs. Export it now and then."
                ));
            }
            Err(_) => inner.status.place.set(HistoryPlace::PageOnly),
        }
        inner.status.loaded.set(true);
    }

    /// Nothing will be written: `reason` is shown, runs stay in memory.
    fn stop(&self, reason: String) {
        let inner = &self.inner;
        inner.state.borrow_mut().read_only = Some(reason.clone());
        inner.status.place.set(HistoryPlace::PageOnly);
        inner.status.loaded.set(true);
        inner.store.report_background_error(reason);
    }

    fn show_error(&self, message: String) {
        self.inner.store.report_background_error(message.clone());
        self.inner.state.borrow_mut().shown_error = Some(message);
    }

    /// Clears the save error this attachment showed, once saving works again;
    /// any other message (a run that could not be read, say) stays until dismissed.
    fn clear_shown_error(&self) {
        let shown = self.inner.state.borrow_mut().shown_error.take();
        if shown.is_some() && self.inner.store.error_untracked() == shown {
            self.inner.store.set_error(None);
        }
    }

    /// Tells other tabs which runs this save wrote.
    fn announce(&self, ids: &BTreeSet<String>, cleared: bool) {
        if let Some(channel) = &self.inner.channel {
            let message = TabMessage {
                saved: ids.iter().cloned().collect(),
                cleared,
            };
            let text = serde_json::to_string(&message).expect("a message always serializes");
            let _ = channel.post_message(&text.into());
        }
    }

    fn listen_to_other_tabs(&self) {
        let Some(channel) = &self.inner.channel else {
            return;
        };
        let history = self.clone();
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let message = event
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|event| event.data().as_string())
                .and_then(|text| serde_json::from_str::<TabMessage>(&text).ok());
            if let Some(message) = message {
                spawn_local(history.clone().take_in(message));
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        self.inner.listeners.borrow_mut().push(on_message);
    }

    /// Reads back what another tab saved and merges it in by id.
    async fn take_in(self, message: TabMessage) {
        let inner = &self.inner;
        let generation = inner.state.borrow().generation;
        let Some(db) = self.current_db(generation) else {
            return;
        };
        if inner.store.is_disposed() {
            return;
        }
        let stored = match db.get(&message.saved).await {
            Ok(stored) => stored,
            Err(_) => return, // the next announcement, or the next start, brings them
        };
        for (id, run) in stored {
            match run {
                Some(Ok(run)) => {
                    inner.store.merge_saved_run(run);
                }
                Some(Err(_)) => {} // unreadable: the next start backs it up
                None => inner.store.forget_saved_run(&id),
            }
        }
        if message.cleared {
            // The other tab cleared the history: runs it never loaded are gone
            // too. Keep only what is stored, and what this tab has not saved yet.
            if let Ok(ids) = db.ids().await {
                let unsaved: BTreeSet<String> = inner.store.unsaved_ids().into_iter().collect();
                let gone: Vec<String> = inner
                    .store
                    .runs_untracked()
                    .iter()
                    .map(|run| run.id.clone())
                    .filter(|id| !ids.contains(id) && !unsaved.contains(id))
                    .collect();
                for id in gone {
                    inner.store.forget_saved_run(&id);
                }
                inner.store.finish_loading_history();
            }
        }
    }

    /// Another tab wants to upgrade (or delete) the database: close it so as
    /// not to block that tab, then open it again.
    fn watch_version_changes(&self, db: &RunDatabase) {
        let history = self.clone();
        let on_version_change = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            history.close_db();
            let history = history.clone();
            set_timeout(
                move || spawn_local(history.reopen()),
                Duration::from_millis(50),
            );
        });
        db.connection()
            .set_onversionchange(Some(on_version_change.as_ref().unchecked_ref()));
        self.inner.listeners.borrow_mut().push(on_version_change);
    }

    fn close_db(&self) {
        let db = self.inner.db.borrow_mut().take();
        if let Some(db) = db {
            db.connection().set_onversionchange(None);
            db.close();
        }
        let mut state = self.inner.state.borrow_mut();
        state.generation += 1;
        state.ready = false;
    }

    /// Opens the database again after a `versionchange`. A newer version
    /// means a newer build took over: stop. A database created anew means
    /// it was deleted: save everything this page holds into it again.
    async fn reopen(self) {
        let inner = &self.inner;
        if inner.store.is_disposed() {
            return;
        }
        let factory = match inner.options.factory.clone().map(Ok).unwrap_or_else(idb::factory) {
            Ok(factory) => factory,
            Err(error) => return self.stop(format!("The history's database closed and cannot be opened again ({error}); runs are kept in this page only.")),
        };
        match RunDatabase::open(&factory, inner.options.keys.prefix()).await {
            Ok((db, created)) => {
                let db = Rc::new(db);
                self.watch_version_changes(&db);
                *inner.db.borrow_mut() = Some(db);
                let loading = inner.store.is_loading_history_untracked();
                {
                    let mut state = inner.state.borrow_mut();
                    state.ready = true;
                    if created {
                        // Everything held goes back in; runs never loaded are lost.
                        state.retry.extend(inner.store.runs_untracked().iter().map(|run| run.id.clone()));
                    }
                }
                if created {
                    inner.store.finish_loading_history();
                    let held = inner.store.runs_untracked().len();
                    let lost = if loading { " Older runs that were not loaded yet are lost: restore them from a backup with \"Import JSON\"." } else { "" };
                    inner.store.report_background_error(format!(
                        "The history's database was deleted while the app was open (by the browser or another tab); the {held} run(s) this page holds were saved again.{lost}"
                    ));
                }
                self.request_save();
            }
            Err(DbError::Newer(version)) => self.stop(format!(
                "A newer version of prompt-runs (database version {version}) is open in another tab; this tab stops saving so as not to overwrite its history. Reload it to use the newer version."
            )),
            Err(error) => self.stop(format!("The history's database closed and cannot be opened again ({error}); runs are kept in this page only.")),
        }
    }

    fn detach(&self) {
        if let Some(channel) = &self.inner.channel {
            channel.set_onmessage(None);
            channel.close();
        }
        self.close_db();
        self.inner.listeners.borrow_mut().clear();
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
        };
        if let Err(error) = db.write(&part, Durability::Default).await {
            let unwritten_puts = save
                .puts
                .iter()
                .skip(step * RUNS_PER_TRANSACTION)
                .map(|run| run.id.clone());
            let unwritten_deletes = save.deletes.iter().filter(|_| first).cloned();
            return Err(StepFailure {
                error,
                unwritten: unwritten_puts.chain(unwritten_deletes).collect(),
                cleared: part.cleared,
            });
        }
        if !last {
            gloo_timers::future::TimeoutFuture::new(0).await;
        }
    }
    Ok(())
}

/// An event handler kept alive as long as the attachment.
type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// What a tab announces after each committed save.
#[derive(serde::Serialize, serde::Deserialize)]
struct TabMessage {
    saved: Vec<String>,
    cleared: bool,
}
