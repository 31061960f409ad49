//! Opening the history: the database, what moves in from localStorage, the
//! first screen, the older runs in the background, and the localStorage
//! fallback.

use super::head_start::{self, HeadStart};
use super::{HistoryPersistence, HistoryPlace};
use crate::model::runs_json::settle_interrupted;
use crate::persist::indexed::database::{Chunk, FirstScreen, OrderKey, RunDatabase, Unreadable};
use crate::persist::indexed::idb::{DbError, Durability};
use crate::persist::local::layout::{Manifest, INDEXED_DB_SCHEMA_VERSION, SCHEMA_VERSION};
use crate::persist::local::{
    persist_to_local_storage, restore_for_indexed_db, PersistOptions, StorageBackend,
};
use crate::store::HistorySummary;
use leptos::prelude::*;
use leptos::reactive::owner::WeakOwner;
use std::rc::Rc;

impl HistoryPersistence {
    /// Opens the database, moves in what localStorage holds, shows the first
    /// screen and loads the rest.
    pub(super) async fn open(self) {
        let inner = &self.inner;
        let keys = inner.options.keys.clone();
        let manifest = self.local_manifest();
        if manifest.schema > INDEXED_DB_SCHEMA_VERSION {
            return self.stop(format!(
                "Saved history was written by a newer version of prompt-runs (storage schema {}, this version knows {INDEXED_DB_SCHEMA_VERSION}). It was left untouched and nothing will be saved; open the newer version to see it.",
                manifest.schema
            ));
        }
        // The page's own IndexedDB may have been opened already by the
        // head start in index.html; a database given in the options never is.
        let head_start = match inner.options.factory {
            None => head_start::take(keys.prefix(), inner.options.first_screen).await,
            Some(_) => None,
        };
        let (db, created, read_first) = match head_start {
            Some(HeadStart { db, first }) => (db, false, first),
            None => {
                let factory = match inner.options.factory() {
                    Ok(factory) => factory,
                    Err(error) => return self.fall_back(error, &manifest),
                };
                match RunDatabase::open(&factory, keys.prefix()).await {
                    Ok((db, created)) => (db, created, None),
                    Err(DbError::Newer(version)) => {
                        return self.stop(format!(
                            "Saved history was written by a newer version of prompt-runs (database version {version}, this version knows {}). It was left untouched and nothing will be saved; open the newer version to see it.",
                            crate::persist::DATABASE_VERSION
                        ))
                    }
                    Err(error) => return self.fall_back(error, &manifest),
                }
            }
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
        // What the head start read is the first screen unless runs moved in
        // since (they are not in it, nor in the manifest's counts).
        let read_first = read_first.filter(|_| !moved_in);
        self.show_first_screen(&db, &manifest, created, moved_in, read_first)
            .await;
    }

    /// Merges what localStorage holds (an older layout's history, or what a
    /// page closed mid-save left) into the database, checks it is there, then
    /// removes it from localStorage. Returns whether anything moved in.
    pub(super) async fn move_in(
        &self,
        db: &RunDatabase,
        manifest: &Manifest,
    ) -> Result<bool, String> {
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
        let removed: Vec<String> = local
            .get(&keys.unsaved_removals())
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let cleared = local.get(&keys.unsaved_clear()).ok().flatten().is_some();
        let first_move = manifest.schema < INDEXED_DB_SCHEMA_VERSION;
        let nothing_to_move = restored.runs.is_empty() && removed.is_empty() && !cleared;
        if nothing_to_move && !first_move {
            return Ok(false);
        }
        let failed = |error: DbError| {
            format!("The history saved in localStorage could not be moved into IndexedDB ({error}); it stays where it is and will be moved on the next start.")
        };
        if !nothing_to_move {
            db.merge(&restored.runs, &removed, cleared, Durability::Strict)
                .await
                .map_err(failed)?;
            let stored = db.ids().await.map_err(failed)?;
            let missing = restored
                .runs
                .iter()
                .filter(|run| !stored.contains(&run.id))
                .count();
            let kept = removed.iter().filter(|id| stored.contains(*id)).count();
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
        let _ = local.remove(&keys.unsaved_clear());
        Ok(!restored.runs.is_empty())
    }

    pub(super) async fn show_first_screen(
        &self,
        db: &Rc<RunDatabase>,
        manifest: &Manifest,
        created: bool,
        moved_in: bool,
        read_first: Option<FirstScreen>,
    ) {
        let inner = &self.inner;
        // Runs moved in since the last save are not in the manifest's summary.
        let read = match read_first {
            Some(first) => Ok(first),
            None => db.first_screen(inner.options.first_screen, moved_in).await,
        };
        let first = match read {
            Ok(first) => first,
            Err(error) => {
                return self.stop(format!("Saved history could not be read ({error}); this page keeps runs in memory only and will not write to storage."));
            }
        };
        let stored = first.manifest.clone().unwrap_or_default();
        let generation = {
            let mut state = inner.state.borrow_mut();
            state.save.set_last_backup(stored.last_backup);
            state.pending_active = stored.active_run_id.clone();
            state.manifest_runs = manifest.runs;
            state.save.open();
            state.generation
        };
        inner.status.last_backup.set(stored.last_backup);

        let counted = manifest.runs.unwrap_or(0);
        let nothing_stored = first.newest.runs.is_empty() && first.newest.unreadable.is_empty();
        let evicted = manifest.schema == INDEXED_DB_SCHEMA_VERSION
            && counted > 0
            && nothing_stored
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

        // The summary counts and sums every stored run as of the last save:
        // the first screen shows the whole history's figures from it. When it
        // cannot be trusted (none yet, runs moved in since) the runs were
        // counted instead, and the other totals are known once all are loaded.
        // (Should it be off by another tab's save, the loaded runs replace it
        // once all are in.)
        let known = match first.counted {
            Some(_) => None,
            None => stored.summary,
        };
        inner
            .state
            .borrow_mut()
            .save
            .read_manifest(first.manifest.clone(), known.is_some());
        let summary = known.unwrap_or_else(|| HistorySummary::counting(first.counted.unwrap_or(0)));
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
        // Older runs only once the newest are on screen: decoding the first
        // chunk before the browser paints would hold that paint back.
        after_next_paint().await;
        self.load_older(next, generation).await;
    }

    /// Loads the runs after `next`, chunk by chunk, letting the page paint
    /// and respond between chunks.
    pub(super) async fn load_older(&self, mut next: Option<OrderKey>, generation: u32) {
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
                    // Past the newest runs, only what the index and the
                    // cards need stays in memory.
                    let warm = inner
                        .options
                        .warm_runs
                        .saturating_sub(inner.store.runs_untracked().len());
                    inner.store.load_older_runs(runs, warm);
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

    pub(super) fn restore_active_run(&self) {
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

    pub(super) async fn back_up_unreadable(&self, db: &RunDatabase, unreadable: Vec<Unreadable>) {
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

    /// IndexedDB cannot be used: keep the history in localStorage, unless it
    /// already moved to IndexedDB (then this page keeps runs in memory).
    pub(super) fn fall_back(&self, error: DbError, manifest: &Manifest) {
        let inner = &self.inner;
        if manifest.schema == INDEXED_DB_SCHEMA_VERSION {
            return self.stop(format!(
                "Your history is kept in IndexedDB, which this browser will not open right now ({error}). New runs are kept in this page only; export them before closing it."
            ));
        }
        debug_assert!(manifest.schema <= SCHEMA_VERSION);
        inner.state.borrow_mut().save.stop();
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
        inner.store.finish_loading_history();
        inner.status.loaded.set(true);
    }
}

/// Resolves once the browser has painted the next frame (an animation frame
/// comes just before a paint, and a task queued from it runs after), or
/// after 100 ms: a tab in the background gets no frames, and its history
/// must load all the same.
async fn after_next_paint() {
    let frame = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(&resolve);
        }
    });
    let painted = wasm_bindgen_futures::JsFuture::from(frame);
    let hidden = gloo_timers::future::TimeoutFuture::new(100);
    futures::future::select(painted, hidden).await;
    gloo_timers::future::TimeoutFuture::new(0).await;
}
