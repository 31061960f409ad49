//! The release build's start in headless Chromium, measured with the page's
//! own clock: how long from navigation until the newest runs are on screen
//! and the composer is usable, with 0, 1,000, 10,000 and 100,000 stored
//! typical runs; the empty app's first contentful paint beside a minimal
//! Leptos app's; and memory once 100,000 runs are loaded.
//!
//! `cargo bench -p prompt-runs-e2e --bench startup` (after `trunk build
//! --release` here and in `examples/minimal-leptos`; `cargo xtask bench`
//! does all of it). Progress goes to stderr; the report, in Markdown, to
//! stdout between `STARTUP REPORT START` and `STARTUP REPORT END`.
//!
//! How it is measured:
//! - Each history size is its own origin (a gateway on its own loopback
//!   port, so its own IndexedDB), filled as a person would: a JSON export of
//!   typical runs (`benches/workload/mod.rs`) chosen in the app's "Import
//!   JSON" input, then waited for until the app's localStorage manifest
//!   counts every run as saved.
//! - Navigations go round the sizes (empty, 1k, 10k, 100k; then 1k, 10k,
//!   100k, empty; …), each from `about:blank` after a pause, so that a slow
//!   spell of this shared machine falls on every size alike and no size
//!   always follows the same one; the median per size is reported.
//! - A script installed with Chrome DevTools' `addScriptToEvaluateOnNewDocument`
//!   runs before the page's own: a `MutationObserver` notes when the DOM
//!   first shows each state, and the next animation frame after it (what
//!   "on screen" means here), in `performance.now()`, i.e. milliseconds
//!   since navigation start. It also keeps the app's `WebAssembly.Memory`
//!   as the wasm-bindgen glue instantiates it: the page does not expose it,
//!   and nothing is added to the app to measure it.
//! - The JS heap is Chrome DevTools' `Runtime.getHeapUsage` after a forced
//!   garbage collection.
//! - The first paint (`first-paint.js`) paints a copy of the page kept at
//!   the previous visit: one unmeasured start per origin waits until the
//!   page has kept it, as any visit does once at rest. The table says how
//!   many starts painted it, and times the app's own first screen apart.
//!   The empty app's first contentful paint is also measured as a first
//!   visit's: its localStorage cleared before each such navigation.

use fantoccini::wd::TimeoutConfiguration;
use fantoccini::Client;
use prompt_runs_e2e::history::{import, History};
use prompt_runs_e2e::{
    devtools, headless_chromium, start_chromedriver, start_gateway, wait_for_answer,
};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Stored runs per origin.
const SIZES: [usize; 4] = [0, 1_000, 10_000, 100_000];
/// Navigations per size for the start-up figures.
const START_NAVIGATIONS: usize = 7;
/// Navigations per app for first contentful paint.
const PAINT_NAVIGATIONS: usize = 11;
/// The browser window's outer size, in CSS pixels.
const WINDOW: (u32, u32) = (1280, 1400);
/// Issue 11's goals.
const START_GOAL_RATIO: f64 = 1.2;
const PAINT_GOAL_RATIO: f64 = 1.5;
const MEMORY_GOAL_BYTES: f64 = 150e6;
/// Optional: a directory serving krausest/js-framework-benchmark's keyed
/// Leptos build (its `frameworks/keyed/leptos/index.html` at the root, its
/// `bundled-dist/` beside it), timed as a third app. Never downloaded here:
/// the benchmark runs on a machine that reaches only crates.io, npm and Debian.
const JS_FRAMEWORK_BENCHMARK_ENV: &str = "PROMPT_RUNS_BENCH_JFB_LEPTOS";

/// Installed before every document's own scripts (see the module docs).
/// Each change of what the page shows is an event: its DOM time `t` and
/// the time of the next animation frame, `frame`.
const OBSERVER: &str = r#"(() => {
  if (!location.protocol.startsWith('http')) return;
  const bench = { events: [], memories: [], sawLoading: false, loadingEnded: null };
  window.__startupBench = bench;
  const keep = (result) => {
    const instance = result instanceof WebAssembly.Instance ? result : result.instance;
    for (const value of Object.values(instance.exports)) {
      if (value instanceof WebAssembly.Memory) bench.memories.push(value);
    }
    return result;
  };
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const original = WebAssembly[name];
    if (original) WebAssembly[name] = function (...args) { return original.apply(this, args).then(keep); };
  }
  // Each IndexedDB request: [what, when made, when answered (first success or error)].
  bench.requests = [];
  const watch = (proto, label, name) => {
    const original = proto[name];
    if (!original) return;
    proto[name] = function (...args) {
      const request = original.apply(this, args);
      const entry = [label + name, performance.now(), null];
      bench.requests.push(entry);
      const answered = () => { if (entry[2] === null) entry[2] = performance.now(); };
      request.addEventListener('success', answered);
      request.addEventListener('error', answered);
      return request;
    };
  };
  watch(IDBFactory.prototype, 'indexedDB.', 'open');
  for (const [proto, label] of [[IDBObjectStore.prototype, 'store.'], [IDBIndex.prototype, 'index.']]) {
    for (const name of ['get', 'getAll', 'getAllKeys', 'count', 'openCursor', 'openKeyCursor']) watch(proto, label, name);
  }
  let last = '';
  const check = () => {
    const t = performance.now();
    const row = document.querySelector('.history__row');
    // The first paint (first-paint.js) shows a copy of the page, inert, until
    // the app's own first screen is in: its rows are on screen, its composer
    // is not usable. `appRow` is the app's own.
    const appRow = document.querySelector('.history__row:not(#first-paint *)');
    const prompt = document.querySelector('.composer__prompt:not(#first-paint *)');
    const place = document.querySelector('.storage__place');
    const count = document.querySelector('.history__count');
    const state = {
      row: row ? row.getAttribute('data-run-id') : null,
      appRow: appRow ? appRow.getAttribute('data-run-id') : null,
      appEmpty: (document.querySelector('.history__empty:not(#first-paint *)')?.textContent ?? '').includes('No runs yet'),
      firstPaint: document.getElementById('first-paint') !== null,
      count: count ? count.textContent : null,
      // "No runs yet.", not "Opening the saved history…" (shown until the database answers).
      empty: (document.querySelector('.history__empty')?.textContent ?? '').includes('No runs yet'),
      stored: place !== null && place.textContent.includes('IndexedDB'),
      composer: prompt !== null && !prompt.disabled,
      loading: document.querySelector('.history__loading') !== null,
    };
    if (bench.sawLoading && !state.loading && !last.includes('"loading":false')) bench.loadingEnded = t;
    bench.sawLoading = bench.sawLoading || state.loading;
    const key = JSON.stringify(state);
    if (key === last) return;
    last = key;
    const event = Object.assign({ t, frame: null }, state);
    bench.events.push(event);
    requestAnimationFrame(() => { event.frame = performance.now(); });
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})();"#;

/// Waits (in the page) until the history's first screen and the composer
/// are shown and painted: `arguments[0]` is the newest run's id, or null for
/// an empty history, whose first screen is "No runs yet." once the database
/// has answered. Answers the frame times, the first contentful paint, what
/// the history's count said then, and the slowest IndexedDB request answered
/// before (where the wait went); null after 60 s.
const WAIT_FOR_START: &str = r#"
const [newest, done] = arguments;
const started = performance.now();
const shown = newest === null ? (e) => e.empty && e.stored : (e) => e.row === newest;
const appShown = newest === null ? (e) => e.appEmpty && e.stored && !e.firstPaint : (e) => e.appRow === newest && !e.firstPaint;
const poll = () => {
  const bench = window.__startupBench;
  if (bench) {
    const composer = bench.events.find((e) => e.composer);
    const history = bench.events.find(shown);
    const app = bench.events.find(appShown);
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    if (composer && history && app && composer.frame !== null && history.frame !== null && app.frame !== null && paint) {
      const slowest = bench.requests
        .filter((r) => r[2] !== null && r[2] <= history.t)
        .reduce((a, r) => (a === null || r[2] - r[1] > a[2] - a[1] ? r : a), null);
      return done({ composer: composer.frame, history: history.frame, historyDom: history.t,
                    app: app.frame, firstPaint: bench.events.some((e) => e.firstPaint),
                    count: history.count, paint: paint.startTime,
                    slowest: slowest && [slowest[0], slowest[2] - slowest[1]] });
    }
  }
  if (performance.now() - started > 60000) return done(null);
  setTimeout(poll, 25);
};
poll();
"#;

/// Waits (in the page) for its first contentful paint; null after 30 s.
const WAIT_FOR_PAINT: &str = r#"
const done = arguments[0];
const started = performance.now();
const poll = () => {
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  if (paint) return done(paint.startTime);
  if (performance.now() - started > 30000) return done(null);
  setTimeout(poll, 25);
};
poll();
"#;

/// Waits (in the page) until every stored run is loaded: the newest run
/// shown (`arguments[0]`, or null: empty), the database answered, and no
/// "Loading older runs" (after it was seen, when `arguments[1]`). Answers
/// when loading ended, the wasm memory's size, and the count shown.
const WAIT_FOR_ALL_LOADED: &str = r#"
const [newest, mustLoad, done] = arguments;
const poll = () => {
  const bench = window.__startupBench;
  const now = bench && bench.events[bench.events.length - 1];
  const shown = now && (newest === null ? now.empty : now.row === newest);
  if (shown && now.stored && !now.loading && (bench.sawLoading || !mustLoad)) {
    const wasm = Math.max(0, ...bench.memories.map((memory) => memory.buffer.byteLength));
    return done({ loaded: bench.loadingEnded === null ? now.t : bench.loadingEnded, wasm, count: now.count });
  }
  setTimeout(poll, 100);
};
poll();
"#;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let started = Instant::now();
    let root = prompt_runs_e2e::workspace_root();
    let work = root.join("target/startup-bench");
    std::fs::create_dir_all(&work).expect("target/startup-bench");
    let reference_dist = root.join("examples/minimal-leptos/dist");

    progress(
        started,
        "writing the histories to import (JSON exports of typical runs)",
    );
    let histories: Vec<History> = SIZES
        .iter()
        .map(|&size| History::write(&work, size))
        .collect();

    let mut apps = Vec::new();
    for _ in SIZES {
        apps.push(start_gateway(&root.join("dist"), &[]).await);
    }
    let reference = start_gateway(&reference_dist, &[]).await;
    let js_framework_benchmark = match std::env::var_os(JS_FRAMEWORK_BENCHMARK_ENV) {
        Some(dir) => Some(start_gateway(Path::new(&dir), &[]).await),
        None => None,
    };
    let driver = start_chromedriver().await;
    let profile = work.join("profile");
    let _ = std::fs::remove_dir_all(&profile);
    let browser = headless_chromium(&driver.url, &profile, &[]).await;
    browser
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(300)),
            Some(Duration::from_secs(120)),
            None,
        ))
        .await
        .expect("WebDriver timeouts");
    // Tall enough that the history's first rows are on screen (at the
    // harness's 1280×1100 they start at the window's bottom edge): what the
    // figures call "on screen" is then what a person sees.
    browser
        .set_window_size(WINDOW.0, WINDOW.1)
        .await
        .expect("the window's size");
    devtools(
        &browser,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": OBSERVER }),
    )
    .await
    .expect("Chrome DevTools through chromedriver");

    for (history, app) in histories.iter().zip(&apps) {
        if history.size > 0 {
            progress(
                started,
                &format!(
                    "importing {} runs through the app's Import JSON",
                    thousands(history.size)
                ),
            );
            import(&browser, app, history).await;
        }
    }
    // One unmeasured start of each: the wasm compiled and cached, the
    // databases opened once, and the page at rest kept for the next first
    // paint (first-paint.js), as on any later visit.
    for (history, app) in histories.iter().zip(&apps) {
        time_start(&browser, app, history).await;
        wait_until_kept(&browser, history).await;
    }

    let mut starts: Vec<Vec<Start>> = SIZES.iter().map(|_| Vec::new()).collect();
    for round in 0..START_NAVIGATIONS {
        progress(
            started,
            &format!(
                "start-up: round {} of {START_NAVIGATIONS} over every size",
                round + 1
            ),
        );
        for index in rotated(round, SIZES.len()) {
            starts[index].push(time_start(&browser, &apps[index], &histories[index]).await);
        }
    }

    let mut painted = vec![
        ("prompt-runs, empty history", &apps[0], Vec::new()),
        (FIRST_VISIT, &apps[0], Vec::new()),
    ];
    painted.push((
        "minimal Leptos 0.8 CSR (examples/minimal-leptos)",
        &reference,
        Vec::new(),
    ));
    if let Some(url) = &js_framework_benchmark {
        painted.push((
            "js-framework-benchmark keyed Leptos (bundled-dist)",
            url,
            Vec::new(),
        ));
    }
    for (_, url, _) in &painted {
        first_contentful_paint(&browser, url).await; // unmeasured, as above
    }
    for round in 0..PAINT_NAVIGATIONS {
        progress(
            started,
            &format!(
                "first contentful paint: round {} of {PAINT_NAVIGATIONS}",
                round + 1
            ),
        );
        for index in rotated(round, painted.len()) {
            let (name, url, _) = painted[index];
            if name == FIRST_VISIT {
                forget_kept_copy(&browser, url).await;
            }
            let paint = first_contentful_paint(&browser, url).await;
            painted[index].2.push(paint);
            if name == FIRST_VISIT {
                // Kept again, for the other row.
                wait_until_kept(&browser, &histories[0]).await;
            }
        }
    }

    let mut memory = Vec::new();
    for index in [0, 2, 3] {
        progress(
            started,
            &format!("memory once {} runs are loaded", thousands(SIZES[index])),
        );
        memory.push((
            SIZES[index],
            measure_memory(&browser, &apps[index], &histories[index]).await,
        ));
    }
    let _ = browser.close().await;
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    for history in &histories {
        let _ = std::fs::remove_file(&history.path);
    }

    let mut report = String::new();
    start_table(&mut report, &starts);
    paint_table(&mut report, &painted, &root, &reference_dist);
    memory_table(&mut report, &memory);
    progress(started, "done");
    println!("STARTUP REPORT START\n{report}STARTUP REPORT END");
}

/// `0..count`, starting at `round % count`: each round starts with another
/// page, so that none always follows the same one (whose work may linger).
fn rotated(round: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |offset| (round + offset) % count)
}

/// A fresh navigation to `url`, from a blank page, after a pause that lets
/// the previous page's work end.
async fn navigate(browser: &Client, url: &str) {
    browser.goto("about:blank").await.expect("about:blank");
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser.goto(url).await.expect("the page loads");
}

/// One start, in ms since navigation start.
#[derive(Clone, Debug)]
struct Start {
    paint: f64,
    composer: f64,
    history: f64,
    /// The app's own first screen (not the first paint's copy): its newest
    /// run, or its "No runs yet.", with the copy gone.
    app: f64,
    /// The newest runs were in the DOM by the first contentful paint.
    history_in_first_paint: bool,
    /// The kept copy of the page was painted (first-paint.js).
    from_kept_copy: bool,
    /// The slowest IndexedDB request answered before they were: what and ms.
    slowest_request: Option<(String, f64)>,
}

impl Start {
    fn ready(&self) -> f64 {
        self.composer.max(self.history)
    }
}

async fn time_start(browser: &Client, app: &str, history: &History) -> Start {
    navigate(browser, app).await;
    let answer = browser
        .execute_async(WAIT_FOR_START, vec![json!(history.newest)])
        .await
        .expect("the start is timed");
    let field = |name: &str| {
        answer[name].as_f64().unwrap_or_else(|| {
            panic!(
                "{} runs: the newest run and the composer were not shown within 60 s ({answer})",
                history.size
            )
        })
    };
    let expected = format!("{} run", thousands(history.size));
    let count = answer["count"].as_str().unwrap_or_default();
    assert!(
        count.starts_with(&expected),
        "the first screen of {} runs counts {count:?}",
        history.size
    );
    Start {
        paint: field("paint"),
        composer: field("composer"),
        history: field("history"),
        app: field("app"),
        history_in_first_paint: field("historyDom") <= field("paint"),
        from_kept_copy: answer["firstPaint"].as_bool().unwrap_or_default(),
        slowest_request: answer["slowest"][0].as_str().map(|what| {
            let ms = answer["slowest"][1].as_f64().unwrap_or_default();
            (what.to_owned(), ms)
        }),
    }
}

/// The row of the empty app measured without a kept copy of its page.
const FIRST_VISIT: &str = "prompt-runs, empty history, nothing kept yet (a first visit)";

/// Where first-paint.js keeps the page.
const KEPT_COPY: &str = "prompt-runs.first-paint";

/// Waits (up to 10 s) until the page has kept a copy of itself, as it does
/// once at rest: its rows on screen start with the newest run (none, where
/// the window ends above the history).
async fn wait_until_kept(browser: &Client, history: &History) {
    let script = format!(
        "const kept = JSON.parse(localStorage.getItem('{KEPT_COPY}') || 'null');
         return kept && kept.path === '/' ? kept.ids : null;"
    );
    let what = format!(
        "{} runs: the page is kept for the next first paint",
        history.size
    );
    let every = (Duration::from_secs(10), Duration::from_millis(100));
    wait_for_answer(browser, &script, every, &what, |kept| {
        let ids = kept.as_array()?;
        ids.first()
            .is_none_or(|id| *id == json!(history.newest))
            .then_some(())
    })
    .await;
}

/// Clears the localStorage of origin `url` (from `about:blank`, through
/// Chrome DevTools, so that no page of the app runs meanwhile to keep a copy
/// again): the next navigation paints as a first visit's, with nothing kept.
/// Only the empty history's origin is cleared: its IndexedDB holds no run,
/// so the localStorage manifest it loses counts none either.
async fn forget_kept_copy(browser: &Client, url: &str) {
    browser.goto("about:blank").await.expect("about:blank");
    devtools(
        browser,
        "Storage.clearDataForOrigin",
        json!({ "origin": url.trim_end_matches('/'), "storageTypes": "local_storage" }),
    )
    .await
    .expect("localStorage cleared through Chrome DevTools");
}

async fn first_contentful_paint(browser: &Client, url: &str) -> f64 {
    navigate(browser, url).await;
    browser
        .execute_async(WAIT_FOR_PAINT, vec![])
        .await
        .expect("the paint is timed")
        .as_f64()
        .unwrap_or_else(|| panic!("{url} painted nothing within 30 s"))
}

/// Once every run is loaded: when loading ended (ms since navigation start),
/// the wasm memory's size and the JS heap in use (bytes).
struct Memory {
    loaded: f64,
    wasm: f64,
    js_heap: f64,
}

async fn measure_memory(browser: &Client, app: &str, history: &History) -> Memory {
    navigate(browser, app).await;
    let answer = browser
        .execute_async(
            WAIT_FOR_ALL_LOADED,
            vec![json!(history.newest), json!(history.size > 60)],
        )
        .await
        .expect("every run loads within the script timeout");
    let count = answer["count"].as_str().unwrap_or_default();
    assert!(
        count.starts_with(&format!("{} run", thousands(history.size))),
        "{count:?} once {} runs are loaded",
        history.size
    );
    devtools(browser, "HeapProfiler.collectGarbage", json!({}))
        .await
        .expect("a garbage collection");
    let heap = devtools(browser, "Runtime.getHeapUsage", json!({}))
        .await
        .expect("the JS heap's size");
    Memory {
        loaded: answer["loaded"].as_f64().unwrap_or_default(),
        wasm: answer["wasm"].as_f64().unwrap_or_default(),
        js_heap: heap["usedSize"].as_f64().expect("usedSize"),
    }
}

fn start_table(report: &mut String, starts: &[Vec<Start>]) {
    let median_of =
        |starts: &[Start], value: fn(&Start) -> f64| median(starts.iter().map(value).collect());
    let empty = median_of(&starts[0], Start::ready);
    let _ = writeln!(
        report,
        "## Start-up with a growing history (release build, headless Chromium)\n\n\
         Milliseconds from navigation start (the page's `performance.now()`) to the animation \
         frame after the DOM shows it, median of {START_NAVIGATIONS} navigations per size, the \
         sizes taken in turn. History shown: the first row is the newest run (empty history: \
         \"No runs yet.\" once the database has answered). Composer: the prompt textarea exists \
         and is enabled (the app's, not the first paint's inert copy). App's own: the app's \
         first screen, the copy gone. Kept copy: navigations where the copy of the page kept \
         by first-paint.js was painted. Slowest request: the longest IndexedDB request \
         answered before the newest runs were shown (where the wait went), median.\n\n\
         | stored runs | first contentful paint | composer usable | newest runs on screen | both | both / empty | app's own first screen | newest runs in the first paint | kept copy painted | slowest request |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for (size, starts) in SIZES.iter().zip(starts) {
        let ready = median_of(starts, Start::ready);
        let in_first_paint = starts
            .iter()
            .filter(|start| start.history_in_first_paint)
            .count();
        let mut requests: Vec<&(String, f64)> = starts
            .iter()
            .filter_map(|start| start.slowest_request.as_ref())
            .collect();
        requests.sort_by(|a, b| a.1.total_cmp(&b.1));
        let slowest = requests
            .get(requests.len() / 2)
            .map_or_else(String::new, |(what, ms)| format!("`{what}` {ms:.0}"));
        let from_copy = starts.iter().filter(|start| start.from_kept_copy).count();
        let _ = writeln!(
            report,
            "| {} | {:.0} | {:.0} | {:.0} | {ready:.0} | {:.2} | {:.0} | {in_first_paint} of {} | {from_copy} of {} | {slowest} |",
            thousands(*size),
            median_of(starts, |start| start.paint),
            median_of(starts, |start| start.composer),
            median_of(starts, |start| start.history),
            ready / empty,
            median_of(starts, |start| start.app),
            starts.len(),
            starts.len()
        );
    }
    let ratio = median_of(&starts[3], Start::ready) / empty;
    let _ = writeln!(
        report,
        "\n100,000 runs / empty: {ratio:.2} ({} the goal of {START_GOAL_RATIO})\n",
        verdict(ratio <= START_GOAL_RATIO)
    );
}

fn paint_table(
    report: &mut String,
    painted: &[(&str, &String, Vec<f64>)],
    root: &Path,
    reference_dist: &Path,
) {
    let _ = writeln!(
        report,
        "## First contentful paint of the empty app beside minimal Leptos apps\n\n\
         `first-contentful-paint` in ms, median of {PAINT_NAVIGATIONS} navigations each, the apps \
         taken in turn, all release builds served by the gateway on loopback.\n\n\
         | app | first contentful paint | / minimal Leptos | .wasm + .js bytes (gzip -9) |\n\
         | --- | ---: | ---: | ---: |"
    );
    let reference = median(painted[2].2.clone());
    let dists = [
        Some(root.join("dist")),
        Some(root.join("dist")),
        Some(reference_dist.to_path_buf()),
        std::env::var_os(JS_FRAMEWORK_BENCHMARK_ENV)
            .map(|dir| PathBuf::from(dir).join("bundled-dist")),
    ];
    for ((name, _, paints), dist) in painted.iter().zip(dists) {
        let paint = median(paints.clone());
        let size = dist.map_or_else(String::new, |dist| bundle_size(&dist));
        let _ = writeln!(
            report,
            "| {name} | {paint:.0} | {:.2} | {size} |",
            paint / reference
        );
    }
    let ratio = median(painted[0].2.clone()) / reference;
    let _ = writeln!(
        report,
        "\nprompt-runs / minimal Leptos: {ratio:.2} ({} the goal of {PAINT_GOAL_RATIO})\n",
        verdict(ratio <= PAINT_GOAL_RATIO)
    );
}

fn memory_table(report: &mut String, memory: &[(usize, Memory)]) {
    let _ = writeln!(
        report,
        "## Memory once every stored run is loaded\n\n\
         wasm memory: the app's `WebAssembly.Memory` size (it only grows: the most the app's \
         allocator ever held); JS heap: Chrome DevTools' `Runtime.getHeapUsage` after a forced \
         garbage collection. Loaded: ms from navigation start until \"Loading older runs\" went \
         away.\n\n\
         | stored runs | all loaded | wasm memory MB | JS heap MB | total MB |\n\
         | ---: | ---: | ---: | ---: | ---: |"
    );
    for (size, memory) in memory {
        let _ = writeln!(
            report,
            "| {} | {:.0} | {:.1} | {:.1} | {:.1} |",
            thousands(*size),
            memory.loaded,
            memory.wasm / 1e6,
            memory.js_heap / 1e6,
            (memory.wasm + memory.js_heap) / 1e6
        );
    }
    if let Some((_, largest)) = memory.last() {
        let total = largest.wasm + largest.js_heap;
        let _ = writeln!(
            report,
            "\nAt {} runs: {:.1} MB ({} the goal of {:.0} MB)\n",
            thousands(memory.last().map_or(0, |(size, _)| *size)),
            total / 1e6,
            verdict(total <= MEMORY_GOAL_BYTES),
            MEMORY_GOAL_BYTES / 1e6
        );
    }
}

/// `.wasm` + `.js` bytes in `dist`, raw and gzip -9.
fn bundle_size(dist: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(dist) else {
        return String::new();
    };
    let (mut raw, mut gzip) = (0, 0);
    for path in entries.filter_map(|entry| entry.ok().map(|entry| entry.path())) {
        if path
            .extension()
            .is_some_and(|ext| ext == "wasm" || ext == "js")
        {
            raw += std::fs::metadata(&path).map_or(0, |meta| meta.len() as usize);
            gzip += std::process::Command::new("gzip")
                .arg("-9c")
                .arg(&path)
                .output()
                .map_or(0, |out| out.stdout.len());
        }
    }
    format!("{} ({})", thousands(raw), thousands(gzip))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn verdict(met: bool) -> &'static str {
    if met {
        "meets"
    } else {
        "MISSES"
    }
}

/// `100000` → `"100,000"`, as the app writes counts.
fn thousands(value: usize) -> String {
    prompt_runs::components::format::thousands(value as u64)
}

fn progress(started: Instant, what: &str) {
    eprintln!("[startup {:>4}s] {what}", started.elapsed().as_secs());
}
