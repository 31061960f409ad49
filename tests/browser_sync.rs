//! The history kept on the server, from the browser: two pages, each with
//! its own IndexedDB, sync through two real gateways that share one
//! PostgreSQL (xtask starts the three):
//! runs, later states, judgements and deletions reach the other page and its
//! database; work done while the server cannot be reached waits in the
//! outbox and goes once it can; a history larger than one upload goes up in
//! pages with its progress shown; a run finished in one page is pushed to the
//! other over the server's stream, and where a proxy holds the stream back
//! the page falls back to polling and says so; a run removed in one page
//! goes to the trash in both, and is restored from the other.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use prompt_runs::api::{ClientConfig, NeuroForgeClient};
use prompt_runs::model::{PromptRun, PromptRunUpdate, Rating};
use prompt_runs::persist::{SyncFeed, SyncState, SyncTarget};
use std::collections::BTreeSet;
use support::history::*;
use support::{buffering_gateway_url, eventually_within, gateway_url, second_gateway_url};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A workspace no earlier run of these tests used (the test gateway's
/// database lives as long as `cargo xtask test`).
fn workspace(test: &str) -> String {
    let nonce = (js_sys::Math::random() * 1e9) as u64;
    format!("{test}-{}-{nonce}", js_sys::Date::now() as u64)
}

fn gateway() -> NeuroForgeClient {
    NeuroForgeClient::new(ClientConfig::default().base_url(gateway_url()))
}

/// The other gateway, on the same database.
fn second_gateway() -> NeuroForgeClient {
    NeuroForgeClient::new(ClientConfig::default().base_url(second_gateway_url()))
}

fn target(client: NeuroForgeClient, workspace: &str) -> SyncTarget {
    SyncTarget {
        client,
        workspace: workspace.to_owned(),
    }
}

fn sync_state(page: &Page) -> SyncState {
    untrack(|| page.history.status().sync_state())
}

/// Waits until every change made here is saved and then on the server.
async fn synced(page: &Page, what: &str) {
    page.saved().await;
    let status = page.history.status();
    eventually_within(what, 30, move || status.sync_state() == SyncState::Synced).await;
}

/// Every run id the server holds in `workspace`, read through its feed.
async fn server_ids(workspace: &str) -> BTreeSet<String> {
    let client = gateway();
    let (mut ids, mut since) = (BTreeSet::new(), String::new());
    loop {
        let page = client.changes(workspace, &since, 1_000).await.unwrap();
        for change in page.changes {
            match (change.run, change.deleted) {
                (Some(run), _) => ids.insert(run.id),
                (None, Some(tombstone)) => ids.remove(&tombstone.id),
                (None, None) => panic!("a change that is neither a run nor a deletion"),
            };
        }
        since = page.cursor;
        if !page.more {
            return ids;
        }
    }
}

fn id_set(page: &Page) -> BTreeSet<String> {
    ids(&page.store).into_iter().collect()
}

#[wasm_bindgen_test]
async fn two_pages_share_runs_later_states_judgements_and_deletions() {
    let workspace = workspace("two-pages");
    let first = Page::loaded(options(&fresh("sync-first").await)).await;
    for run in history(3) {
        first.store.add_run(run).unwrap();
    }
    first.saved().await;
    assert_eq!(sync_state(&first), SyncState::Off);
    first.history.sync_with(Some(target(gateway(), &workspace)));
    synced(&first, "the first page's runs are on the server").await;
    assert_eq!(
        server_ids(&workspace).await,
        id_set(&first),
        "the server holds what the first page holds"
    );

    // A second browser, its history empty, keeps the same workspace through
    // the other gateway.
    let second_keys = fresh("sync-second").await;
    let second = Page::loaded(options(&second_keys)).await;
    second
        .history
        .sync_with(Some(target(second_gateway(), &workspace)));
    let store = second.store;
    eventually_within("the second page has the first page's runs", 30, move || {
        store.runs().len() == 3
    })
    .await;
    synced(&second, "the second page is in sync").await;
    assert_eq!(id_set(&second), id_set(&first));

    // A run of the second page, and a rating there, reach the first
    // (uploaded at once; read by the first at its next exchange, woken by a
    // change of its own here so the test need not wait for the poll).
    let mut new_run = run("from-second", 1_800_000_000_000);
    new_run.output = Some("written in the second browser".into());
    second.store.add_run(new_run).unwrap();
    second
        .store
        .update_run("r000001", PromptRunUpdate::rate(Some(Rating::Up)))
        .unwrap();
    synced(&second, "the second page's changes are uploaded").await;
    first
        .store
        .update_run("r000000", PromptRunUpdate::star(true))
        .unwrap();
    let store = first.store;
    eventually_within(
        "the first page has the second page's run and rating",
        30,
        move || {
            store.get_run_by_id("from-second").is_some()
                && store
                    .get_run_by_id("r000001")
                    .is_some_and(|run| run.rating() == Some(Rating::Up))
        },
    )
    .await;
    assert_eq!(
        first
            .store
            .get_run_by_id("from-second")
            .unwrap()
            .output
            .as_deref(),
        Some("written in the second browser")
    );

    // A deletion on the first page removes the run on the second, and the
    // server keeps it deleted.
    first.store.remove_run("r000002").unwrap();
    synced(&first, "the deletion is uploaded").await;
    second
        .store
        .update_run("from-second", PromptRunUpdate::star(true))
        .unwrap();
    let store = second.store;
    eventually_within("the deletion reaches the second page", 30, move || {
        store.get_run_by_id("r000002").is_none()
            && store
                .get_run_by_id("r000000")
                .is_some_and(|run| run.is_starred())
    })
    .await;
    synced(&second, "the second page is in sync again").await;
    let expected: BTreeSet<String> = ["from-second", "r000000", "r000001"]
        .map(str::to_owned)
        .into();
    assert_eq!(server_ids(&workspace).await, expected);
    assert_eq!(id_set(&second), expected);

    // What the server sent was saved in the second page's database: a
    // reload without the server shows it.
    second.saved().await;
    second.close();
    let reloaded = Page::loaded(options(&second_keys)).await;
    assert_eq!(id_set(&reloaded), expected);
    assert!(reloaded
        .store
        .get_run_by_id("r000001")
        .is_some_and(|run| run.rating() == Some(Rating::Up)));
    first.close();
}

#[wasm_bindgen_test]
async fn work_done_while_the_server_is_unreachable_waits_and_then_goes() {
    let workspace = workspace("offline");
    let page = Page::loaded(options(&fresh("sync-offline").await)).await;
    for run in history(4) {
        page.store.add_run(run).unwrap();
    }
    page.saved().await;
    // Nothing listens on port 9 of loopback: the server is unreachable.
    let unreachable = NeuroForgeClient::new(ClientConfig::default().base_url("http://127.0.0.1:9"));
    page.history
        .sync_with(Some(target(unreachable.clone(), &workspace)));
    let status = page.history.status();
    eventually_within("the sync says it is offline", 30, move || {
        matches!(status.sync_state(), SyncState::Offline { pending: 4, .. })
    })
    .await;
    // Work goes on meanwhile, and waits too.
    page.store
        .add_run(run("while-offline", 1_800_000_000_000))
        .unwrap();
    page.saved().await;
    assert_eq!(page.store.runs().len(), 5);
    assert_eq!(page.store.error(), None, "being offline is not an error");

    // The server is back (here: the reachable one is chosen).
    page.history.sync_with(Some(target(gateway(), &workspace)));
    synced(&page, "everything waiting went up").await;
    assert_eq!(server_ids(&workspace).await, id_set(&page));
    page.close();
}

#[wasm_bindgen_test]
async fn a_large_history_goes_up_in_pages_with_its_progress_shown() {
    let workspace = workspace("large");
    let page = Page::loaded(options(&fresh("sync-large").await)).await;
    page.store.merge_runs(history(1_200));
    page.saved().await;
    page.history.sync_with(Some(target(gateway(), &workspace)));
    let status = page.history.status();
    let seen = RwSignal::new(Vec::<SyncState>::new());
    let watch = page.owner.with(|| {
        Effect::new(move |_| {
            let state = status.sync_state();
            seen.update(|states| states.push(state));
        })
    });
    synced(&page, "1,200 runs are uploaded").await;
    watch.stop();
    let states = untrack(|| seen.get());
    assert!(
        states
            .iter()
            .any(|state| matches!(state, SyncState::Uploading { sent, total: 1_200 } if *sent > 0 && *sent < 1_200)),
        "the upload's progress was shown: {states:?}"
    );
    let on_server = server_ids(&workspace).await;
    assert_eq!(on_server.len(), 1_200);
    assert_eq!(on_server, id_set(&page));
    page.close();
}

#[wasm_bindgen_test]
async fn a_run_deleted_elsewhere_does_not_come_back_from_an_old_copy() {
    let workspace = workspace("tombstone");
    let old = Page::loaded(options(&fresh("sync-old-copy").await)).await;
    for run in history(2) {
        old.store.add_run(run).unwrap();
    }
    old.saved().await;
    let other = Page::loaded(options(&fresh("sync-deleter").await)).await;
    for run in history(2) {
        other.store.add_run(run).unwrap();
    }
    other.history.sync_with(Some(target(gateway(), &workspace)));
    synced(&other, "the other page uploaded its runs").await;
    // Removed, then the trash emptied: deleted for good.
    other.store.remove_run("r000000").unwrap();
    synced(&other, "the removal is uploaded").await;
    assert_eq!(other.history.empty_trash(None).await, 1);
    synced(&other, "the deletion is uploaded").await;

    // The page holding an old copy of the deleted run joins later: its copy
    // is uploaded, stays deleted on the server, and goes here too.
    old.history.sync_with(Some(target(gateway(), &workspace)));
    synced(&old, "the old copy met the deletion").await;
    let only: BTreeSet<String> = ["r000001".to_owned()].into();
    assert_eq!(server_ids(&workspace).await, only);
    assert_eq!(id_set(&old), only);
    let run: Option<std::sync::Arc<PromptRun>> = old.store.get_run_by_id("r000000");
    assert!(run.is_none(), "the deleted run came back: {run:?}");
    old.close();
    other.close();
}

#[wasm_bindgen_test]
async fn a_run_finished_in_one_page_is_pushed_to_the_other_over_the_stream() {
    let workspace = workspace("pushed");
    let sender = Page::loaded(options(&fresh("push-sender").await)).await;
    let receiver = Page::loaded(options(&fresh("push-receiver").await)).await;
    sender
        .history
        .sync_with(Some(target(gateway(), &workspace)));
    receiver
        .history
        .sync_with(Some(target(second_gateway(), &workspace)));
    synced(&sender, "the sending page is in sync").await;
    let status = receiver.history.status();
    eventually_within("the receiving page follows the stream", 30, move || {
        status.sync_feed() == SyncFeed::Live
    })
    .await;

    // Nothing happens in the receiving page: the run can only come by the
    // stream (it does not poll while the stream is held).
    let mut finished = run("pushed-run", 1_800_000_000_000);
    finished.output = Some("finished in the other browser".into());
    sender.store.add_run(finished).unwrap();
    let store = receiver.store;
    eventually_within("the run reaches the other page", 30, move || {
        store.get_run_by_id("pushed-run").is_some()
    })
    .await;
    assert_eq!(
        untrack(|| receiver.history.status().sync_feed()),
        SyncFeed::Live,
        "it came over the stream, which is still held"
    );
    assert_eq!(
        receiver
            .store
            .get_run_by_id("pushed-run")
            .unwrap()
            .output
            .as_deref(),
        Some("finished in the other browser")
    );
    sender.close();
    receiver.close();
}

#[wasm_bindgen_test]
async fn a_proxy_that_buffers_makes_the_page_poll_and_say_so() {
    let workspace = workspace("buffered");
    let behind = NeuroForgeClient::new(ClientConfig::default().base_url(buffering_gateway_url()));
    let page = Page::loaded(options(&fresh("behind-a-buffer").await)).await;
    page.history.sync_with(Some(target(behind, &workspace)));
    let status = page.history.status();
    eventually_within("the page falls back to polling", 30, move || {
        status.sync_feed() == SyncFeed::Polling
    })
    .await;
    assert_eq!(
        sync_state(&page),
        SyncState::Synced,
        "polling is in sync too"
    );

    // Another browser's run still arrives, at the next poll.
    let other = Page::loaded(options(&fresh("beside-the-buffer").await)).await;
    other.history.sync_with(Some(target(gateway(), &workspace)));
    other
        .store
        .add_run(run("polled-run", 1_800_000_000_000))
        .unwrap();
    synced(&other, "the other page uploaded its run").await;
    let store = page.store;
    eventually_within("the run arrives by polling", 30, move || {
        store.get_run_by_id("polled-run").is_some()
    })
    .await;
    assert_eq!(untrack(|| status.sync_feed()), SyncFeed::Polling);
    page.close();
    other.close();
}

/// Whether `id` is in `page`'s trash, as stored.
async fn in_trash(page: &Page, id: &str) -> bool {
    page.history
        .trash()
        .await
        .iter()
        .any(|trashed| trashed.run.id == id)
}

/// Waits (up to 30 s) until `id` is in `page`'s trash or not, as `wanted`.
async fn trash_holds(page: &Page, id: &str, wanted: bool, what: &str) {
    for _ in 0..1_500 {
        if in_trash(page, id).await == wanted {
            return;
        }
        support::sleep(20).await;
    }
    panic!("timed out waiting until {what}");
}

#[wasm_bindgen_test]
async fn a_run_removed_in_one_page_is_in_the_trash_of_both_and_restored_from_the_other() {
    let workspace = workspace("trash");
    let first = Page::loaded(options(&fresh("trash-first").await)).await;
    first.store.merge_runs(history(3));
    first.saved().await;
    first.history.sync_with(Some(target(gateway(), &workspace)));
    synced(&first, "the first page's runs are on the server").await;
    let second = Page::loaded(options(&fresh("trash-second").await)).await;
    second
        .history
        .sync_with(Some(target(second_gateway(), &workspace)));
    let store = second.store;
    eventually_within("the second page has the runs", 30, move || {
        store.runs().len() == 3
    })
    .await;

    // Removed in the first page: in its trash, and pushed to the other's.
    first.store.remove_run("r000001").unwrap();
    trash_holds(
        &first,
        "r000001",
        true,
        "the run is in the first page's trash",
    )
    .await;
    eventually_within("the run leaves the second page's history", 30, move || {
        store.get_run_by_id("r000001").is_none()
    })
    .await;
    trash_holds(
        &second,
        "r000001",
        true,
        "the run is in the second page's trash",
    )
    .await;
    assert!(!server_ids(&workspace).await.contains("r000001"));

    // Restored from the second page: back in both, out of both trashes.
    second.history.restore(&["r000001".to_owned()]).await;
    synced(&second, "the restore is uploaded").await;
    let store = first.store;
    eventually_within("the run is back in the first page", 30, move || {
        store
            .get_run_by_id("r000001")
            .is_some_and(|run| run.output.as_deref() == Some("answer r000001"))
    })
    .await;
    trash_holds(
        &first,
        "r000001",
        false,
        "the first page's trash lets it go",
    )
    .await;
    assert!(second.store.get_run_by_id("r000001").is_some());
    assert!(!in_trash(&second, "r000001").await);
    assert!(server_ids(&workspace).await.contains("r000001"));
    first.close();
    second.close();
}
