//! A history larger than localStorage can hold (about 8,800 typical runs
//! fit in Chromium's 5 MB), imported as a person would and found whole after
//! a reload: every run counted and listed, older runs' text reached through
//! a search, nothing in localStorage but the manifest.
//!
//! Needs `dist/` (`trunk build --release`) and chromedriver, like `app.rs`.

use fantoccini::{Client, Locator};
use prompt_runs_e2e::history::{import, History};
use prompt_runs_e2e::{start_gateway, wait_for_answer, workspace_root, Browser};
use std::time::Duration;

/// Well past what localStorage holds, and past the 2,000 runs the app keeps
/// whole in memory (older ones are cold: their text stays in IndexedDB).
const RUNS: usize = 12_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_history_larger_than_local_storage_comes_back_whole_after_a_reload() {
    let app = start_gateway(&workspace_root().join("dist"), &[]).await;
    let browser = Browser::start("large", &[]).await;
    let history = History::write(browser.work_dir(), RUNS);
    drive(&browser.client, &app, &history).await;
    browser.close().await;
}

async fn drive(browser: &Client, app: &str, history: &History) {
    import(browser, app, history).await;
    browser.refresh().await.unwrap();
    let expected = "12,000 runs";
    wait_until(
        browser,
        "the reloaded history counts every run and has loaded them all",
        |state| state["count"] == expected && state["loading"] == false,
    )
    .await;
    let state = page_state(browser).await;
    assert_eq!(state["error"], "", "no error after the reload: {state}");
    let first = state["firstRow"].as_str().unwrap_or_default();
    assert_eq!(
        Some(first),
        history.newest.as_deref(),
        "the newest run first"
    );
    assert!(
        state["localStorageKeys"].as_u64().unwrap() <= 3,
        "the runs live in IndexedDB, not localStorage: {state}"
    );

    // The oldest run is cold (its text stays in IndexedDB): a search for a
    // word of its prompt reaches it through storage.
    let oldest_prompt_word = "run_00000000000000000000000000000000";
    let search = browser
        .find(Locator::Css(".filters__search"))
        .await
        .unwrap();
    search.send_keys(oldest_prompt_word).await.unwrap();
    wait_until(
        browser,
        "the search finds the oldest run through storage",
        |state| {
            state["filtered"]
                .as_str()
                .is_some_and(|text| text.starts_with("Showing 1 of"))
        },
    )
    .await;
}

/// What the page shows, for the checks above.
const PAGE_STATE: &str = r#"
        const text = (selector) => document.querySelector(selector)?.textContent?.trim() ?? "";
        return {
            count: text(".history__count"),
            loading: document.querySelector(".history__loading") !== null,
            error: text(".error-banner__message"),
            firstRow: document.querySelector("[data-run-id]")?.dataset.runId ?? "",
            filtered: text(".history__filtered"),
            // Beside the history's keys, the page kept for the first paint (first-paint.js).
            localStorageKeys: Object.keys(localStorage).filter((key) => key !== "prompt-runs.first-paint").length,
        };
    "#;

async fn page_state(browser: &Client) -> serde_json::Value {
    browser
        .execute(PAGE_STATE, vec![])
        .await
        .unwrap_or_default()
}

async fn wait_until(browser: &Client, what: &str, done: impl Fn(&serde_json::Value) -> bool) {
    let every = (Duration::from_secs(120), Duration::from_millis(200));
    wait_for_answer(browser, PAGE_STATE, every, what, |state| {
        done(state).then_some(())
    })
    .await;
}
