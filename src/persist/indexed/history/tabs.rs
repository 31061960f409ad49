//! Other tabs: announcing saves, taking in theirs, and giving way to
//! another tab's upgrade or deletion of the database.

use super::HistoryPersistence;
use crate::persist::indexed::database::RunDatabase;
use crate::persist::indexed::idb::DbError;
use leptos::prelude::set_timeout;
use leptos::task::spawn_local;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

impl HistoryPersistence {
    /// Tells other tabs which runs this save wrote.
    pub(super) fn announce(&self, ids: &BTreeSet<String>, cleared: bool) {
        if let Some(channel) = &self.inner.channel {
            // [cleared, id…]: a plain array, no JSON to write or parse.
            let message = js_sys::Array::of1(&cleared.into());
            for id in ids {
                message.push(&id.into());
            }
            let _ = channel.post_message(&message);
        }
    }

    pub(super) fn listen_to_other_tabs(&self) {
        let Some(channel) = &self.inner.channel else {
            return;
        };
        let history = self.clone();
        let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let message = event
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|event| event.data().dyn_into::<js_sys::Array>().ok())
                .map(|message| TabMessage {
                    cleared: message.get(0).is_truthy(),
                    saved: message
                        .iter()
                        .skip(1)
                        .filter_map(|id| id.as_string())
                        .collect(),
                });
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
                let unsaved = inner.store.unsaved_ids();
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
    pub(super) fn watch_version_changes(&self, db: &RunDatabase) {
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

    pub(super) fn close_db(&self) {
        let db = self.inner.db.borrow_mut().take();
        if let Some(db) = db {
            db.connection().set_onversionchange(None);
            db.close();
        }
        let mut state = self.inner.state.borrow_mut();
        state.generation += 1;
        state.save.close();
    }

    /// Opens the database again after a `versionchange`. A newer version
    /// means a newer build took over: stop. A database created anew means
    /// it was deleted: save everything this page holds into it again.
    pub(super) async fn reopen(self) {
        let inner = &self.inner;
        if inner.store.is_disposed() {
            return;
        }
        let factory = match inner.options.factory() {
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
                    state.save.open();
                    if created {
                        // Everything held goes back in; runs never loaded are lost.
                        state.save.write_again(inner.store.runs_untracked().iter().map(|run| run.id.clone()));
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

    pub(super) fn detach(&self) {
        if let Some(channel) = &self.inner.channel {
            channel.set_onmessage(None);
            channel.close();
        }
        self.stop_sync();
        self.close_db();
        self.inner.listeners.borrow_mut().clear();
    }
}

/// What a tab announces after each committed save.
struct TabMessage {
    saved: Vec<String>,
    cleared: bool,
}
