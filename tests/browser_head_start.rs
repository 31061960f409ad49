//! The head start (`history-head-start.js`, inlined into the app's
//! `index.html`) in headless Chromium: run as the page runs it, before the
//! persistence starts, on the app's own database name. The persistence takes
//! over its connection and first screen (and opens no database of its own),
//! keeps saving through it, and ignores it where it does not fit: no database
//! yet, or a script that read something else.
#![cfg(target_arch = "wasm32")]

mod support;

use prompt_runs::persist::{HistoryPlace, StorageKeys, DATABASE_VERSION};
use support::eventually;
use support::history::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The script as index.html inlines it.
const SCRIPT: &str = include_str!("../history-head-start.js");

/// The app's database (the default keys), emptied of anything an earlier
/// test left.
async fn the_apps_history() -> StorageKeys {
    let keys = StorageKeys::default();
    remove_local_keys(keys.prefix());
    delete_database(keys.prefix()).await;
    keys
}

/// Runs `script` as the page would, then counts the page's own calls to
/// `indexedDB.open` from here on (see [`opens`]).
fn run_head_start(script: &str) {
    js_sys::eval(script).expect("the head start runs");
    js_sys::eval(
        "window.__opens = 0; \
         if (!window.__open) window.__open = IDBFactory.prototype.open; \
         IDBFactory.prototype.open = function (...args) { window.__opens += 1; return window.__open.apply(this, args); };",
    )
    .unwrap();
}

/// How many databases the page opened since [`run_head_start`].
fn opens() -> f64 {
    js_sys::eval("window.__opens").unwrap().as_f64().unwrap()
}

fn head_start() -> JsValue {
    js_sys::Reflect::get(&web_sys::window().unwrap(), &"__promptRunsHeadStart".into()).unwrap()
}

/// A page of the app's history, once its first screen is shown.
async fn first_screen(keys: &StorageKeys) -> Page {
    let page = Page::open(options(keys));
    let store = page.store;
    eventually("the first screen is shown", move || {
        !store.runs().is_empty()
    })
    .await;
    page
}

#[wasm_bindgen_test]
fn the_script_reads_the_apps_database_at_this_builds_version() {
    let database = format!("const database = '{}';", StorageKeys::default().prefix());
    let version = format!("const version = {DATABASE_VERSION};");
    assert!(SCRIPT.contains(&database), "the script opens {database}");
    assert!(SCRIPT.contains(&version), "the script opens {version}");
    assert!(
        SCRIPT.contains("const newest = 20;"),
        "the script reads as many runs as HistoryOptions shows first by default"
    );
}

#[wasm_bindgen_test]
async fn the_history_starts_from_what_the_head_start_read_and_saves_through_its_connection() {
    let keys = the_apps_history().await;
    saved_history(&keys, 50).await;

    run_head_start(SCRIPT);
    let page = first_screen(&keys).await;
    let store = page.store;
    assert!(head_start().is_undefined(), "taken once, by this page");
    assert_eq!(store.run_count(), 50, "the counts come from the manifest");
    assert_eq!(ids(&store)[..2], ["r000049", "r000048"]);
    let status = page.history.status();
    eventually("the history is loaded", move || status.is_loaded()).await;
    assert_eq!(
        ids(&store),
        ids_of(&history(50)),
        "newest first, none twice"
    );
    assert_eq!(page.history.status().place(), HistoryPlace::IndexedDb);
    assert_eq!(opens(), 0.0, "the page used the head start's connection");

    // Saving goes through the connection taken over.
    page.store.add_run(run("new", 1_800_000_000_000)).unwrap();
    page.saved().await;
    assert_eq!(page.store.error(), None);
    page.close();
    let reloaded = Page::loaded(options(&keys)).await;
    assert_eq!(reloaded.store.run_count(), 51);
    assert_eq!(ids(&reloaded.store)[0], "new");
    reloaded.close();
}

#[wasm_bindgen_test]
async fn where_the_browser_has_no_get_all_records_the_head_start_reads_by_cursor() {
    let keys = the_apps_history().await;
    saved_history(&keys, 30).await;

    js_sys::eval(
        "window.__getAllRecords = IDBIndex.prototype.getAllRecords; \
         delete IDBIndex.prototype.getAllRecords;",
    )
    .unwrap();
    run_head_start(SCRIPT);
    let page = first_screen(&keys).await;
    let store = page.store;
    // Only now: the script looks for it once the database has opened.
    js_sys::eval("IDBIndex.prototype.getAllRecords = window.__getAllRecords;").unwrap();
    assert_eq!(ids(&store)[..3], ["r000029", "r000028", "r000027"]);
    let status = page.history.status();
    eventually("the history is loaded", move || status.is_loaded()).await;
    assert_eq!(ids(&store), ids_of(&history(30)));
    assert_eq!(opens(), 0.0, "the page used the head start's connection");
    page.close();
}

#[wasm_bindgen_test]
async fn without_a_database_yet_the_head_start_creates_nothing_and_the_app_does() {
    let keys = the_apps_history().await;
    run_head_start(SCRIPT);
    let result = js_sys::Reflect::get(&head_start(), &"result".into()).unwrap();
    let result = JsFuture::from(result.unchecked_into::<js_sys::Promise>())
        .await
        .unwrap();
    assert!(result.is_null(), "it aborted the database's creation");

    let page = Page::loaded(options(&keys)).await;
    assert_eq!(page.history.status().place(), HistoryPlace::IndexedDb);
    assert!(page.store.runs().is_empty());
    assert_eq!(opens(), 1.0, "the app opened (and created) it itself");
    page.store.add_run(run("first", 1_800_000_000_000)).unwrap();
    page.saved().await;
    page.close();
    let reloaded = Page::loaded(options(&keys)).await;
    assert_eq!(ids(&reloaded.store), ["first"]);
    reloaded.close();
}

#[wasm_bindgen_test]
async fn a_head_start_that_read_something_else_is_closed_and_ignored() {
    let keys = the_apps_history().await;
    saved_history(&keys, 30).await;

    // Another build's script: it reads 5 runs where this persistence shows 20.
    let other = SCRIPT.replace("const newest = 20;", "const newest = 5;");
    assert_ne!(other, SCRIPT);
    run_head_start(&other);
    let page = Page::loaded(options(&keys)).await;
    assert!(head_start().is_undefined());
    assert_eq!(opens(), 1.0, "the app opened the database itself");
    assert_eq!(ids(&page.store), ids_of(&history(30)));
    assert_eq!(page.store.error(), None);
    page.close();
}

fn ids_of(runs: &[prompt_runs::model::PromptRun]) -> Vec<String> {
    runs.iter().map(|run| run.id.clone()).collect()
}
