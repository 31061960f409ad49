//! The benchmarks in a real browser (headless Chromium), where the work runs:
//! the store against the naive baseline, saving and restoring 10,000 typical
//! runs, saving one run into an IndexedDB history of 1,000 and of 100,000,
//! mounting the history with 10,000 runs, and experiments: planning
//! 1,000 rows × 4 models × 3 repeats and mounting their grid; and the
//! history on the server: a run finished in one browser until it shows in
//! another, through two gateways on one PostgreSQL; and a 2,000-cell
//! experiment paced by the gateway's default rate limit. Prints a
//! Markdown report; `cargo xtask bench` runs it with `wasm-bindgen-test-runner`
//! and writes the report under `target/`. The whole app's start, which now
//! reads IndexedDB and depends on navigation, is timed on the release build
//! instead (`e2e/benches/startup.rs`).
//!
//! Times come from `performance.now()`, whose resolution Chromium coarsens
//! (to 100 µs on pages that are not cross-origin isolated): fast operations
//! are timed in batches. Compare ratios, not absolute times.
#![cfg(target_arch = "wasm32")]

mod workload;

use leptos::prelude::*;
use prompt_runs::api::{ClientConfig, NeuroForgeClient};
use prompt_runs::components::{ExperimentGrid, RunHistory};
use prompt_runs::experiment::{plan, Experiment, InputFormat, InputTable, Pace};
use prompt_runs::model::PromptRun;
use prompt_runs::persist::{
    persist_history, HistoryOptions, MemoryStorage, PersistOptions, Persistence, Scheduler,
    StorageKeys, SyncFeed, SyncState, SyncTarget,
};
use prompt_runs::store::RunsStore;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use workload::{typical_run, ExperimentWorkload, Prose, Scaling};

wasm_bindgen_test_configure!(run_in_browser);

/// Runs persisted and rendered: "10,000 runs" in the words.
const RUNS: usize = 10_000;

fn now() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

fn typical_runs(count: usize) -> Vec<PromptRun> {
    let mut prose = Prose(42);
    (0..count)
        .map(|index| typical_run(index, &mut prose))
        .collect()
}

/// Saves happen only when the benchmark says so.
fn manual_saves() -> PersistOptions {
    let never: Scheduler = Rc::new(|_save| {});
    PersistOptions::default().scheduler(never)
}

/// Resolves after the browser has painted the current DOM (two frames).
async fn painted() {
    for _ in 0..2 {
        let frame = js_sys::Promise::new(&mut |resolve, _| {
            web_sys::window()
                .unwrap()
                .request_animation_frame(&resolve)
                .unwrap();
        });
        wasm_bindgen_futures::JsFuture::from(frame).await.unwrap();
    }
}

/// Waits, checking every `every_ms`, until `done` holds; false after
/// `seconds` (the section then reports what did not finish, rather than the
/// whole benchmark hanging).
async fn wait_until(seconds: f64, every_ms: u32, done: impl Fn() -> bool) -> bool {
    let deadline = now() + seconds * 1_000.0;
    while !untrack(&done) {
        if now() > deadline {
            return false;
        }
        gloo_timers::future::TimeoutFuture::new(every_ms).await;
    }
    true
}

/// Scrolls the virtualized list `viewport` (a selector) under `container`
/// to its end; ms until the rows there are rendered and painted.
async fn scroll_to_end(container: &web_sys::HtmlElement, viewport: &str) -> f64 {
    let viewport: web_sys::HtmlElement = container
        .query_selector(viewport)
        .unwrap()
        .unwrap()
        .unchecked_into();
    let started = now();
    viewport.set_scroll_top(i32::MAX);
    viewport
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    painted().await;
    now() - started
}

fn fresh_container() -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let container = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&container).unwrap();
    container.unchecked_into()
}

fn persistence(owner: &Owner) -> String {
    let runs = typical_runs(RUNS);
    let backend = MemoryStorage::new();
    let store = owner.with(RunsStore::new);
    let persistence = owner.with(|| Persistence::attach(store, backend.clone(), manual_saves()));
    store.set_runs(runs).unwrap();
    let started = now();
    persistence.save_now().unwrap();
    let save = now() - started;

    let started = now();
    let restored = owner.with(RunsStore::new);
    let _restoring = owner.with(|| Persistence::attach(restored, backend.clone(), manual_saves()));
    let load = now() - started;
    assert_eq!(restored.runs().len(), RUNS, "every run restored");
    format!(
        "| {RUNS} typical runs (1 KB output) | ms |\n| --- | ---: |\n\
         | serialize, compress and save | {save:.0} |\n\
         | load, decompress and parse | {load:.0} |\n\
         | stored per run (UTF-16 code units, key included) | {} |\n",
        backend.used_code_units() / RUNS
    )
}

async fn rendering(owner: &Owner) -> String {
    let store = owner.with(RunsStore::new);
    store.set_runs(typical_runs(RUNS)).unwrap();
    let container = fresh_container();
    let started = now();
    let mounted = owner.with(|| {
        leptos::mount::mount_to(container.clone(), move || {
            view! { <RunHistory store height="800px"/> }
        })
    });
    let mounted_at = now() - started;
    painted().await;
    let painted_at = now() - started;
    let elements = container.get_elements_by_tag_name("*").length();
    let rows = container
        .query_selector_all(".history__row")
        .unwrap()
        .length();
    // Jump to the end: the rows there are found by walking the list.
    let scrolled = scroll_to_end(&container, ".history__viewport").await;
    let last = typical_runs(RUNS).pop().unwrap().id;
    let shows_last = container
        .query_selector(&format!("[data-run-id='{last}']"))
        .unwrap()
        .is_some();
    assert!(
        shows_last,
        "the last run is rendered at the end of the list"
    );
    drop(mounted);
    container.remove();
    format!(
        "| RunHistory with {RUNS} runs (800 px high) | |\n| --- | ---: |\n\
         | mount (ms) | {mounted_at:.0} |\n| first paint (ms) | {painted_at:.0} |\n\
         | DOM elements | {elements} |\n| rows rendered | {rows} |\n\
         | scroll to the end, re-render and paint (ms) | {scrolled:.0} |\n"
    )
}

/// Planning and the grid of 1,000 rows × 4 models × 3 repeats (12,000 runs
/// of ~1 KB answers, three checks each), as `ExperimentWorkload` measures
/// natively; then the grid component with those runs: mount (the grid built
/// in it), first paint, DOM elements, scroll to the end.
async fn experiments(owner: &Owner) -> String {
    let workload = ExperimentWorkload::new();
    let mut report = workload.measure(now, 5).table();
    let store = owner.with(RunsStore::new);
    store
        .set_runs(workload.runs.iter().map(|run| (**run).clone()).collect())
        .unwrap();
    let experiment = std::sync::Arc::new(workload.experiment.clone());
    let container = fresh_container();
    let started = now();
    let mounted = owner.with(|| {
        leptos::mount::mount_to(container.clone(), move || {
            let experiment = Signal::stored(Some(experiment));
            view! { <ExperimentGrid store experiment height="800px"/> }
        })
    });
    let mounted_at = now() - started;
    painted().await;
    let painted_at = now() - started;
    let elements = container.get_elements_by_tag_name("*").length();
    assert!(elements < 2_000, "{elements} elements");
    let scrolled = scroll_to_end(&container, ".grid__viewport").await;
    let last = container
        .query_selector(".grid__row[data-row='999']")
        .unwrap()
        .is_some();
    assert!(last, "the last row is drawn at the end");
    drop(mounted);
    container.remove();
    report += &format!(
        "\n| ExperimentGrid, 1,000 rows × 4 models (12,000 runs, 800 px high) | |\n| --- | ---: |\n\
         | mount, the grid built with its checks (ms) | {mounted_at:.0} |\n| first paint (ms) | {painted_at:.0} |\n\
         | DOM elements | {elements} |\n\
         | scroll to the end, re-render and paint (ms) | {scrolled:.0} |\n"
    );
    report
}

/// Saving one new run into the app's IndexedDB history of 1,000 runs and of
/// 100,000: from `add_run` until the save has committed (no debounce here,
/// so it is the save itself: one transaction with the run and the manifest's
/// counts and totals). It should not grow with the history.
async fn save_one_run(owner: &Owner) -> String {
    const SAMPLES: usize = 21;
    let started_at = js_sys::Date::now() as u64;
    let mut report = String::from(
        "| Save one run into an IndexedDB history of | median ms | p90 ms |\n| --- | ---: | ---: |\n",
    );
    let mut medians = Vec::new();
    for size in [1_000, 100_000] {
        let (store, history) = owner.with(|| {
            let store = RunsStore::new();
            let keys = StorageKeys::new(format!("bench-save-{size}-{started_at}"));
            let options = HistoryOptions::default()
                .keys(keys)
                .debounce(std::time::Duration::ZERO);
            let history = persist_history(store, options);
            (store, history)
        });
        let status = history.status();
        let saved = history.clone();
        if !wait_until(60.0, 10, move || status.is_loaded()).await {
            return report + "| the history did not open within 60 s | | |\n";
        }
        store.merge_runs(typical_runs(size));
        if !wait_until(600.0, 50, move || saved.is_saved()).await {
            return report + &format!("| {size} runs were not saved within 600 s | | |\n");
        }
        let mut prose = Prose(11);
        let mut times = Vec::with_capacity(SAMPLES);
        for index in 0..SAMPLES {
            let run = typical_run(2_000_000 + index, &mut prose);
            let started = now();
            store.add_run(run).unwrap();
            let saved = history.clone();
            if !wait_until(30.0, 0, move || saved.is_saved()).await {
                return report + "| a save did not commit within 30 s | | |\n";
            }
            times.push(now() - started);
        }
        times.sort_by(f64::total_cmp);
        let (median, p90) = (times[SAMPLES / 2], times[SAMPLES * 9 / 10]);
        medians.push(median);
        report += &format!("| {size} runs | {median:.1} | {p90:.1} |\n");
    }
    report += &format!(
        "\n100,000 / 1,000 (medians): {:.2}\n",
        medians[1] / medians[0]
    );
    report
}

/// A run finished in browser A until it shows in browser B, each syncing
/// through its own gateway, both gateways on one PostgreSQL (xtask starts
/// them). B holds the server's stream of changes, so A's upload is pushed to
/// it as soon as it is committed (PostgreSQL's NOTIFY wakes B's gateway);
/// each sample starts after a random pause of up to a second, so that no two
/// share an upload.
async fn sync_latency(owner: &Owner) -> String {
    const SAMPLES: usize = 30;
    let (Some(first), Some(second)) = (
        option_env!("PROMPT_RUNS_TEST_GATEWAY"),
        option_env!("PROMPT_RUNS_TEST_SECOND_GATEWAY"),
    ) else {
        return "not measured: `cargo xtask bench` starts the gateways it needs\n".to_owned();
    };
    let started_at = js_sys::Date::now() as u64;
    let workspace = format!("bench-{started_at}");
    let page = |name: &str, server: &str| {
        owner.with(|| {
            let store = RunsStore::new();
            let keys = StorageKeys::new(format!("bench-sync-{name}-{started_at}"));
            let history = persist_history(store, HistoryOptions::default().keys(keys));
            history.sync_with(Some(SyncTarget {
                client: NeuroForgeClient::new(ClientConfig::default().base_url(server)),
                workspace: workspace.clone(),
            }));
            (store, history)
        })
    };
    let (sender, sending) = page("a", first);
    let (receiver, receiving) = page("b", second);
    for history in [&sending, &receiving] {
        let status = history.status();
        if !wait_until(60.0, 20, move || status.sync_state() == SyncState::Synced).await {
            let state = untrack(|| history.status().sync_state());
            return format!("not measured: a page did not sync within 60 s ({state:?})\n");
        }
    }
    let status = receiving.status();
    if !wait_until(60.0, 20, move || status.sync_feed() == SyncFeed::Live).await {
        let feed = untrack(|| receiving.status().sync_feed());
        return format!("not measured: browser B did not hold the stream ({feed:?})\n");
    }
    let mut prose = Prose(7);
    let mut latencies = Vec::with_capacity(SAMPLES);
    for index in 0..SAMPLES {
        let wait = (js_sys::Math::random() * 1_000.0) as u32;
        gloo_timers::future::TimeoutFuture::new(wait).await;
        let run = typical_run(1_000_000 + index, &mut prose);
        let id = run.id.clone();
        let started = now();
        sender.add_run(run).unwrap();
        if !wait_until(60.0, 2, move || receiver.get_run_by_id(&id).is_some()).await {
            return "not measured: a run did not reach the other browser within 60 s\n".to_owned();
        }
        latencies.push(now() - started);
    }
    latencies.sort_by(f64::total_cmp);
    let at = |share: f64| latencies[((latencies.len() - 1) as f64 * share).round() as usize];
    let feed = untrack(|| receiving.status().sync_feed());
    format!(
        "| A run finished in browser A, until browser B has it ({SAMPLES} runs; B's feed: {feed:?}) | ms |\n| --- | ---: |\n\
         | p50 | {:.0} |\n| p99 (the slowest of {SAMPLES}) | {:.0} |\n| fastest | {:.0} |\n",
        at(0.5),
        at(1.0),
        latencies[0]
    )
}

/// An experiment of 2,000 cells on the offline model through the first test
/// gateway, which has the default rate limit (600 requests a minute per
/// client, in bursts of 600): the first 600 go at once, the rest at the
/// gateway's pace, the store waiting when it answers 429. Done when every
/// cell is answered and none failed.
async fn paced_experiment(owner: &Owner) -> String {
    const ROWS: usize = 2_000;
    let Some(gateway) = option_env!("PROMPT_RUNS_TEST_GATEWAY") else {
        return "not measured: `cargo xtask bench` starts the gateway it needs\n".to_owned();
    };
    let client = NeuroForgeClient::new(ClientConfig::default().base_url(gateway));
    let store = owner.with(RunsStore::new);
    let (Ok(models), Ok(limits)) = (client.models().await, client.limits().await) else {
        return "not measured: the gateway did not answer\n".to_owned();
    };
    store.set_models(models);
    store.set_server_limits(Some(limits));
    store.set_executor(client);
    let mut csv = String::from("n\n");
    for row in 0..ROWS {
        csv += &format!("{row}\n");
    }
    let mut experiment = Experiment::new("bench-paced", "Paced");
    experiment.template = "Say {{n}} back".into();
    experiment.inputs = InputTable::parse(csv.as_bytes(), InputFormat::Csv).unwrap();
    experiment.models = vec!["offline-echo".into()];
    experiment.parameters.max_tokens = Some(8);
    let cells = plan(&experiment, &store.models()).unwrap().cells;
    let pace = Pace::of(cells.len(), Some(limits));
    let pauses = Rc::new(std::cell::Cell::new(0));
    let seen = pauses.clone();
    owner.with(|| {
        Effect::new(move |_| {
            if store.execution_pause().is_some() {
                seen.set(seen.get() + 1);
            }
        })
    });
    let started = now();
    let report = store.run_experiment(&experiment, cells, |_| {}).await;
    let seconds = (now() - started) / 1_000.0;
    let Ok(report) = report else {
        return format!("not measured: refused ({report:?})\n");
    };
    let least = match pace {
        Pace::Paced { at_least, .. } => format!("{:.0}", at_least.as_secs_f64()),
        _ => "0".to_owned(),
    };
    format!(
        "| 2,000 cells on offline-echo, default gateway ({} a minute) | |\n| --- | ---: |\n\
         | until the last answer, s | {seconds:.1} |\n\
         | least the rate limit allows, s | {least} |\n\
         | answered | {} |\n| failed | {} |\n| waits for the rate limit | {} |\n",
        limits.requests_per_minute.unwrap_or(0),
        report.succeeded,
        report.failed,
        pauses.get()
    )
}

#[wasm_bindgen_test]
async fn browser_benchmarks() {
    let owner = Owner::new();
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let mut report = String::from("# prompt-runs in headless Chromium\n\n");
    report += "### The store against a naive Vec baseline (median µs per operation + every derived read)\n\n";
    report += &Scaling::measure(now).table();
    console_log!("[bench] Persistence");
    report += "\n### Persistence\n\n";
    report += &persistence(&owner);
    console_log!("[bench] Rendering");
    report += "\n### Rendering\n\n";
    report += &rendering(&owner).await;
    console_log!("[bench] Experiments (median ms of 5)");
    report += "\n### Experiments (median ms of 5)\n\n";
    report += &experiments(&owner).await;
    console_log!("[bench] Saving into a large history");
    report += "\n### Saving into a large history\n\n";
    report += &save_one_run(&owner).await;
    console_log!("[bench] History on the server: two browsers, two gateways, one PostgreSQL");
    report += "\n### History on the server: two browsers, two gateways, one PostgreSQL\n\n";
    report += &sync_latency(&owner).await;

    report += "\n### An experiment paced by the gateway's rate limit\n\n";
    report += &paced_experiment(&owner).await;
    console_log!("BENCHMARK REPORT START\n{report}BENCHMARK REPORT END");
}
