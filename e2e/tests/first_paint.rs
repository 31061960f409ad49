//! The first paint (`first-paint.js`, inlined into `index.html`): once the
//! app has been used, the next start paints the playground as it was left,
//! newest runs included, before the app's wasm runs; the app takes over with
//! no frame in between that lacks them; and a history changed behind the
//! page's back since then paints nothing stale.
//!
//! Needs `dist/` (`trunk build --release`) and chromedriver, like `app.rs`.

use fantoccini::Client;
use prompt_runs_e2e::history::{import, History};
use prompt_runs_e2e::{
    devtools, evaluate, start_gateway, wait_for_answer, wait_for_text, workspace_root, Browser,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const RUNS: usize = 30;
/// How long each wait may take, and how often it looks.
const WAIT: (Duration, Duration) = (Duration::from_secs(30), Duration::from_millis(100));

/// Installed before the page's own scripts: at each animation frame (just
/// before the browser paints it), what shows the history: `["copy", first
/// row, time]` while the first paint's copy is there (the app is invisible
/// under it), `["app", first row, time]` after, and when the copy came.
const WATCH: &str = r#"(() => {
  if (!location.protocol.startsWith('http')) return;
  const seen = (window.__firstPaintSeen = { painted: null, frames: [] });
  const first = (selector) => document.querySelector(selector)?.dataset.runId ?? null;
  const frame = () => {
    const copy = document.getElementById('first-paint');
    if (copy && seen.painted === null) {
      seen.painted = {
        t: performance.now(),
        rows: [...copy.querySelectorAll('.history__row')].map((row) => row.dataset.runId),
      };
    }
    const t = performance.now();
    seen.frames.push(copy ? ['copy', first('#first-paint .history__row'), t] : ['app', first('.history__row'), t]);
    if (seen.frames.length < 1000) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})();"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_later_start_paints_the_newest_runs_before_the_app_runs_and_drops_what_no_longer_matches()
{
    let app = start_gateway(&workspace_root().join("dist"), &[]).await;
    let browser = Browser::start("first-paint", &[]).await;
    let history = History::write(browser.work_dir(), RUNS);
    drive(&browser.client, &app, &history).await;
    browser.close().await;
}

async fn drive(browser: &Client, app: &str, history: &History) {
    devtools(
        browser,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": WATCH }),
    )
    .await
    .expect("Chrome DevTools through chromedriver");
    // Tall enough for the history's first rows to be on screen: the copy
    // keeps only what is.
    browser.set_window_size(1280, 1600).await.unwrap();
    import(browser, app, history).await;
    // The file lists its runs oldest first, and an import keeps the file's
    // order until the next start, which lists them by start time as stored
    // (newest first): the page is kept only once it shows what is stored.
    browser.refresh().await.unwrap();
    let newest = history.newest.clone().expect("runs");
    let kept = wait_for_kept_copy(browser, &newest).await;
    assert!(
        kept < 200_000,
        "the kept page is small beside localStorage's 5 MB: {kept} characters"
    );

    // A later start: the copy is on screen from the first frame that shows
    // the history, newest run first, and the app takes over from it.
    browser.refresh().await.unwrap();
    let seen = taken_over(browser).await;
    let painted = &seen["painted"];
    assert_eq!(
        painted["rows"][0], newest,
        "the copy shows the newest run first: {seen}"
    );
    let frames = seen["frames"].as_array().unwrap();
    let shown: Vec<&Value> = frames
        .iter()
        .skip_while(|frame| frame[1].is_null())
        .collect();
    assert_eq!(shown[0][0], "copy", "the copy came first: {seen}");
    assert!(
        shown.iter().all(|frame| frame[1] == newest),
        "from then on, every frame shows the newest run first: {seen}"
    );
    let app_rows = evaluate(
        browser,
        "return [...document.querySelectorAll('.history__row')].map(row => row.dataset.runId);",
    )
    .await;
    let painted_rows = painted["rows"].as_array().unwrap();
    assert_eq!(
        app_rows.as_array().unwrap()[..painted_rows.len()],
        painted_rows[..],
        "the app shows the rows the copy showed"
    );
    let left = evaluate(
        browser,
        "return document.querySelectorAll('#first-paint, [inert]').length;",
    )
    .await;
    assert_eq!(left, 0, "nothing of the copy is left");
    let dropped = evaluate(
        browser,
        "return performance.getEntriesByName('prompt-runs:first-paint-dropped').length;",
    )
    .await;
    assert_eq!(dropped, 0, "a copy that matches is not dropped");

    // A save drops the copy at once; at rest the page is kept again, and the
    // next start paints the history as it is now.
    let second = app_rows[1].as_str().unwrap().to_owned();
    evaluate(
        browser,
        "document.querySelector('.history__row .history__remove').click(); return null;",
    )
    .await;
    wait_for_text(browser, ".history__count", |text| text == "29 runs").await;
    wait_for_kept_copy(browser, &second).await;
    browser.refresh().await.unwrap();
    let seen = taken_over(browser).await;
    assert_eq!(seen["painted"]["rows"][0], second.as_str(), "{seen}");

    // The newest run changed behind the page's back (written straight into
    // IndexedDB, as a tab that crashed mid-save might leave it): once the
    // head start has read the database, the copy no longer matches, so it
    // is taken down at once and forgotten, and the app shows the run as
    // stored.
    let changed = evaluate(
        browser,
        "return new Promise((done) => {
         const open = indexedDB.open('prompt-runs');
         open.onsuccess = () => {
           const db = open.result;
           const runs = db.transaction('runs', 'readwrite').objectStore('runs');
           const index = runs.index('newest').openCursor(null, 'prev');
           index.onsuccess = () => {
             const record = index.result.value;
             const run = JSON.parse(record.run);
             run.output = 'Changed since the page was kept.';
             record.run = JSON.stringify(run);
             runs.put(record).onsuccess = () => { db.close(); done(record.id); };
           };
         };
         });",
    )
    .await;
    assert_eq!(changed, second.as_str());
    browser.refresh().await.unwrap();
    let seen = taken_over(browser).await;
    wait_for_text(browser, ".history__preview", |text| {
        text.contains("Changed since the page was kept.")
    })
    .await;
    let dropped = evaluate(
        browser,
        "return performance.getEntriesByName('prompt-runs:first-paint-dropped')[0]?.startTime ?? null;",
    )
    .await;
    let dropped = dropped.as_f64().expect("the copy was dropped");
    let frames = seen["frames"].as_array().unwrap();
    assert!(
        frames
            .iter()
            .all(|frame| frame[0] == "app" || frame[2].as_f64().unwrap() <= dropped),
        "no frame showed the copy after the database answered at {dropped}: {seen}"
    );
    assert!(
        frames
            .iter()
            .any(|frame| frame[0] == "app" && frame[1] == second.as_str()),
        "the app showed the run as stored: {seen}"
    );
}

/// size in characters.
async fn wait_for_kept_copy(browser: &Client, newest: &str) -> u64 {
    let mut last = (Value::Null, Instant::now());
    let what = format!("the page is kept with {newest} first");
    wait_for_answer(
        browser,
        "return localStorage.getItem('prompt-runs.first-paint');",
        WAIT,
        &what,
        |kept| {
            if *kept != last.0 {
                last = (kept.clone(), Instant::now());
                return None;
            }
            let text = kept.as_str()?;
            let copy: Value = serde_json::from_str(text).unwrap();
            (copy["ids"][0] == newest && last.1.elapsed() > Duration::from_secs(1))
                .then_some(text.len() as u64)
        },
    )
    .await
}

/// Waits until the app has started (its own history rows or "No runs yet.",
/// no first paint left) and answers what the watch saw, with the first
/// contentful paint's time.
async fn taken_over(browser: &Client) -> Value {
    wait_for_answer(
        browser,
        "const seen = window.__firstPaintSeen;
         const started = document.querySelector('.history__row, .history__empty')
             && !document.getElementById('first-paint');
         const paint = performance.getEntriesByName('first-contentful-paint')[0];
         return started && paint && seen ? Object.assign({ paint: paint.startTime }, seen) : null;",
        WAIT,
        "the app has started",
        |seen| (!seen.is_null()).then(|| seen.clone()),
    )
    .await
}
