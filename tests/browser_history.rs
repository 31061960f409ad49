//! The history in the real IndexedDB of headless Chromium: round trip, the
//! first screen before the older runs, moving in from localStorage (and
//! resuming it), a page closed before its save, two tabs, and the faults
//! persistence must survive without losing a run.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus};
use prompt_runs::persist::{persist_to_local_storage, ExportFormat, HistoryPlace, PersistOptions};
use prompt_runs::store::RunsStore;
use support::history::*;
use support::{eventually, sleep};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn runs_saved_in_one_page_load_in_the_next_newest_first() {
    let keys = fresh("round-trip").await;
    let page = Page::loaded(options(&keys)).await;
    assert_eq!(page.history.status().place(), HistoryPlace::IndexedDb);
    for run in history(3).into_iter().rev() {
        page.store.add_run(run).unwrap();
    }
    page.store.set_active_run(Some("r000001")).unwrap();
    page.saved().await;
    page.close();

    let reloaded = Page::open(options(&keys));
    assert!(
        untrack(|| reloaded.store.history_loading()).is_some(),
        "until storage answers the history is opening, not empty"
    );
    let status = reloaded.history.status();
    eventually("the history is loaded", move || status.is_loaded()).await;
    assert_eq!(untrack(|| reloaded.store.history_loading()), None);
    assert_eq!(ids(&reloaded.store), ["r000002", "r000001", "r000000"]);
    assert_eq!(reloaded.store.active_run_id().as_deref(), Some("r000001"));
    assert_eq!(reloaded.store.error(), None);
    let manifest = local_storage().get_item(&keys.manifest()).unwrap().unwrap();
    assert!(
        manifest.contains("\"schema\":2") && manifest.contains("\"runs\":3"),
        "{manifest}"
    );
}

#[wasm_bindgen_test]
async fn the_first_screen_shows_the_whole_historys_totals_before_older_runs_load() {
    let keys = fresh("first-screen").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(500));
    page.saved().await;
    page.close();

    let page = Page::open(options(&keys).first_screen(20).chunk(100));
    let store = page.store;
    eventually("the first screen is shown", move || {
        !store.runs().is_empty()
    })
    .await;
    // Whenever it is first seen: the newest 20, then whole chunks of 100,
    // and counts and totals of all 500 from the start.
    let loading = store
        .history_loading()
        .expect("older runs are still loading");
    assert_eq!(loading.total, 500);
    assert!(
        loading.loaded < 500 && loading.loaded % 100 == 20,
        "{loading:?}"
    );
    assert_eq!(store.runs().len(), loading.loaded);
    assert_eq!(store.run_count(), 500);
    assert_eq!(
        store.total_tokens_used(),
        5_000,
        "totals cover every stored run"
    );
    assert_eq!(store.history_summary().count(RunStatus::Success), 500);
    assert_eq!(ids(&store)[..2], ["r000499", "r000498"]);

    eventually("every run is loaded", move || {
        store.history_loading().is_none()
    })
    .await;
    assert!(page.history.status().is_loaded());
    let loaded = ids(&store);
    assert_eq!(loaded.len(), 500);
    let expected: Vec<String> = history(500).into_iter().map(|run| run.id).collect();
    assert_eq!(loaded, expected, "newest first, no run twice");
    assert_eq!(store.total_tokens_used(), 5_000);
    page.close();
}

#[wasm_bindgen_test]
async fn a_localstorage_history_moves_into_indexeddb_checked_then_removed() {
    let keys = fresh("move-in").await;
    // An earlier build kept three runs in localStorage.
    let old = Owner::new();
    let old_store = old.with(RunsStore::new);
    old.with(|| {
        let options = PersistOptions::default()
            .keys(keys.clone())
            .debounce(DEBOUNCE);
        persist_to_local_storage(old_store, options).unwrap();
        for run in history(3).into_iter().rev() {
            old_store.add_run(run).unwrap();
        }
    });
    sleep(100).await;
    drop(old);
    assert!(local_storage()
        .get_item(&keys.run("r000000"))
        .unwrap()
        .is_some());

    let page = Page::loaded(options(&keys)).await;
    assert_eq!(ids(&page.store), ["r000002", "r000001", "r000000"]);
    assert_eq!(page.store.error(), None);
    for id in ["r000000", "r000001", "r000002"] {
        assert_eq!(
            local_storage().get_item(&keys.run(id)).unwrap(),
            None,
            "{id} left localStorage"
        );
    }
    let manifest = local_storage().get_item(&keys.manifest()).unwrap().unwrap();
    assert!(
        manifest.contains("\"schema\":2"),
        "an older build now leaves it alone: {manifest}"
    );
    page.close();
}

#[wasm_bindgen_test]
async fn the_typescript_stores_array_moves_in_once_and_is_never_changed() {
    let keys = fresh("legacy").await;
    let legacy = serde_json::to_string(&[run("b", 2_000), run("a", 1_000)]).unwrap();
    local_storage().set_item(&keys.legacy(), &legacy).unwrap();

    let page = Page::loaded(options(&keys)).await;
    assert_eq!(ids(&page.store), ["b", "a"]);
    page.store.remove_run("a").unwrap();
    page.saved().await;
    page.close();

    let again = Page::loaded(options(&keys)).await;
    assert_eq!(ids(&again.store), ["b"], "a removed run stays removed");
    again.close();
    assert_eq!(
        local_storage().get_item(&keys.legacy()).unwrap().as_deref(),
        Some(legacy.as_str())
    );
}

#[wasm_bindgen_test]
async fn a_move_interrupted_after_the_database_write_resumes_to_the_same_history() {
    let keys = fresh("move-resume").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(2));
    page.saved().await;
    page.close();
    // As if the tab closed after the database write, before localStorage was
    // cleaned up: the old manifest and run keys are still there.
    let storage = local_storage();
    storage
        .set_item(&keys.manifest(), "{\"schema\":1,\"legacyImported\":true}")
        .unwrap();
    for run in history(2) {
        storage
            .set_item(&keys.run(&run.id), &serde_json::to_string(&run).unwrap())
            .unwrap();
    }

    let resumed = Page::loaded(options(&keys)).await;
    assert_eq!(ids(&resumed.store), ["r000001", "r000000"], "each run once");
    assert_eq!(storage.get_item(&keys.run("r000000")).unwrap(), None);
    assert!(storage
        .get_item(&keys.manifest())
        .unwrap()
        .unwrap()
        .contains("\"schema\":2"));
    resumed.close();
}

#[wasm_bindgen_test]
async fn a_page_closed_before_its_save_loses_nothing() {
    let keys = fresh("closed-early").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(2));
    page.saved().await;
    // These changes wait for a save that never comes: the page closes at once.
    page.store.add_run(run("late", 1_800_000_000_000)).unwrap();
    page.store.remove_run("r000000").unwrap();
    page.close();

    let reopened = Page::loaded(options(&keys)).await;
    assert_eq!(ids(&reopened.store), ["late", "r000001"]);
    assert_eq!(reopened.store.error(), None);
    assert_eq!(
        local_storage().get_item(&keys.run("late")).unwrap(),
        None,
        "moved into the database"
    );
    assert_eq!(
        local_storage().get_item(&keys.unsaved_removals()).unwrap(),
        None
    );
    reopened.close();
}

#[wasm_bindgen_test]
async fn two_tabs_saving_at_once_both_keep_every_run() {
    let keys = fresh("two-tabs").await;
    let one = Page::loaded(options(&keys)).await;
    let two = Page::loaded(options(&keys)).await;
    for n in 0..5 {
        one.store
            .add_run(run(&format!("one-{n}"), 1_000 + n))
            .unwrap();
        two.store
            .add_run(run(&format!("two-{n}"), 2_000 + n))
            .unwrap();
    }
    let (a, b) = (one.store, two.store);
    eventually("each tab has the other's runs", move || {
        a.runs().len() == 10 && b.runs().len() == 10
    })
    .await;
    one.saved().await;
    two.saved().await;
    let sorted = |store: &RunsStore| {
        let mut ids = ids(store);
        ids.sort();
        ids
    };
    assert_eq!(sorted(&one.store), sorted(&two.store));
    one.close();
    two.close();
    let third = Page::loaded(options(&keys)).await;
    assert_eq!(third.store.run_count(), 10);
    third.close();
}

#[wasm_bindgen_test]
async fn a_corrupt_record_costs_one_run_kept_in_a_backup_and_the_warning_stays() {
    let keys = fresh("corrupt").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(3));
    page.saved().await;
    page.close();
    let damaged = "{\"id\": \"r000001\", \"status\": ";
    let record = js_sys::Object::new();
    for (field, value) in [
        ("id", JsValue::from_str("r000001")),
        ("startedAt", JsValue::from_f64(1_700_000_001_000.0)),
        ("modelId", JsValue::from_str("offline-echo")),
        ("status", JsValue::from_str("success")),
        ("run", JsValue::from_str(damaged)),
    ] {
        js_sys::Reflect::set(&record, &field.into(), &value).unwrap();
    }
    raw_put(keys.prefix(), "runs", &record, None).await;

    let page = Page::loaded(options(&keys)).await;
    assert_eq!(ids(&page.store), ["r000002", "r000000"]);
    let error = page.store.error().expect("the damage is reported");
    assert!(
        error.contains("Saved run r000001 could not be read") && error.contains("backups"),
        "{error}"
    );
    let backups = raw_get_all(keys.prefix(), "backups").await;
    assert_eq!(backups.length(), 1);
    let kept = js_sys::Reflect::get(&backups.get(0), &"run".into()).unwrap();
    assert_eq!(
        kept.as_string().as_deref(),
        Some(damaged),
        "the original, byte for byte"
    );

    // Saving works, and the warning is still there for the person to read.
    page.store.add_run(run("after", 1_800_000_000_000)).unwrap();
    page.saved().await;
    sleep(200).await;
    assert_eq!(page.store.error(), Some(error));
    page.close();
}

#[wasm_bindgen_test]
async fn a_database_of_a_newer_version_is_left_untouched() {
    let keys = fresh("newer").await;
    let request = indexed_db().open_with_u32(keys.prefix(), 7).unwrap();
    let db: web_sys::IdbDatabase = settle(&request).await.unchecked_into();
    db.close();

    let page = Page::loaded(options(&keys)).await;
    assert_eq!(page.history.status().place(), HistoryPlace::PageOnly);
    let error = page.store.error().expect("a message");
    assert!(
        error.contains("newer version of prompt-runs") && error.contains("untouched"),
        "{error}"
    );
    page.store.add_run(run("kept-in-memory", 1)).unwrap();
    sleep(100).await;
    assert_eq!(page.store.run_count(), 1);
    page.close();

    let request = indexed_db().open(keys.prefix()).unwrap();
    let db: web_sys::IdbDatabase = settle(&request).await.unchecked_into();
    assert_eq!(db.version(), 7.0);
    assert_eq!(
        db.object_store_names().length(),
        0,
        "nothing was created in it"
    );
    db.close();
}

#[wasm_bindgen_test]
async fn without_indexeddb_the_history_is_kept_in_localstorage_with_a_notice() {
    let keys = fresh("no-indexeddb").await;
    hide_indexed_db(true);
    let page = Page::loaded(options(&keys)).await;
    let place = page.history.status().place();
    let error = page.store.error();
    page.store.add_run(run("local", 1_700_000_000_000)).unwrap();
    sleep(200).await;
    let stored = local_storage().get_item(&keys.run("local")).unwrap();
    page.close();
    hide_indexed_db(false);

    assert_eq!(place, HistoryPlace::LocalStorage);
    let error = error.expect("a notice");
    assert!(
        error.contains("IndexedDB cannot be used here") && error.contains("localStorage"),
        "{error}"
    );
    assert!(stored.is_some(), "the run was saved in localStorage");
    // With IndexedDB back, the next start moves the run in.
    let page = Page::loaded(options(&keys)).await;
    assert_eq!(ids(&page.store), ["local"]);
    assert_eq!(local_storage().get_item(&keys.run("local")).unwrap(), None);
    page.close();
}

#[wasm_bindgen_test]
async fn a_full_quota_aborts_the_save_whole_and_keeps_what_was_saved() {
    let keys = fresh("quota").await;
    let bucket = storage_bucket("history-quota-test", 1_000_000).await;
    delete_database_in(&bucket, keys.prefix()).await;
    let options = options(&keys).indexed_db(bucket.clone());
    let page = Page::loaded(options.clone()).await;
    page.store.merge_runs(history(3));
    page.saved().await;

    let big: Vec<PromptRun> = (0..40)
        .map(|n| {
            let mut run = run(&format!("big-{n}"), 1_800_000_000_000 + n);
            run.output = Some(incompressible(100_000, n as u64));
            run
        })
        .collect();
    page.store.merge_runs(big);
    let store = page.store;
    eventually("the full quota is reported", move || {
        store
            .error()
            .is_some_and(|error| error.contains("storage is full"))
    })
    .await;
    assert_eq!(page.store.run_count(), 43, "the runs stay in memory");
    assert!(!page.history.is_saved());
    page.close();

    let reopened = Page::loaded(options).await;
    assert_eq!(
        ids(&reopened.store),
        ["r000002", "r000001", "r000000"],
        "the failed save wrote nothing"
    );
    reopened.close();
    delete_database_in(&bucket, keys.prefix()).await;
}

#[wasm_bindgen_test]
async fn a_full_localstorage_does_not_stop_the_history() {
    let keys = fresh("full-local").await;
    let filled = fill_local_storage();
    let page = Page::loaded(options(&keys)).await;
    for n in 0..5 {
        page.store
            .add_run(run(&format!("r{n}"), 1_000 + n))
            .unwrap();
    }
    page.saved().await;
    let error = page.store.error();
    page.close();
    let reopened = Page::loaded(options(&keys)).await;
    let count = reopened.store.run_count();
    reopened.close();
    for key in filled {
        local_storage().remove_item(&key).unwrap();
    }
    assert_eq!(error, None);
    assert_eq!(count, 5);
}

#[wasm_bindgen_test]
async fn a_database_deleted_while_the_app_is_open_gets_its_runs_back() {
    let keys = fresh("deleted-open").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(3));
    page.saved().await;
    delete_database(keys.prefix()).await;
    let store = page.store;
    eventually("the deletion is reported", move || {
        store
            .error()
            .is_some_and(|error| error.contains("deleted while the app was open"))
    })
    .await;
    page.saved().await;
    page.close();
    let reopened = Page::loaded(options(&keys)).await;
    assert_eq!(reopened.store.run_count(), 3);
    reopened.close();
}

#[wasm_bindgen_test]
async fn a_history_the_browser_deleted_is_reported_and_not_shown_as_empty() {
    let keys = fresh("evicted").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(4));
    page.saved().await;
    page.close();
    delete_database(keys.prefix()).await;

    for _ in 0..2 {
        let page = Page::loaded(options(&keys)).await;
        assert_eq!(page.history.status().missing_runs(), Some(4));
        let error = page.store.error().expect("a message");
        assert!(
            error.contains("history of 4 run(s) is missing") && error.contains("Import JSON"),
            "{error}"
        );
        page.saved().await;
        page.close(); // and again on the next start, until restored
    }
}

#[wasm_bindgen_test]
async fn a_hundred_thousand_runs_are_all_there_after_a_reload() {
    let keys = fresh("hundred-thousand").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(100_000));
    let history_handle = page.history.clone();
    support::eventually_within("100,000 runs are saved", 120, move || {
        history_handle.is_saved()
    })
    .await;
    page.close();

    let reopened = Page::open(options(&keys));
    let status = reopened.history.status();
    support::eventually_within("100,000 runs are loaded", 120, move || status.is_loaded()).await;
    let store = reopened.store;
    assert_eq!(store.runs().len(), 100_000);
    assert_eq!(store.runs().iter().next().unwrap().id, "r099999");
    assert_eq!(store.runs().iter().last().unwrap().id, "r000000");
    reopened.close();
    delete_database(keys.prefix()).await;
}

#[wasm_bindgen_test]
async fn older_runs_are_held_cold_and_whole_again_when_opened_changed_or_exported() {
    let keys = fresh("cold").await;
    let long_answer = |n: usize| format!("{} needle-{n} at the end", "word ".repeat(60));
    let runs: Vec<PromptRun> = history(300)
        .into_iter()
        .map(|mut run| {
            let n: usize = run.id[1..].parse().unwrap();
            run.output = Some(long_answer(n));
            run
        })
        .collect();
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(runs);
    page.saved().await;
    page.close();

    let page = Page::loaded(options(&keys).first_screen(20).chunk(50).warm_runs(100)).await;
    let store = page.store;
    assert_eq!(store.run_count(), 300);
    assert_eq!(
        store.cold_run_count(),
        200,
        "past the newest 100, runs are held cold"
    );
    assert!(!store.is_run_cold("r000299") && store.is_run_cold("r000000"));
    let cold = store.get_run_by_id("r000000").unwrap();
    assert!(cold.prompt_snapshot.is_empty());
    assert!(
        cold.output.as_deref().unwrap().ends_with('…'),
        "the start of the answer, for the card"
    );
    assert_eq!(
        store.total_tokens_used(),
        3_000,
        "figures cover cold runs exactly"
    );

    // Opened, a cold run (and nothing else) is read back whole.
    store.set_active_run(Some("r000000")).unwrap();
    eventually("the opened run is warm", move || {
        !store.is_run_cold("r000000")
    })
    .await;
    let warm = store.get_run_by_id("r000000").unwrap();
    assert_eq!(warm.output.as_deref(), Some(long_answer(0).as_str()));
    assert_eq!(warm.prompt_snapshot, "prompt r000000");
    assert_eq!(store.cold_run_count(), 199);

    // A change to a cold run is saved with its whole text from storage.
    let rated = PromptRunUpdate {
        metadata: serde_json::json!({"rating": "up"}).as_object().cloned(),
        ..PromptRunUpdate::default()
    };
    store.update_run("r000001", rated).unwrap();
    assert!(store.is_run_cold("r000001"));
    page.saved().await;

    // A search reaches the text of cold runs through storage.
    let (found, exported) = {
        let history = page.history.clone();
        let found = history.search_stored("NEEDLE-29").await.unwrap();
        let exported = history.export(ExportFormat::Json).await.unwrap().concat();
        (found, exported)
    };
    // 29 and 290–299: cold and warm runs alike, whatever the case.
    assert_eq!(found.len(), 11, "{found:?}");
    assert!(found.contains("r000029") && found.contains("r000299"));
    let exported: Vec<PromptRun> = serde_json::from_str(&exported).unwrap();
    assert_eq!(exported.len(), 300);
    let one = exported.iter().find(|run| run.id == "r000001").unwrap();
    assert_eq!(
        one.output.as_deref(),
        Some(long_answer(1).as_str()),
        "exported whole, not as held"
    );
    assert_eq!(one.metadata.as_ref().unwrap()["rating"], "up");
    page.close();

    let reopened = Page::loaded(options(&keys)).await;
    let rated = reopened.store.get_run_by_id("r000001").unwrap();
    assert_eq!(
        rated.output.as_deref(),
        Some(long_answer(1).as_str()),
        "the whole text survived the change"
    );
    assert_eq!(rated.prompt_snapshot, "prompt r000001");
    assert_eq!(rated.metadata.as_ref().unwrap()["rating"], "up");
    reopened.close();
}

// ---- the database and the browser, directly ----

async fn open_raw(name: &str) -> web_sys::IdbDatabase {
    settle(&indexed_db().open(name).unwrap())
        .await
        .unchecked_into()
}

async fn raw_put(name: &str, store: &str, value: &JsValue, key: Option<&str>) {
    let db = open_raw(name).await;
    let transaction = db
        .transaction_with_str_and_mode(store, web_sys::IdbTransactionMode::Readwrite)
        .unwrap();
    let objects = transaction.object_store(store).unwrap();
    let request = match key {
        Some(key) => objects.put_with_key(value, &key.into()).unwrap(),
        None => objects.put(value).unwrap(),
    };
    settle(&request).await;
    sleep(50).await; // the transaction commits once the request is done
    db.close();
}

async fn raw_get_all(name: &str, store: &str) -> js_sys::Array {
    let db = open_raw(name).await;
    let transaction = db.transaction_with_str(store).unwrap();
    let all = settle(&transaction.object_store(store).unwrap().get_all().unwrap()).await;
    db.close();
    all.unchecked_into()
}

/// Makes `window.indexedDB` throw (or restores it), as a browser with
/// IndexedDB disabled does.
fn hide_indexed_db(hide: bool) {
    let script = if hide {
        "window.__indexedDB = Object.getOwnPropertyDescriptor(window, 'indexedDB'); \
         Object.defineProperty(window, 'indexedDB', { configurable: true, get() { \
         throw new DOMException('IndexedDB is disabled for this test', 'SecurityError'); } });"
    } else {
        "if (window.__indexedDB) { Object.defineProperty(window, 'indexedDB', window.__indexedDB); } \
         else { delete window.indexedDB; }"
    };
    js_sys::Function::new_no_args(script)
        .call0(&JsValue::NULL)
        .unwrap();
}

/// The IndexedDB of a storage bucket with a quota of its own: a real quota
/// to run into without filling the disk.
async fn storage_bucket(name: &str, quota: u32) -> web_sys::IdbFactory {
    let open = js_sys::Function::new_with_args(
        "name, quota",
        "return navigator.storageBuckets.open(name, { quota }).then(bucket => bucket.indexedDB);",
    );
    let promise: js_sys::Promise = open
        .call2(&JsValue::NULL, &name.into(), &quota.into())
        .expect("this Chromium has storage buckets")
        .unchecked_into();
    JsFuture::from(promise)
        .await
        .expect("a storage bucket opens")
        .unchecked_into()
}

async fn delete_database_in(factory: &web_sys::IdbFactory, name: &str) {
    settle(&factory.delete_database(name).unwrap()).await;
}

/// `len` characters that no compressor shrinks much (the browser's storage
/// compresses what it writes, so repeated text would never fill a quota).
fn incompressible(len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(b'!' + ((state >> 33) % 90) as u8)
        })
        .collect()
}

/// Fills localStorage until it refuses more; returns the keys to remove.
fn fill_local_storage() -> Vec<String> {
    let storage = local_storage();
    let mut keys = Vec::new();
    let mut size = 1_000_000;
    while size >= 100 {
        let key = format!("history-filler-{}", keys.len());
        if storage.set_item(&key, &"f".repeat(size)).is_ok() {
            keys.push(key);
        } else {
            size /= 2;
        }
    }
    keys
}

#[wasm_bindgen_test]
async fn the_storage_panel_says_where_the_history_is_and_backs_it_up() {
    use prompt_runs::components::HistoryStorage;
    let keys = fresh("storage-panel").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(3));
    page.saved().await;
    let history = page.history.clone();
    let view = support::mounted::Mounted::new(move || view! { <HistoryStorage history/> });
    leptos::task::tick().await;
    assert_eq!(
        view.text(".storage__place"),
        "Saved in this browser (IndexedDB)."
    );
    assert!(
        view.text(".storage__backup")
            .starts_with("Never backed up."),
        "{}",
        view.text(".storage__backup")
    );
    eventually("the browser says whether it keeps the history", || {
        view.text(".storage__persistence")
            .starts_with("Kept by the browser")
            || view
                .text(".storage__persistence")
                .starts_with("The browser may clear it")
    })
    .await;
    eventually("the space used is shown", || {
        view.find(".storage__usage")
            .is_some_and(|usage| usage.text_content().unwrap().starts_with("Using "))
    })
    .await;

    view.click(".storage__back-up");
    eventually("the backup is reported", || {
        view.text(".storage__outcome")
            .starts_with("Backed up 3 runs to prompt-runs-backup-")
    })
    .await;
    assert!(
        view.text(".storage__backup").starts_with("Last backup ")
            && view.text(".storage__backup").contains("(3 runs)."),
        "{}",
        view.text(".storage__backup")
    );
    drop(view);
    page.close();
}

#[wasm_bindgen_test]
async fn a_page_closed_before_its_active_run_loads_keeps_it_active() {
    let keys = fresh("active-run-pending").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(300));
    // The oldest: loaded last, long after the first screen.
    page.store.set_active_run(Some("r000000")).unwrap();
    page.saved().await;
    page.close();

    // One run a chunk: the oldest loads after some 300 reads, while the
    // save asked for at start runs within the debounce.
    let page = Page::open(options(&keys).first_screen(20).chunk(1));
    let store = page.store;
    eventually("the first screen is in", move || store.runs().len() >= 20).await;
    sleep(100).await;
    assert!(
        untrack(|| store.history_loading()).is_some(),
        "closed while older runs still load"
    );
    assert_eq!(untrack(|| store.active_run_id()), None, "not loaded yet");
    page.close();

    let reloaded = Page::loaded(options(&keys)).await;
    assert_eq!(
        reloaded.store.active_run_id().as_deref(),
        Some("r000000"),
        "the active run is still the one stored"
    );
}
