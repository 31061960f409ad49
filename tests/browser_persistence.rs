//! Persistence against the real localStorage of headless Chromium: round
//! trip, corrupt data kept in a backup, a full quota, the legacy array, the
//! `storage` event between two documents, and the effect that coalesces saves.
#![cfg(target_arch = "wasm32")]

mod support;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp};
use prompt_runs::persist::{
    persist_in_page, persist_to_local_storage, LocalStorageBackend, MemoryStorage, PersistOptions,
    Persistence, StorageBackend, StorageKeys,
};
use prompt_runs::store::RunsStore;
use std::time::Duration;
use support::history::{local_storage, remove_local_keys};
use support::runs::a_run;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const SAVE_DEBOUNCE: Duration = Duration::from_millis(20);

/// Options under a prefix of the test's own, with its old keys removed.
fn options_for(test: &str) -> PersistOptions {
    let prefix = format!("test-{test}");
    remove_local_keys(&prefix);
    PersistOptions::default()
        .keys(StorageKeys::new(prefix))
        .debounce(SAVE_DEBOUNCE)
}

fn success(id: &str, output: &str) -> PromptRun {
    a_run(id)
        .prompt("prompt")
        .answered(output)
        .tokens(10)
        .build()
}

fn ids(store: &RunsStore) -> Vec<String> {
    store.runs().iter().map(|run| run.id.clone()).collect()
}

async fn let_saves_run() {
    sleep(SAVE_DEBOUNCE * 5).await;
}

#[wasm_bindgen_test]
async fn runs_saved_by_one_page_load_in_the_next() {
    let options = options_for("round-trip");
    let owner = Owner::new();
    owner.with(|| {
        let store = RunsStore::new();
        persist_to_local_storage(store, options.clone()).unwrap();
        // Restored runs are ordered by start time: give them distinct ones.
        let mut first = success("a", "first");
        first.started_at = Timestamp::parse("2024-05-01T12:00:00.000Z");
        let mut second = success("b", "second");
        second.started_at = Timestamp::parse("2024-05-01T12:00:01.000Z");
        store.add_run(first).unwrap();
        store.add_run(second).unwrap();
        store.set_active_run(Some("a")).unwrap();
    });
    let_saves_run().await;
    assert!(local_storage()
        .get_item("test-round-trip:v1:run:a")
        .unwrap()
        .unwrap()
        .starts_with("lz16:"));
    drop(owner);

    let reloaded_owner = Owner::new();
    let reloaded = reloaded_owner.with(RunsStore::new);
    reloaded_owner
        .with(|| persist_to_local_storage(reloaded, options))
        .unwrap();
    assert_eq!(ids(&reloaded), ["b", "a"]);
    assert_eq!(
        reloaded.active_run().unwrap().output.as_deref(),
        Some("first")
    );
    assert_eq!(reloaded.error(), None);
}

#[wasm_bindgen_test]
async fn corrupt_data_is_kept_in_a_backup_and_the_rest_loads() {
    let options = options_for("corrupt");
    let storage = local_storage();
    let good = serde_json::to_string(&success("good", "fine")).unwrap();
    storage.set_item("test-corrupt:v1:run:good", &good).unwrap();
    storage
        .set_item("test-corrupt:v1:run:bad", "{\"id\":\"bad\",\"status\":")
        .unwrap();

    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    owner
        .with(|| persist_to_local_storage(store, options))
        .unwrap();
    assert_eq!(ids(&store), ["good"]);
    assert!(store
        .error()
        .unwrap()
        .contains("Saved run bad could not be read"));
    let backup = (0..storage.length().unwrap())
        .filter_map(|index| storage.key(index).unwrap())
        .find(|key| key.starts_with("test-corrupt:backup:"))
        .expect("a backup key");
    assert_eq!(
        storage.get_item(&backup).unwrap().as_deref(),
        Some("{\"id\":\"bad\",\"status\":")
    );

    // The warning outlives the saves that follow: a person reads it.
    let warning = store.error();
    store.add_run(success("later", "saved fine")).unwrap();
    sleep(Duration::from_secs(2)).await;
    assert!(local_storage()
        .get_item("test-corrupt:v1:run:later")
        .unwrap()
        .is_some());
    assert_eq!(
        store.error(),
        warning,
        "still shown 2 s later, after a save"
    );
    drop(owner);
}

#[wasm_bindgen_test]
fn the_legacy_array_loads_unchanged() {
    let options = options_for("legacy");
    let legacy = r#"[{"id":"ts-1","workspaceId":"w","promptSnapshot":"Hello","contextBlockIds":["c1"],"modelId":"gpt-4","status":"success","startedAt":"2024-03-01T09:00:00.000Z","completedAt":"2024-03-01T09:00:02.000Z","durationMs":2000,"inputTokens":5,"outputTokens":7,"totalTokens":12,"cost":0.00042,"output":"Hi!"}]"#;
    local_storage().set_item("test-legacy", legacy).unwrap();

    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    owner
        .with(|| persist_to_local_storage(store, options))
        .unwrap();
    let exported = serde_json::to_value(store.runs().to_vec()).unwrap();
    assert_eq!(
        exported,
        serde_json::from_str::<serde_json::Value>(legacy).unwrap()
    );
    assert_eq!(
        local_storage().get_item("test-legacy").unwrap().as_deref(),
        Some(legacy),
        "left in place"
    );
}

/// Fills localStorage until the browser refuses, returning the filler keys.
fn fill_local_storage() -> Vec<String> {
    let storage = local_storage();
    let mut block = "x".repeat(1 << 20);
    let mut filler = Vec::new();
    while block.len() >= 16 {
        let key = format!("test-filler-{}", filler.len());
        match storage.set_item(&key, &block) {
            Ok(()) => filler.push(key),
            Err(_) => block.truncate(block.len() / 2),
        }
    }
    filler
}

#[wasm_bindgen_test]
async fn a_full_quota_is_reported_and_nothing_is_lost() {
    let options = options_for("quota");
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    let persistence: Persistence =
        owner.with(|| persist_to_local_storage(store, options.clone()).unwrap());
    store.add_run(success("saved", "before the quota")).unwrap();
    persistence.save_now().unwrap();
    let stored_before = local_storage().get_item("test-quota:v1:run:saved").unwrap();

    let filler = fill_local_storage();
    store
        .add_run(success("unsaved", &"a long answer ".repeat(2_000)))
        .unwrap();
    store
        .update_run(
            "saved",
            PromptRunUpdate {
                output: Some("changed ".repeat(2_000)),
                ..Default::default()
            },
        )
        .unwrap();
    let outcome = persistence.save_now();
    let error = store.error();
    for key in &filler {
        local_storage().remove_item(key).unwrap();
    }

    assert_eq!(
        outcome,
        Err(prompt_runs::persist::StorageError::QuotaExceeded)
    );
    let error = error.expect("the user is told");
    assert!(
        error.contains("storage is full") && error.contains("Export"),
        "{error}"
    );
    assert_eq!(ids(&store), ["unsaved", "saved"], "memory intact");
    assert_eq!(
        local_storage().get_item("test-quota:v1:run:saved").unwrap(),
        stored_before,
        "stored copy intact"
    );

    persistence.save_now().unwrap();
    assert_eq!(store.error(), None);
    let reloaded_owner = Owner::new();
    let reloaded = reloaded_owner.with(RunsStore::new);
    reloaded_owner.with(|| persist_in_page(reloaded, LocalStorageBackend::new().unwrap(), options));
    assert_eq!(ids(&reloaded), ["unsaved", "saved"]);
}

#[wasm_bindgen_test]
async fn another_documents_writes_arrive_through_the_storage_event() {
    let options = options_for("tabs");
    let document = web_sys::window().unwrap().document().unwrap();
    let frame: web_sys::HtmlIFrameElement =
        document.create_element("iframe").unwrap().unchecked_into();
    document.body().unwrap().append_child(&frame).unwrap();
    let other_documents_storage = frame
        .content_window()
        .unwrap()
        .local_storage()
        .unwrap()
        .unwrap();

    let here_owner = Owner::new();
    let here = here_owner.with(RunsStore::new);
    here_owner
        .with(|| persist_to_local_storage(here, options.clone()))
        .unwrap();
    here.add_run(success("mine", "from this page")).unwrap();

    let there_owner = Owner::new();
    let there = there_owner.with(RunsStore::new);
    let there_persistence = Persistence::attach(
        there,
        LocalStorageBackend::from_storage(other_documents_storage),
        options,
    );
    there
        .add_run(success("theirs", "from the other document"))
        .unwrap();
    there_persistence.save_now().unwrap();
    let_saves_run().await;

    let mut held = ids(&here);
    held.sort();
    assert_eq!(
        held,
        ["mine", "theirs"],
        "the other document's run merged in"
    );
    let stored = LocalStorageBackend::new().unwrap().keys().unwrap();
    assert!(
        stored.contains(&"test-tabs:v1:run:mine".to_owned())
            && stored.contains(&"test-tabs:v1:run:theirs".to_owned())
    );

    there.remove_run("theirs").unwrap();
    there_persistence.save_now().unwrap();
    let_saves_run().await;
    assert_eq!(ids(&here), ["mine"], "a removal there is a removal here");
    frame.remove();
}

#[wasm_bindgen_test]
async fn a_thousand_updates_in_one_task_make_one_save() {
    let counting = MemoryStorage::new();
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    owner.with(|| persist_in_page(store, counting.clone(), options_for("coalesce")));
    store
        .add_run(PromptRun::pending("streaming", "gpt-4o", "p"))
        .unwrap();
    store
        .update_run("streaming", PromptRunUpdate::status(RunStatus::Running))
        .unwrap();
    for token in 0..1_000 {
        store
            .update_run(
                "streaming",
                PromptRunUpdate {
                    output: Some(format!("{token} tokens")),
                    ..Default::default()
                },
            )
            .unwrap();
        store.update_execution_progress(token as f64 / 10.0);
    }
    assert_eq!(counting.writes(), 0, "nothing written synchronously");
    let_saves_run().await;
    assert_eq!(counting.writes(), 2, "the run once and the manifest once");
    assert_eq!(
        prompt_runs::persist::layout::decode_run(
            &counting
                .get("test-coalesce:v1:run:streaming")
                .unwrap()
                .unwrap()
        )
        .unwrap()
        .output
        .as_deref(),
        Some("999 tokens")
    );
}

#[wasm_bindgen_test]
async fn unmounting_the_app_saves_what_was_pending_and_nothing_runs_on_a_dead_store() {
    let backend = MemoryStorage::new();
    let owner = Owner::new();
    let store = owner.with(|| {
        let store = RunsStore::new();
        persist_in_page(store, backend.clone(), options_for("unmount"));
        store
    });
    leptos::task::tick().await;
    store
        .add_run(success("last-words", "saved on the way out"))
        .unwrap();
    leptos::task::tick().await; // the save is requested, not yet done (debounced)
    drop(owner); // the embedding app unmounts this part of the page
    let_saves_run().await; // the debounced save fires on a disposed store: it must not panic

    let restored = RunsStore::new();
    let _reloaded = Persistence::attach(restored, backend, options_for("unmount"));
    assert_eq!(
        ids(&restored),
        ["last-words"],
        "the pending change was saved on unmount"
    );
}
