//! The history's trash in the real IndexedDB of headless Chromium, without
//! a server: a run removed (one, or all at once) goes to the trash and comes
//! back with "Undo" or the Trash's "Restore"; emptying the trash deletes for
//! good, and a reload shows the same.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use prompt_runs::components::{HistoryTrash, RunHistory};
use prompt_runs::persist::{provide_history, HistoryPersistence};
use support::eventually;
use support::history::*;
use support::mounted::Mounted;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The ids in `history`'s trash, as stored.
async fn trash_ids(history: &HistoryPersistence) -> Vec<String> {
    let mut ids: Vec<String> = history
        .trash()
        .await
        .into_iter()
        .map(|trashed| trashed.run.id)
        .collect();
    ids.sort();
    ids
}

/// Waits until the stored trash holds exactly `expected` (sorted ids).
async fn trash_becomes(history: &HistoryPersistence, expected: &[&str], what: &str) {
    for _ in 0..250 {
        if trash_ids(history).await == expected {
            return;
        }
        support::sleep(20).await;
    }
    panic!(
        "timed out waiting until {what}: the trash holds {:?}",
        trash_ids(history).await
    );
}

#[wasm_bindgen_test]
async fn removed_runs_go_to_the_trash_and_come_back_by_undo_or_restore() {
    let keys = fresh("trash").await;
    let page = Page::loaded(options(&keys)).await;
    page.store.merge_runs(history(3));
    page.saved().await;
    let (store, history) = (page.store, page.history.clone());
    let view = Mounted::new(move || {
        provide_history(history.clone());
        view! { <RunHistory store/> <HistoryTrash history/> }
    });
    leptos::task::tick().await;

    // One run removed: said, in the trash, and back with Undo.
    view.click("[data-run-id=r000001] .history__remove");
    leptos::task::tick().await;
    assert!(page.store.get_run_by_id("r000001").is_none());
    assert_eq!(view.text(".history__removed"), "Removed 1 run. Undo");
    trash_becomes(&page.history, &["r000001"], "the run is in the trash").await;
    view.click(".history__undo");
    eventually("Undo brings the run back", || {
        page.store.get_run_by_id("r000001").is_some()
    })
    .await;
    trash_becomes(&page.history, &[], "the trash is empty again").await;
    assert!(view.find(".history__removed").is_none(), "the offer went");

    // All of them at once: how many is said, and Undo brings them all back,
    // with their text.
    view.click(".history__clear");
    leptos::task::tick().await;
    view.click(".history__confirm-clear");
    leptos::task::tick().await;
    assert!(page.store.runs().is_empty());
    assert_eq!(view.text(".history__removed"), "Removed 3 runs. Undo");
    trash_becomes(
        &page.history,
        &["r000000", "r000001", "r000002"],
        "all three are in the trash",
    )
    .await;
    view.click(".history__undo");
    eventually("Undo brings all three back", || {
        page.store.runs().len() == 3
    })
    .await;
    assert_eq!(
        page.store
            .get_run_by_id("r000002")
            .unwrap()
            .output
            .as_deref(),
        Some("answer r000002")
    );
    trash_becomes(&page.history, &[], "the trash is empty again").await;

    // The Trash lists what was removed, and restores it.
    view.click("[data-run-id=r000000] .history__remove");
    view.click(".trash__toggle");
    eventually("the Trash lists the run", || {
        view.find(".trash__run[data-run-id=r000000]").is_some()
    })
    .await;
    assert_eq!(view.text(".trash__state"), "1 run(s) in the trash.");
    view.click(".trash__run[data-run-id=r000000] .trash__restore");
    eventually("Restore brings the run back", || {
        page.store.get_run_by_id("r000000").is_some()
    })
    .await;
    trash_becomes(&page.history, &[], "the trash is empty again").await;

    // Emptying the trash deletes for good, after asking once more.
    view.click("[data-run-id=r000002] .history__remove");
    eventually("the Trash lists the run", || {
        view.find(".trash__run[data-run-id=r000002]").is_some()
    })
    .await;
    view.click(".trash__empty");
    leptos::task::tick().await;
    assert_eq!(view.text(".trash__empty"), "Delete 1 run(s) for good?");
    trash_becomes(
        &page.history,
        &["r000002"],
        "nothing is deleted before the confirmation",
    )
    .await;
    view.click(".trash__empty");
    trash_becomes(&page.history, &[], "the trash is emptied").await;
    assert_eq!(view.text(".trash__state"), "The trash is empty.");
    page.saved().await;
    drop(view);
    page.close();

    let reloaded = Page::loaded(options(&keys)).await;
    let mut kept = ids(&reloaded.store);
    kept.sort();
    assert_eq!(kept, ["r000000", "r000001"]);
    assert!(trash_ids(&reloaded.history).await.is_empty());
    reloaded.close();
}
