//! Persistence with the in-memory backend: restore, coalesced saves, legacy
//! import, corrupt data, newer schemas, a full quota, other tabs, export and
//! import. (The same against real localStorage: tests/browser_persistence.rs.)
#![cfg(not(target_arch = "wasm32"))]

mod support;

use leptos::prelude::Owner;
use prompt_runs::model::runs_json::INTERRUPTED;
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp};
use prompt_runs::persist::layout::encode_run;
use prompt_runs::persist::{
    export_csv, export_json, export_json_parts, import_json, ImportError, MemoryStorage,
    PersistOptions, Persistence, Scheduler, StorageBackend, StorageError,
};
use prompt_runs::store::{MergeReport, RunsStore};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use support::runs::a_run;

fn run(id: &str, status: RunStatus, minute: u32) -> PromptRun {
    let run = (a_run(id).prompt(format!("prompt {id}")))
        .status(status)
        .started_minute(minute);
    match status {
        RunStatus::Success => run
            .answered(format!("output of {id}"))
            .tokens(42)
            .cost(0.0001),
        _ => run,
    }
    .build()
}

/// A tab: a store with its own owner, attached to `storage`.
struct Tab {
    _owner: Owner,
    store: RunsStore,
    persistence: Persistence,
}

fn open_tab(storage: &MemoryStorage) -> Tab {
    open_tab_with(storage, PersistOptions::default())
}

fn open_tab_with(storage: &MemoryStorage, options: PersistOptions) -> Tab {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    let persistence = Persistence::attach(store, storage.clone(), options);
    Tab {
        _owner: owner,
        store,
        persistence,
    }
}

fn ids(store: &RunsStore) -> Vec<String> {
    store.runs().iter().map(|run| run.id.clone()).collect()
}

fn snapshot(storage: &MemoryStorage) -> BTreeMap<String, String> {
    storage
        .keys()
        .unwrap()
        .into_iter()
        .map(|key| (storage.get(&key).unwrap().unwrap(), key))
        .map(|(v, k)| (k, v))
        .collect()
}

/// Saves wait in a queue until the test runs them, as a timeout would.
/// Saves that a manual scheduler holds until the test runs them.
type PendingSaves = Rc<RefCell<Vec<Box<dyn FnOnce()>>>>;

fn manual_scheduler() -> (Scheduler, PendingSaves) {
    let queue: PendingSaves = Rc::default();
    let pending = queue.clone();
    (Rc::new(move |save| pending.borrow_mut().push(save)), queue)
}

#[test]
fn runs_and_the_active_run_survive_a_reload() {
    let storage = MemoryStorage::new();
    let tab = open_tab(&storage);
    tab.store.add_run(run("a", RunStatus::Success, 1)).unwrap();
    tab.store.add_run(run("b", RunStatus::Error, 2)).unwrap();
    tab.store.set_active_run(Some("a")).unwrap();
    tab.persistence.save_now().unwrap();

    let reloaded = open_tab(&storage);
    assert_eq!(ids(&reloaded.store), ["b", "a"]);
    assert_eq!(reloaded.store.active_run_id().as_deref(), Some("a"));
    assert_eq!(
        *reloaded.store.get_run_by_id("a").unwrap(),
        *tab.store.get_run_by_id("a").unwrap()
    );
    assert_eq!(reloaded.store.error(), None);
    assert!(storage
        .keys()
        .unwrap()
        .contains(&"prompt-runs:v1".to_owned()));
}

#[test]
fn a_run_left_running_by_a_closed_page_comes_back_cancelled() {
    let storage = MemoryStorage::new();
    let tab = open_tab(&storage);
    tab.store
        .add_run(run("streaming", RunStatus::Running, 1))
        .unwrap();
    tab.store
        .add_run(run("queued", RunStatus::Pending, 2))
        .unwrap();
    tab.persistence.save_now().unwrap();

    let reloaded = open_tab(&storage);
    for id in ["streaming", "queued"] {
        let restored = reloaded.store.get_run_by_id(id).unwrap();
        assert_eq!(restored.status, RunStatus::Cancelled);
        assert_eq!(restored.error.as_deref(), Some(INTERRUPTED));
        assert_eq!(restored.total_tokens, None);
    }
    assert!(!reloaded.store.is_executing());
}

#[test]
fn a_burst_of_changes_makes_one_save_that_writes_each_changed_run_once() {
    let storage = MemoryStorage::new();
    let (scheduler, queue) = manual_scheduler();
    let tab = open_tab_with(&storage, PersistOptions::default().scheduler(scheduler));
    for id in ["a", "b", "c"] {
        tab.store.add_run(run(id, RunStatus::Running, 1)).unwrap();
        tab.persistence.request_save();
    }
    for i in 0..1_000 {
        let id = ["a", "b"][i % 2];
        tab.store
            .update_run(
                id,
                PromptRunUpdate {
                    output: Some(format!("token {i}")),
                    ..Default::default()
                },
            )
            .unwrap();
        tab.store.update_execution_progress(i as f64 / 10.0);
        tab.persistence.request_save();
    }
    assert_eq!(queue.borrow().len(), 1, "1,003 requests schedule one save");
    assert_eq!(
        storage.writes(),
        0,
        "nothing is written before the save runs"
    );
    let save = queue.borrow_mut().pop().unwrap();
    save();
    assert_eq!(
        storage.writes(),
        4,
        "three runs and the manifest, each written once"
    );
    assert_eq!(
        open_tab(&storage)
            .store
            .get_run_by_id("b")
            .unwrap()
            .output
            .as_deref(),
        Some("token 999")
    );

    tab.persistence.request_save();
    queue.borrow_mut().pop().unwrap()();
    assert_eq!(
        storage.writes(),
        4,
        "a save with nothing changed writes nothing"
    );
}

#[test]
fn the_typescript_stores_array_is_imported_once_and_left_in_place() {
    let storage = MemoryStorage::new();
    let legacy = serde_json::json!([
        {"id": "old-1", "workspaceId": "ws", "promptSnapshot": "p", "contextBlockIds": [], "modelId": "gpt-4",
         "status": "success", "startedAt": "2023-06-01T10:00:00.000Z", "totalTokens": 12, "cost": 0.002},
        {"id": "old-2", "modelId": "gpt-4", "status": "error", "startedAt": "2023-06-02T10:00:00.000Z", "error": "HTTP 500"}
    ])
    .to_string();
    storage.set("prompt-runs", &legacy).unwrap();

    let tab = open_tab(&storage);
    assert_eq!(ids(&tab.store), ["old-2", "old-1"]);
    assert_eq!(tab.store.total_tokens_used(), 12);
    assert_eq!(tab.store.error(), None);
    tab.persistence.save_now().unwrap();
    assert_eq!(
        storage.get("prompt-runs").unwrap().as_deref(),
        Some(legacy.as_str()),
        "the legacy key is never changed"
    );

    tab.store.remove_run("old-1").unwrap();
    tab.persistence.save_now().unwrap();
    assert_eq!(
        ids(&open_tab(&storage).store),
        ["old-2"],
        "a removed legacy run does not come back"
    );
}

#[test]
fn a_corrupt_run_is_backed_up_and_the_rest_are_kept() {
    let storage = MemoryStorage::new();
    let tab = open_tab(&storage);
    tab.store
        .add_run(run("good", RunStatus::Success, 1))
        .unwrap();
    tab.persistence.save_now().unwrap();
    storage
        .set("prompt-runs:v1:run:bad", "lz16:\u{4e00}garbage")
        .unwrap();
    storage
        .set(
            "prompt-runs:v1:run:wrong-type",
            r#"{"id":"wrong-type","modelId":5}"#,
        )
        .unwrap();

    let reloaded = open_tab(&storage);
    assert_eq!(ids(&reloaded.store), ["good"]);
    let error = reloaded.store.error().expect("the user is told");
    assert!(error.contains("Saved run bad could not be read"), "{error}");
    assert!(error.contains("wrong-type"), "{error}");
    let backups: Vec<(String, String)> = snapshot(&storage)
        .into_iter()
        .filter(|(key, _)| key.starts_with("prompt-runs:backup:"))
        .collect();
    assert_eq!(backups.len(), 2);
    assert!(backups
        .iter()
        .any(|(key, value)| key.ends_with(":prompt-runs:v1:run:bad")
            && value == "lz16:\u{4e00}garbage"));
    assert!(
        error.contains(&backups[0].0) || error.contains(&backups[1].0),
        "the message names the backup key"
    );
    assert!(
        storage.get("prompt-runs:v1:run:bad").unwrap().is_none(),
        "moved, so it is not backed up again"
    );
}

#[test]
fn backups_are_never_overwritten() {
    let storage = MemoryStorage::new();
    storage.set("prompt-runs:v1", "{not json").unwrap();
    let first = open_tab(&storage);
    first.persistence.save_now().unwrap();
    storage.set("prompt-runs:v1", "{also broken").unwrap();
    let _second = open_tab(&storage);
    let mut backups: Vec<String> = snapshot(&storage)
        .into_iter()
        .filter(|(key, _)| key.starts_with("prompt-runs:backup:"))
        .map(|(_, value)| value)
        .collect();
    backups.sort();
    assert_eq!(
        backups,
        ["{also broken", "{not json"],
        "each corrupt original kept under its own key"
    );
}

#[test]
fn a_truncated_legacy_array_keeps_the_runs_before_the_cut_and_a_backup() {
    let storage = MemoryStorage::new();
    let whole = serde_json::to_string(&vec![
        run("a", RunStatus::Success, 1),
        run("b", RunStatus::Success, 2),
        run("c", RunStatus::Success, 3),
    ])
    .unwrap();
    let truncated = &whole[..whole.len() - 40];
    storage.set("prompt-runs", truncated).unwrap();

    let tab = open_tab(&storage);
    assert_eq!(ids(&tab.store), ["b", "a"]);
    let error = tab.store.error().unwrap();
    assert!(error.contains("breaks off after 2"), "{error}");
    assert!(snapshot(&storage)
        .iter()
        .any(|(key, value)| key.starts_with("prompt-runs:backup:") && value == truncated));
}

#[test]
fn a_newer_schema_is_left_untouched_and_the_user_is_told() {
    let storage = MemoryStorage::new();
    storage
        .set(
            "prompt-runs:v1",
            r#"{"schema":2,"activeRunId":"x","newField":true}"#,
        )
        .unwrap();
    storage
        .set("prompt-runs:v1:run:x", "format of the future")
        .unwrap();
    let before = snapshot(&storage);

    let tab = open_tab(&storage);
    assert!(tab.persistence.is_read_only());
    assert!(tab.store.runs().is_empty());
    assert!(tab.store.error().unwrap().contains("newer version"));
    tab.store
        .add_run(run("new", RunStatus::Success, 1))
        .unwrap();
    tab.persistence.request_save();
    tab.persistence.save_now().unwrap();
    assert_eq!(snapshot(&storage), before, "nothing was written over it");
}

#[test]
fn a_full_quota_keeps_memory_and_storage_intact_and_says_what_to_do() {
    let storage = MemoryStorage::new();
    let tab = open_tab(&storage);
    tab.store
        .add_run(run("saved", RunStatus::Success, 1))
        .unwrap();
    tab.persistence.save_now().unwrap();
    let before = snapshot(&storage);
    storage.set_quota(Some(storage.used_code_units() + 50));

    let mut big = run("big", RunStatus::Success, 2);
    big.output = Some("x".repeat(10_000));
    tab.store.add_run(big.clone()).unwrap();
    tab.store.set_active_run(Some("big")).unwrap();
    assert_eq!(tab.persistence.save_now(), Err(StorageError::QuotaExceeded));

    assert_eq!(
        snapshot(&storage),
        before,
        "what was stored is intact, no partial write"
    );
    assert_eq!(
        ids(&tab.store),
        ["big", "saved"],
        "the runs in memory are intact"
    );
    let error = tab.store.error().unwrap();
    assert!(
        error.contains("storage is full") && error.contains("Export"),
        "{error}"
    );

    storage.set_quota(None);
    tab.persistence.save_now().unwrap();
    assert_eq!(
        tab.store.error(),
        None,
        "the error goes once the runs are saved"
    );
    assert_eq!(*open_tab(&storage).store.get_run_by_id("big").unwrap(), big);
}

#[test]
fn a_storage_error_does_not_end_the_execution_in_progress() {
    let storage = MemoryStorage::new();
    let tab = open_tab(&storage);
    tab.store.start_execution();
    storage.set_quota(Some(0));
    tab.store.add_run(run("r", RunStatus::Running, 1)).unwrap();
    assert!(tab.persistence.save_now().is_err());
    assert!(
        tab.store.is_executing(),
        "the request in flight is not the storage's to stop"
    );
}

/// Delivers what `from` saved to `to`, as the browser's `storage` event does.
fn deliver_storage_events(storage: &MemoryStorage, to: &Tab) {
    for (key, value) in snapshot(storage) {
        to.persistence
            .apply_storage_change(Some(&key), Some(&value));
    }
}

#[test]
fn two_tabs_adding_at_once_both_keep_every_run() {
    let storage = MemoryStorage::new();
    let left = open_tab(&storage);
    let right = open_tab(&storage);
    left.store
        .add_run(run("from-left", RunStatus::Success, 1))
        .unwrap();
    right
        .store
        .add_run(run("from-right", RunStatus::Success, 2))
        .unwrap();
    left.persistence.save_now().unwrap();
    right.persistence.save_now().unwrap();
    deliver_storage_events(&storage, &left);
    deliver_storage_events(&storage, &right);

    for tab in [&left, &right] {
        let mut held = ids(&tab.store);
        held.sort();
        assert_eq!(held, ["from-left", "from-right"]);
    }
    let mut stored = ids(&open_tab(&storage).store);
    stored.sort();
    assert_eq!(
        stored,
        ["from-left", "from-right"],
        "neither save dropped the other tab's run"
    );
}

#[test]
fn the_later_state_along_the_status_flow_wins_between_tabs() {
    let storage = MemoryStorage::new();
    let runner = open_tab(&storage);
    runner
        .store
        .add_run(run("r", RunStatus::Running, 1))
        .unwrap();
    runner.persistence.save_now().unwrap();
    let watcher = open_tab(&storage);
    assert_eq!(
        watcher.store.get_run_by_id("r").unwrap().status,
        RunStatus::Cancelled,
        "loaded as interrupted"
    );

    runner
        .store
        .update_run(
            "r",
            PromptRunUpdate {
                status: Some(RunStatus::Success),
                completed_at: Some(Timestamp::now()),
                output: Some("done".into()),
                ..Default::default()
            },
        )
        .unwrap();
    runner.persistence.save_now().unwrap();
    deliver_storage_events(&storage, &watcher);
    let seen = watcher.store.get_run_by_id("r").unwrap();
    assert_eq!(
        (seen.status, seen.output.as_deref()),
        (RunStatus::Success, Some("done"))
    );

    let stale = encode_run(&run("r", RunStatus::Running, 1));
    watcher
        .persistence
        .apply_storage_change(Some("prompt-runs:v1:run:r"), Some(&stale));
    assert_eq!(
        watcher.store.get_run_by_id("r").unwrap().status,
        RunStatus::Success,
        "an older state never wins"
    );
    watcher.persistence.save_now().unwrap();
    assert_eq!(
        storage.writes(),
        3,
        "merged runs are not written back: only the runner's two saves of r and its manifest"
    );
}

#[test]
fn a_run_removed_in_another_tab_goes_here_too() {
    let storage = MemoryStorage::new();
    let left = open_tab(&storage);
    left.store.add_run(run("a", RunStatus::Success, 1)).unwrap();
    left.persistence.save_now().unwrap();
    let right = open_tab(&storage);
    right.store.set_active_run(Some("a")).unwrap();
    left.store.remove_run("a").unwrap();
    left.persistence.save_now().unwrap();
    right
        .persistence
        .apply_storage_change(Some("prompt-runs:v1:run:a"), None);
    assert!(right.store.runs().is_empty());
    assert_eq!(right.store.active_run_id(), None);
}

#[test]
fn storage_wiped_elsewhere_is_written_again_from_memory() {
    let storage = MemoryStorage::new();
    let tab = open_tab(&storage);
    tab.store.add_run(run("a", RunStatus::Success, 1)).unwrap();
    tab.persistence.save_now().unwrap();
    for key in storage.keys().unwrap() {
        storage.remove(&key).unwrap();
    }
    tab.persistence.apply_storage_change(None, None);
    assert_eq!(ids(&open_tab(&storage).store), ["a"]);
}

#[test]
fn the_export_in_parts_is_one_json_array_of_every_run() {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    assert_eq!(export_json(&store.runs()), "[]\n");
    let runs: Vec<PromptRun> = (0..2_345)
        .map(|n| run(&format!("r{n}"), RunStatus::Success, n))
        .collect();
    store.set_runs(runs.clone()).unwrap();
    let parts: Vec<String> = export_json_parts(&store.runs()).collect();
    assert_eq!(parts.len(), 3, "1,000 runs per part");
    let whole = parts.concat();
    assert_eq!(whole, export_json(&store.runs()));
    let read: Vec<PromptRun> = serde_json::from_str(&whole).unwrap();
    assert_eq!(read, runs, "every run, in order");
    assert_eq!(
        whole.lines().count(),
        2_345 + 2,
        "a run per line between the brackets"
    );
}

#[test]
fn export_then_import_merges_by_id_and_reports_counts() {
    let owner = Owner::new();
    let source = owner.with(RunsStore::new);
    source.add_run(run("a", RunStatus::Success, 1)).unwrap();
    source.add_run(run("b", RunStatus::Running, 2)).unwrap();
    let exported = export_json(&source.runs());
    assert!(
        exported.contains("\"modelId\":\"gpt-4o\""),
        "TypeScript-compatible field names"
    );

    let target = owner.with(RunsStore::new);
    target.add_run(run("b", RunStatus::Pending, 2)).unwrap();
    target.add_run(run("c", RunStatus::Success, 3)).unwrap();
    assert_eq!(
        import_json(&target, &exported),
        Ok(MergeReport {
            added: 1,
            updated: 1,
            unchanged: 0
        })
    );
    assert_eq!(
        target.get_run_by_id("b").unwrap().status,
        RunStatus::Cancelled,
        "an in-flight run from a file is settled"
    );
    assert_eq!(
        import_json(&target, &exported),
        Ok(MergeReport {
            added: 0,
            updated: 0,
            unchanged: 2
        })
    );
    assert_eq!(target.runs().len(), 3);
}

#[test]
fn a_bad_import_file_changes_nothing_and_says_why() {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    store.add_run(run("a", RunStatus::Success, 1)).unwrap();
    let before = store.runs();

    let not_json = import_json(&store, "<html>").unwrap_err();
    assert!(
        matches!(not_json, ImportError::NotRuns(_))
            && not_json.to_string().contains("not valid JSON"),
        "{not_json}"
    );
    let one_bad = serde_json::json!([serde_json::to_value(run("new", RunStatus::Success, 2)).unwrap(), {"id": "broken"}]).to_string();
    let error = import_json(&store, &one_bad).unwrap_err();
    assert!(
        error.to_string().contains("run #2 (id broken)")
            && error.to_string().contains("nothing was changed"),
        "{error}"
    );
    assert!(store.runs().is_same_as(&before));
}

#[test]
fn csv_export_has_a_row_per_run_and_defuses_formulas() {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    let mut risky = run("a", RunStatus::Success, 1);
    risky.output = Some("=HYPERLINK(\"http://evil\",\"click\")".into());
    risky.prompt_snapshot = "line one\nline, two".into();
    store.add_run(risky).unwrap();
    let csv = export_csv(&store.runs());
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[2], "modelId");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][11], "line one\nline, two");
    assert_eq!(&rows[0][12], "'=HYPERLINK(\"http://evil\",\"click\")");
    assert_eq!(&rows[0][10], "0.0001");
}
