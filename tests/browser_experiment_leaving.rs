//! An experiment edited just before its page goes is not lost: in the real
//! IndexedDB and localStorage of headless Chromium, `pagehide` keeps the
//! edit in localStorage at once (an IndexedDB write still running when a
//! tab closes may never commit), and the next page moves it in; a kept
//! copy that cannot be read is left where it is, and said.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use prompt_runs::components::{provide_experiments, Experiments};
use prompt_runs::experiment::Experiment;
use prompt_runs::persist::{persist_history, provide_history, HistoryPersistence, StorageKeys};
use prompt_runs::store::RunsStore;
use support::eventually;
use support::history::{fresh, local_storage, options};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A page of the Experiments view: a history and its experiments, loaded.
struct Page {
    owner: Owner,
    history: HistoryPersistence,
    experiments: Experiments,
}

async fn open_page(keys: &StorageKeys) -> Page {
    let owner = Owner::new();
    let (history, experiments) = owner.with(|| {
        let store = RunsStore::new();
        let history = provide_history(persist_history(store, options(keys)));
        (history, provide_experiments(Some(store)))
    });
    let status = history.status();
    eventually("the history and its experiments are read", || {
        status.is_loaded() && experiments.is_loaded()
    })
    .await;
    Page {
        owner,
        history,
        experiments,
    }
}

fn pagehide() {
    let window = web_sys::window().unwrap();
    window
        .dispatch_event(&web_sys::Event::new("pagehide").unwrap())
        .unwrap();
}

fn kept_copy(keys: &StorageKeys, id: &str) -> Option<String> {
    local_storage()
        .get_item(&keys.unsaved_experiment(id))
        .unwrap()
}

async fn saved(history: &HistoryPersistence, id: &str) -> Option<Experiment> {
    let saved = history
        .saved_experiments()
        .await
        .expect("experiments are read");
    saved.experiments.into_iter().find(|e| e.id == id)
}

#[wasm_bindgen_test]
async fn an_edit_made_just_before_pagehide_is_kept_at_once_then_moved_in() {
    let keys = fresh("experiment-leaving").await;
    let page = open_page(&keys).await;
    let id = page.experiments.create("Draft");
    page.experiments.edit(|experiment| {
        experiment.name = "Capitals".into();
        experiment.repeats = 3;
    });
    // Well within the 300 ms before the save would have started.
    pagehide();
    let kept = kept_copy(&keys, &id).expect("the edit is in localStorage as the page goes");
    let kept: Experiment = serde_json::from_str(&kept).unwrap();
    assert_eq!((kept.name.as_str(), kept.repeats), ("Capitals", 3));

    // Leaving also started the write: once it commits, the copy goes.
    let history = page.history.clone();
    for _ in 0..250 {
        if kept_copy(&keys, &id).is_none() {
            break;
        }
        support::sleep(20).await;
    }
    assert_eq!(
        kept_copy(&keys, &id),
        None,
        "committed, the copy is removed"
    );
    let written = saved(&history, &id).await.expect("written at pagehide");
    assert_eq!((written.name.as_str(), written.repeats), ("Capitals", 3));
    drop(page.owner);

    // A tab that died before its write committed left only the copy: a
    // later edit than the database's.
    let mut newer = written.clone();
    newer.repeats = 7;
    local_storage()
        .set_item(
            &keys.unsaved_experiment(&id),
            &serde_json::to_string(&newer).unwrap(),
        )
        .unwrap();
    let reopened = open_page(&keys).await;
    let open = reopened.experiments.open().expect("the experiment opens");
    assert_eq!(open.repeats, 7, "the page shows the last edit");
    assert_eq!(
        saved(&reopened.history, &id).await.map(|e| e.repeats),
        Some(7),
        "and the database has it"
    );
    assert_eq!(kept_copy(&keys, &id), None, "moved in, the copy is removed");
    assert_eq!(reopened.experiments.error(), None);
}

#[wasm_bindgen_test]
async fn a_kept_copy_that_cannot_be_read_is_left_and_said() {
    let keys = fresh("experiment-leaving-damaged").await;
    let key = keys.unsaved_experiment("exp-broken");
    local_storage()
        .set_item(&key, "{\"id\": \"exp-broken\", \"tem")
        .unwrap();
    let page = open_page(&keys).await;
    let said = page.experiments.error().expect("the problem is said");
    assert!(
        said.contains("could not be read") && said.contains(&key),
        "{said}"
    );
    assert_eq!(
        kept_copy(&keys, "exp-broken").as_deref(),
        Some("{\"id\": \"exp-broken\", \"tem"),
        "left as it was"
    );
    assert!(page.experiments.all().is_empty());
}

/// What this browser remembers as the open experiment.
fn remembered(keys: &StorageKeys) -> Option<String> {
    local_storage().get_item(&keys.open_experiment()).unwrap()
}

#[wasm_bindgen_test]
async fn the_next_page_opens_the_experiment_last_opened_not_the_first() {
    let keys = fresh("experiment-leaving-reopen").await;
    let page = open_page(&keys).await;
    let first = page.experiments.create("Capitals");
    let second = page.experiments.create("Rivers");
    page.experiments.select(Some(&first));
    page.experiments.select(Some(&second));
    page.experiments.flush();
    let history = page.history.clone();
    for _ in 0..250 {
        if history.saved_experiments().await.unwrap().experiments.len() == 2 {
            break;
        }
        support::sleep(20).await;
    }
    eventually("the open one is remembered", || {
        remembered(&keys).as_deref() == Some(second.as_str())
    })
    .await;
    drop(page.owner);

    let reopened = open_page(&keys).await;
    let open = reopened.experiments.open().expect("an experiment opens");
    assert_eq!(open.id, second, "the one last opened, not the first made");
    reopened.experiments.select(Some(&first));
    eventually("the newly opened one is remembered", || {
        remembered(&keys).as_deref() == Some(first.as_str())
    })
    .await;
    drop(reopened.owner);

    let again = open_page(&keys).await;
    let open = again.experiments.open().map(|e| e.id.clone());
    assert_eq!(open, Some(first.clone()));
    // One remembered that is gone (deleted in another tab): the first opens.
    again.experiments.remove(&first);
    for _ in 0..250 {
        if again
            .history
            .saved_experiments()
            .await
            .unwrap()
            .experiments
            .len()
            == 1
        {
            break;
        }
        support::sleep(20).await;
    }
    drop(again.owner);
    local_storage()
        .set_item(&keys.open_experiment(), &first)
        .unwrap();
    let last = open_page(&keys).await;
    let open = last.experiments.open().map(|e| e.id.clone());
    assert_eq!(open, Some(second));
}
