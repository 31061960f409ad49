//! A history page of the browser tests: a store persisted in the real
//! IndexedDB under a prefix of the test's own, with runs to fill it.

use super::eventually;
use super::runs::a_run;
use leptos::prelude::*;
use prompt_runs::model::PromptRun;
use prompt_runs::persist::{persist_history, HistoryOptions, HistoryPersistence, StorageKeys};
use prompt_runs::store::RunsStore;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// How long a burst of changes waits before it is saved, in these tests.
pub const DEBOUNCE: Duration = Duration::from_millis(10);

pub fn local_storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

pub fn indexed_db() -> web_sys::IdbFactory {
    web_sys::window().unwrap().indexed_db().unwrap().unwrap()
}

/// Resolves an IndexedDB request (for the test's own direct use of the database).
pub async fn settle(request: &web_sys::IdbRequest) -> JsValue {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let on_success = {
            let request = request.clone();
            wasm_bindgen::closure::Closure::once_into_js(move || {
                resolve
                    .call1(&JsValue::NULL, &request.result().unwrap())
                    .unwrap();
            })
        };
        request.set_onsuccess(Some(on_success.unchecked_ref()));
        let on_error = wasm_bindgen::closure::Closure::once_into_js(move || {
            reject.call0(&JsValue::NULL).unwrap();
        });
        request.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise).await.expect("the request succeeds")
}

pub async fn delete_database(name: &str) {
    let request = indexed_db().delete_database(name).unwrap();
    settle(&request).await;
}

/// A prefix of the test's own, with any database and localStorage keys
/// left by an earlier run removed.
pub async fn fresh(test: &str) -> StorageKeys {
    let prefix = format!("history-{test}");
    remove_local_keys(&prefix);
    delete_database(&prefix).await;
    StorageKeys::new(prefix)
}

/// Removes the localStorage keys under `prefix` (and `prefix` itself).
pub fn remove_local_keys(prefix: &str) {
    let storage = local_storage();
    let stale: Vec<String> = (0..storage.length().unwrap())
        .filter_map(|index| storage.key(index).unwrap())
        .filter(|key| key == prefix || key.starts_with(&format!("{prefix}:")))
        .collect();
    for key in stale {
        storage.remove_item(&key).unwrap();
    }
}

pub fn options(keys: &StorageKeys) -> HistoryOptions {
    HistoryOptions::default()
        .keys(keys.clone())
        .debounce(DEBOUNCE)
}

pub fn run(id: &str, started_ms: i64) -> PromptRun {
    (a_run(id)
        .model("offline-echo")
        .prompt(format!("prompt {id}")))
    .started_ms(started_ms)
    .answered(format!("answer {id}"))
    .tokens(10)
    .cost(0.001)
    .duration(100)
    .build()
}

/// `count` runs, newest first, started one second apart.
pub fn history(count: usize) -> Vec<PromptRun> {
    (0..count)
        .rev()
        .map(|n| run(&format!("r{n:06}"), 1_700_000_000_000 + n as i64 * 1_000))
        .collect()
}

pub fn ids(store: &RunsStore) -> Vec<String> {
    store.runs().iter().map(|run| run.id.clone()).collect()
}

/// A page: a store persisted with `options`, under an owner of its own.
pub struct Page {
    pub owner: Owner,
    pub store: RunsStore,
    pub history: HistoryPersistence,
}

impl Page {
    pub fn open(options: HistoryOptions) -> Page {
        let owner = Owner::new();
        let (store, history) = owner.with(|| {
            let store = RunsStore::new();
            let history = persist_history(store, options);
            (store, history)
        });
        Page {
            owner,
            store,
            history,
        }
    }

    pub async fn loaded(options: HistoryOptions) -> Page {
        let page = Page::open(options);
        let status = page.history.status();
        eventually("the history is loaded", || status.is_loaded()).await;
        page
    }

    pub async fn saved(&self) {
        let history = self.history.clone();
        eventually("every change is saved", move || history.is_saved()).await;
    }

    /// Leaves the page as a browser tab does when it closes.
    pub fn close(self) {
        let window = web_sys::window().unwrap();
        let _ = window.dispatch_event(&web_sys::Event::new("pagehide").unwrap());
        drop(self.owner);
    }
}

/// A history of `runs` runs (see [`history`]) saved under `keys` by a page
/// that then closed.
pub async fn saved_history(keys: &StorageKeys, runs: usize) {
    let page = Page::loaded(options(keys)).await;
    page.store.merge_runs(history(runs));
    page.saved().await;
    page.close();
}
