//! Keeping storage and the store in step: restore on attach, coalesced saves
//! of only what changed, and changes made by other tabs merged in.

use super::backend::{StorageBackend, StorageError};
use super::layout::{decode_run, encode_run, Manifest, StorageKeys, SCHEMA_VERSION};
use super::restore::restore;
use crate::store::RunsStore;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

/// Runs a save later; persistence calls it at most once per pending save.
pub type Scheduler = Rc<dyn Fn(Box<dyn FnOnce()>)>;

/// How the history is persisted.
#[derive(Clone)]
pub struct PersistOptions {
    keys: StorageKeys,
    debounce: Duration,
    scheduler: Option<Scheduler>,
}

impl Default for PersistOptions {
    fn default() -> Self {
        PersistOptions {
            keys: StorageKeys::default(),
            debounce: Duration::from_millis(100),
            scheduler: None,
        }
    }
}

impl PersistOptions {
    /// Store under other keys (e.g. `StorageKeys::new("my-app-runs")`).
    pub fn keys(mut self, keys: StorageKeys) -> Self {
        self.keys = keys;
        self
    }

    /// How long a burst of changes may last before it is saved (default 100 ms).
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// How a save is deferred. By default a browser timeout of `debounce`;
    /// natively (no event loop) saves happen at once unless one is given.
    pub fn scheduler(mut self, scheduler: Scheduler) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    pub(crate) fn storage_keys(&self) -> &StorageKeys {
        &self.keys
    }

    fn into_scheduler(self) -> Scheduler {
        if let Some(scheduler) = self.scheduler {
            return scheduler;
        }
        #[cfg(target_arch = "wasm32")]
        {
            let debounce = self.debounce;
            Rc::new(move |save: Box<dyn FnOnce()>| leptos::prelude::set_timeout(save, debounce))
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            Rc::new(|save: Box<dyn FnOnce()>| save())
        }
    }
}

/// A store attached to storage. Cheap to clone; clones share the attachment.
#[derive(Clone)]
pub struct Persistence {
    inner: Rc<Inner>,
}

struct Inner {
    store: RunsStore,
    backend: Box<dyn StorageBackend>,
    keys: StorageKeys,
    scheduler: Scheduler,
    state: RefCell<SaveState>,
}

#[derive(Default)]
struct SaveState {
    /// Why nothing may be written, if so.
    read_only: Option<String>,
    /// The manifest as storage holds it.
    stored_manifest: Option<Manifest>,
    /// Runs whose last save failed (or that must be saved anew), retried on the next save.
    retry: BTreeSet<String>,
    save_scheduled: bool,
    /// The error this attachment put in the store, to clear once resolved.
    shown_error: Option<String>,
}

impl Persistence {
    /// Restores `store` from `backend` (replacing its runs) and starts
    /// recording its changes for saving. Problems found on the way are shown
    /// as the store's error; nothing unreadable is lost (see the module docs
    /// of [`crate::persist`]).
    pub fn attach(
        store: RunsStore,
        backend: impl StorageBackend + 'static,
        options: PersistOptions,
    ) -> Persistence {
        let keys = options.storage_keys().clone();
        let restored = restore(&backend, &keys);
        let mut state = SaveState {
            read_only: restored.read_only.clone(),
            ..SaveState::default()
        };
        if restored.read_only.is_none() {
            state.stored_manifest = backend
                .get(&keys.manifest())
                .ok()
                .flatten()
                .and_then(|text| serde_json::from_str(&text).ok());
            if restored.legacy_merged {
                state
                    .retry
                    .extend(restored.runs.iter().map(|run| run.id.clone()));
            }
            store
                .set_runs(restored.runs)
                .expect("restored runs have distinct ids");
            let _ = store.set_active_run(restored.active_run_id.as_deref());
            store.start_journal();
        }
        let persistence = Persistence {
            inner: Rc::new(Inner {
                store,
                backend: Box::new(backend),
                keys,
                scheduler: options.into_scheduler(),
                state: RefCell::new(state),
            }),
        };
        let mut problems = restored.problems;
        problems.extend(restored.read_only);
        if !problems.is_empty() {
            // Not a save error: it stays until the person dismisses it, rather
            // than vanishing with the first save that works.
            store.report_background_error(problems.join(" "));
        }
        persistence
    }

    /// The keys this attachment reads and writes.
    pub fn storage_keys(&self) -> &StorageKeys {
        &self.inner.keys
    }

    /// The store this persists.
    pub fn store(&self) -> RunsStore {
        self.inner.store
    }

    /// True when storage is left untouched (newer schema, unreadable storage).
    pub fn is_read_only(&self) -> bool {
        self.inner.state.borrow().read_only.is_some()
    }

    /// Asks for a save; any number of requests before it runs make one save.
    pub fn request_save(&self) {
        {
            let mut state = self.inner.state.borrow_mut();
            if state.read_only.is_some() || state.save_scheduled {
                return;
            }
            state.save_scheduled = true;
        }
        let persistence = self.clone();
        (self.inner.scheduler)(Box::new(move || {
            let _ = persistence.save_now();
        }));
    }

    /// Writes every run changed since the last save (and the manifest if it
    /// changed), now. Each run is written whole or not at all; a run whose
    /// write fails stays in memory, is retried on the next save, and the
    /// failure is shown as the store's error.
    pub fn save_now(&self) -> Result<(), StorageError> {
        let inner = &self.inner;
        let mut state = inner.state.borrow_mut();
        state.save_scheduled = false;
        // A save scheduled before the app was unmounted has no store to read;
        // unmounting saved what was pending (see `persist_in_page`).
        if state.read_only.is_some() || inner.store.is_disposed() {
            return Ok(());
        }
        let mut ids = std::mem::take(&mut state.retry);
        // Every id of a cleared history is journaled too, and this layout
        // holds no run the store has not loaded, so removing ids clears it.
        ids.extend(inner.store.take_unsaved().ids);
        let mut first_error = None;
        for id in ids {
            let key = inner.keys.run(&id);
            let written = match inner.store.get_run_untracked(&id) {
                Some(run) => inner.backend.set(&key, &encode_run(&run)),
                None => inner.backend.remove(&key),
            };
            if let Err(error) = written {
                state.retry.insert(id);
                first_error.get_or_insert(error);
            }
        }
        let manifest = Manifest {
            schema: SCHEMA_VERSION,
            active_run_id: inner.store.active_run_id_untracked(),
            legacy_imported: true,
            ..Manifest::default()
        };
        // The manifest goes last and only after every run is stored, so it
        // never names an active run that storage does not hold.
        if first_error.is_none() && state.stored_manifest.as_ref() != Some(&manifest) {
            let text = serde_json::to_string(&manifest).expect("a manifest always serializes");
            match inner.backend.set(&inner.keys.manifest(), &text) {
                Ok(()) => state.stored_manifest = Some(manifest),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        let unsaved = state.retry.len();
        drop(state);
        match first_error {
            None => {
                self.clear_shown_error();
                Ok(())
            }
            Some(error) => {
                self.show_error(match &error {
                    StorageError::QuotaExceeded => format!(
                        "Browser storage is full: {unsaved} run(s) are not saved yet. Export your history, then remove old runs to make room; everything saved before is intact."
                    ),
                    StorageError::Unavailable(reason) => {
                        format!("Runs could not be saved ({reason}); {unsaved} run(s) exist only in this page.")
                    }
                });
                Err(error)
            }
        }
    }

    /// Takes in a change another tab made to storage (the `storage` event):
    /// `key` is `None` when that tab cleared all of storage.
    pub fn apply_storage_change(&self, key: Option<&str>, new_value: Option<&str>) {
        let inner = &self.inner;
        let Some(key) = key else {
            // Storage was wiped elsewhere: everything held here is saved anew.
            let ids = inner
                .store
                .runs_untracked()
                .iter()
                .map(|run| run.id.clone())
                .collect::<Vec<_>>();
            let mut state = inner.state.borrow_mut();
            state.stored_manifest = None;
            state.retry.extend(ids);
            drop(state);
            self.request_save();
            return;
        };
        if key == inner.keys.manifest() {
            let manifest = new_value.and_then(|text| serde_json::from_str::<Manifest>(text).ok());
            if let Some(newer) = manifest
                .as_ref()
                .filter(|manifest| manifest.schema > SCHEMA_VERSION)
            {
                let message = format!(
                    "A newer version of prompt-runs (storage schema {}) is open in another tab; this tab stops saving so as not to overwrite its history.",
                    newer.schema
                );
                inner.state.borrow_mut().read_only = Some(message.clone());
                self.show_error(message);
            }
            inner.state.borrow_mut().stored_manifest = manifest;
        } else if let Some(id) = inner.keys.run_id(key) {
            match new_value.map(decode_run) {
                Some(Ok(run)) if run.id == id => {
                    inner.store.merge_saved_run(run);
                }
                Some(_) => {} // Unreadable: the next load backs it up; nothing to merge.
                None => inner.store.forget_saved_run(id),
            }
        }
    }

    fn show_error(&self, message: String) {
        self.inner.store.report_background_error(message.clone());
        self.inner.state.borrow_mut().shown_error = Some(message);
    }

    fn clear_shown_error(&self) {
        let shown = self.inner.state.borrow_mut().shown_error.take();
        if shown.is_some() && self.inner.store.error_untracked() == shown {
            self.inner.store.set_error(None);
        }
    }
}
