//! Wiring persistence into a page: save on every change (coalesced), flush
//! when the page is hidden or left, and follow other tabs' `storage` events.

use super::backend::{StorageBackend, StorageError};
use super::local_storage::LocalStorageBackend;
use super::persistence::{PersistOptions, Persistence};
use crate::store::RunsStore;
use leptos::prelude::*;

/// Restores `store` from localStorage and keeps it saved there for as long as
/// the current reactive owner lives, following what other tabs save. When
/// localStorage cannot be used at all, the store shows why and keeps its runs
/// in memory.
///
/// ```no_run
/// use prompt_runs::persist::{persist_to_local_storage, PersistOptions};
/// use prompt_runs::store::provide_runs_store;
///
/// let store = provide_runs_store();
/// let _persistence = persist_to_local_storage(store, PersistOptions::default());
/// ```
pub fn persist_to_local_storage(
    store: RunsStore,
    options: PersistOptions,
) -> Result<Persistence, StorageError> {
    let backend = LocalStorageBackend::new().inspect_err(|error| {
        store.report_background_error(format!("Runs will not be saved: {error}."));
    })?;
    let watched = backend.storage().clone();
    let persistence = persist_in_page(store, backend, options);
    follow_other_tabs(&persistence, watched);
    Ok(persistence)
}

/// Like [`persist_to_local_storage`] with any backend, minus following other
/// tabs (only localStorage has `storage` events): restores `store`, saves its
/// changes coalesced, and saves at once when the page is hidden or left.
pub fn persist_in_page(
    store: RunsStore,
    backend: impl StorageBackend + 'static,
    options: PersistOptions,
) -> Persistence {
    let persistence = Persistence::attach(store, backend, options);
    // Effects need the browser executor; mounting sets it, but persistence may
    // be attached before the app is mounted. Setting it twice is refused harmlessly.
    let _ = any_spawner::Executor::init_wasm_bindgen();

    // One effect reads what is saved; Leptos runs it once per batch of
    // synchronous changes, and `request_save` coalesces further up to the
    // debounce, so 1,000 updates in one task make one save.
    let on_change = persistence.clone();
    Effect::new(move |_| {
        store.runs();
        store.active_run_id();
        on_change.request_save();
    });

    let on_leave = persistence.clone();
    let pagehide_listener = window_event_listener(leptos::ev::pagehide, move |_| {
        let _ = on_leave.save_now();
    });
    let on_hide = persistence.clone();
    let visibility_listener = window_event_listener_untyped("visibilitychange", move |_| {
        let hidden = web_sys::window()
            .and_then(|window| window.document())
            .is_some_and(|document| {
                document.visibility_state() == web_sys::VisibilityState::Hidden
            });
        if hidden {
            let _ = on_hide.save_now();
        }
    });
    // Cleanups may be sent across threads in general; this one never leaves
    // the page's thread.
    let on_unmount = send_wrapper::SendWrapper::new(persistence.clone());
    on_cleanup(move || {
        pagehide_listener.remove();
        visibility_listener.remove();
        let _ = on_unmount.save_now();
    });
    persistence
}

/// Merges what other tabs write to `watched` into the store.
fn follow_other_tabs(persistence: &Persistence, watched: web_sys::Storage) {
    let keys = persistence.storage_keys().clone();
    let from_other_tabs = persistence.clone();
    let storage_listener =
        window_event_listener(leptos::ev::storage, move |event: web_sys::StorageEvent| {
            let same_area = event.storage_area().is_some_and(|area| area == watched);
            let key = event.key();
            if same_area && key.as_deref().is_none_or(|key| keys.owns(key)) {
                from_other_tabs.apply_storage_change(key.as_deref(), event.new_value().as_deref());
            }
        });
    on_cleanup(move || storage_listener.remove());
}
