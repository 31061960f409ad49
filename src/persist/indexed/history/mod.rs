//! The app's persistence: the whole history in IndexedDB, shown newest first
//! at once and loaded in the background, saved one transaction per coalesced
//! change, followed across tabs, and moved in from localStorage without loss.
//!
//! [`persist_history`] wires it up; docs/storage.md ("Where the history is kept")
//! says why it is built this way, and the engine's module doc
//! (`persist/indexed/mod.rs`) which file holds what.
//!
//! - **Start**: the newest runs, the history's counts and totals (kept in the
//!   database's manifest) and the active run are read in one transaction, so
//!   the first screen costs the same with 100 runs or 100,000; older runs
//!   follow in chunks, between which the page paints and answers input.
//!   In the app, that first read is begun by `index.html` while the wasm
//!   loads, and taken over here (`head_start`).
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
//!   ([`persist_to_local_storage`](crate::persist::persist_to_local_storage)), with a notice.

mod experiments;
mod export;
mod head_start;
mod open;
mod save;
mod save_state;
// Keeping the history on a server talks HTTP: only with the client.
#[cfg(feature = "client")]
mod server;
mod sync_state;
mod tabs;

pub use experiments::{ExperimentsError, SavedExperiments};
pub use export::ExportFormat;
#[cfg(feature = "client")]
pub use server::SyncTarget;
pub use sync_state::SyncState;

use super::database::{BackupRecord, RunDatabase};
use super::idb::{self, DbError};
use crate::model::Timestamp;
use crate::persist::local::layout::{Manifest, StorageKeys, INDEXED_DB_SCHEMA_VERSION};
use crate::persist::local::{LocalStorageBackend, StorageBackend};
use crate::store::{NoticeSource, RunsStore};
use leptos::prelude::*;
use leptos::reactive::owner::WeakOwner;
use leptos::task::spawn_local;
use save_state::SaveState;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;

/// How the history is persisted by [`persist_history`].
#[derive(Clone)]
pub struct HistoryOptions {
    keys: StorageKeys,
    debounce: Duration,
    first_screen: usize,
    chunk: usize,
    warm_runs: usize,
    factory: Option<web_sys::IdbFactory>,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            keys: StorageKeys::default(),
            debounce: Duration::from_millis(100),
            first_screen: 20,
            chunk: 1_000,
            warm_runs: 2_000,
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

    /// How many of the newest runs are read before anything else (default 20:
    /// more cards than a tall screen shows; the rest follow in chunks).
    pub fn first_screen(mut self, runs: usize) -> Self {
        self.first_screen = runs.max(1);
        self
    }

    /// How many older runs are read per step in the background (default 1,000).
    pub fn chunk(mut self, runs: usize) -> Self {
        self.chunk = runs.max(1);
        self
    }

    /// How many of the newest runs keep their whole text in memory when the
    /// history loads (default 2,000); older ones are held cold, their text
    /// read back when opened (see [`RunsStore::is_run_cold`]). Memory then
    /// grows with the number of runs, not with every answer ever received.
    pub fn warm_runs(mut self, runs: usize) -> Self {
        self.warm_runs = runs;
        self
    }

    /// The IndexedDB to use instead of the page's, e.g. a storage bucket's.
    pub fn indexed_db(mut self, factory: web_sys::IdbFactory) -> Self {
        self.factory = Some(factory);
        self
    }

    /// The IndexedDB to open: the one given, or the page's.
    fn factory(&self) -> Result<web_sys::IdbFactory, DbError> {
        self.factory.clone().map(Ok).unwrap_or_else(idb::factory)
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
    sync: RwSignal<SyncState>,
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

    /// How the history stands with the server it is kept on (see
    /// [`HistoryPersistence::sync_with`]).
    pub fn sync_state(&self) -> SyncState {
        self.sync.get()
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
    local: Option<LocalStorageBackend>,
    db: RefCell<Option<Rc<RunDatabase>>>,
    state: RefCell<State>,
    channel: Option<web_sys::BroadcastChannel>,
    /// Kept alive with the attachment: the handlers listening for other tabs
    /// and for `versionchange`.
    listeners: RefCell<Vec<Listener>>,
    /// The server the history is kept on too, if any.
    #[cfg(feature = "client")]
    sync: RefCell<server::SyncSlot>,
    /// Where the localStorage fallback attaches its effects. Weak: a strong
    /// owner here would keep the page's owner, and so this attachment,
    /// alive for ever.
    owner: Option<WeakOwner>,
}

/// What the attachment keeps track of as it works.
#[derive(Default)]
struct State {
    /// The save: whether the database may be written, the save's phase,
    /// what failed, the manifest as last written.
    save: SaveState,
    /// Unsaved changes were copied to localStorage at `pagehide`.
    spilled: bool,
    /// Bumped whenever loading must stop (database closed or reopened).
    generation: u32,
    /// The run count the localStorage manifest holds.
    manifest_runs: Option<u64>,
    /// The active run to restore once it is loaded (it may be an older one).
    pending_active: Option<String>,
}

/// Restores `store` from IndexedDB and keeps it saved there for as long as
/// the current reactive owner lives (docs/storage.md, "Where the history
/// is kept", says how). The newest runs and the history's totals appear first;
/// older runs load in the background (`store.history_loading()`). When
/// IndexedDB cannot be used, the history is kept in localStorage instead,
/// with a notice.
///
/// ```no_run
/// use prompt_runs::persist::{persist_history, HistoryOptions};
/// use prompt_runs::store::provide_runs_store;
///
/// let store = provide_runs_store();
/// let history = persist_history(store, HistoryOptions::default());
/// ```
pub fn persist_history(store: RunsStore, options: HistoryOptions) -> HistoryPersistence {
    // Runs made before the database answers are journaled, then saved; and
    // until it answers the history is "opening", not empty.
    store.start_journal();
    store.begin_opening_history();
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
                sync: RwSignal::new(SyncState::Off),
            },
            local: LocalStorageBackend::new().ok(),
            db: RefCell::new(None),
            state: RefCell::new(State::default()),
            channel,
            listeners: RefCell::new(Vec::new()),
            #[cfg(feature = "client")]
            sync: RefCell::new(server::SyncSlot::default()),
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
    // An opened run shows its whole text: a cold one (and its batch,
    // compared side by side) is warmed from storage.
    let on_open = history.clone();
    Effect::new(move |_| {
        let Some(id) = store.active_run_id() else {
            return;
        };
        if store.is_run_cold(&id) {
            let mut ids = vec![id.clone()];
            ids.extend(
                store
                    .batch_runs(&id)
                    .iter()
                    .map(|run| run.id.clone())
                    .filter(|other| *other != id),
            );
            spawn_local(on_open.clone().warm(ids));
        }
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
    // Back online: a waiting sync tries at once rather than after its backoff.
    let on_online = history.clone();
    let online = window_event_listener_untyped("online", move |_| on_online.wake_sync());
    let on_unmount = send_wrapper::SendWrapper::new(history.clone());
    on_cleanup(move || {
        pagehide.remove();
        visibility.remove();
        online.remove();
        on_unmount.keep_unsaved();
        on_unmount.detach();
    });

    spawn_local(history.clone().open());
    history
}

/// Provides `history` to the current component's descendants (as
/// [`HistoryStorage`](crate::components::HistoryStorage) finds it) and returns it.
pub fn provide_history(history: HistoryPersistence) -> HistoryPersistence {
    // Context values must be thread-safe; this one lives on the page's one
    // thread, which the wrapper checks.
    provide_context(send_wrapper::SendWrapper::new(history.clone()));
    history
}

/// The history an ancestor provided with [`provide_history`], if any.
pub fn use_history() -> Option<HistoryPersistence> {
    use_context::<send_wrapper::SendWrapper<HistoryPersistence>>().map(|history| (*history).clone())
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

    /// Reads the text of cold runs `ids` back from storage (see
    /// [`RunsStore::is_run_cold`]): for views that need whole runs, such as
    /// an experiment's grid or a diff. Runs not cold are left as they are.
    pub async fn warm(self, ids: Vec<String>) {
        let generation = self.inner.state.borrow().generation;
        let Some(db) = self.current_db(generation) else {
            return;
        };
        let cold: Vec<String> = ids
            .into_iter()
            .filter(|id| self.inner.store.is_run_cold_untracked(id))
            .collect();
        if cold.is_empty() {
            return;
        }
        match db.get(&cold).await {
            Ok(stored) => {
                let runs = stored.into_iter().filter_map(|(_, run)| run?.ok()).collect();
                self.inner.store.warm_runs(runs);
            }
            Err(error) => self.inner.store.report(NoticeSource::History, format!(
                "A run's text could not be read from storage ({error}); its card shows the start of it."
            )),
        }
    }

    /// True when every change is committed to storage: nothing waits to be
    /// saved, is being saved, or failed to save.
    pub fn is_saved(&self) -> bool {
        self.inner.state.borrow().save.is_settled()
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
        self.inner
            .state
            .borrow_mut()
            .save
            .set_last_backup(Some(record));
        self.inner.status.last_backup.set(Some(record));
        self.inner.status.missing_runs.set(None);
        self.save_soon();
    }

    /// The localStorage manifest, or the default when there is none (or it
    /// is unreadable: moving in backs it up).
    pub(super) fn local_manifest(&self) -> Manifest {
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
    pub(super) fn write_local_manifest(&self, runs: Option<u64>) {
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

    /// Nothing will be written: `reason` is shown, runs stay in memory.
    pub(super) fn stop(&self, reason: String) {
        let inner = &self.inner;
        inner.store.finish_loading_history();
        inner.state.borrow_mut().save.stop();
        inner.status.place.set(HistoryPlace::PageOnly);
        inner.status.loaded.set(true);
        inner.store.report(NoticeSource::History, reason);
    }

    pub(super) fn show_error(&self, message: String) {
        self.inner.store.report(NoticeSource::Saving, message);
    }

    /// Clears the save error this attachment showed, once saving works again;
    /// any other message (a run that could not be read, say) stays until dismissed.
    pub(super) fn clear_shown_error(&self) {
        self.inner.store.clear_notice(NoticeSource::Saving);
    }

    /// The database, unless it was closed or reopened since `generation`.
    pub(super) fn current_db(&self, generation: u32) -> Option<Rc<RunDatabase>> {
        let state = self.inner.state.borrow();
        (state.generation == generation)
            .then(|| self.inner.db.borrow().clone())
            .flatten()
    }
}

/// An event handler kept alive as long as the attachment.
type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// Without the HTTP client there is no server to keep the history on: the
/// hooks that saves and tabs call do nothing, and nothing goes to the outbox.
#[cfg(not(feature = "client"))]
impl HistoryPersistence {
    pub(super) fn is_syncing(&self) -> bool {
        false
    }

    pub(super) fn wake_sync(&self) {}

    pub(super) fn note_unsynced(&self, _changes: u64) {}

    pub(super) fn stop_sync(&self) {}
}
