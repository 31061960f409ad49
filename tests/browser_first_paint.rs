//! The first paint (`first-paint.js`, inlined at the top of the app's
//! `<body>`) in headless Chromium, over a real database and a real
//! `RunHistory`: the page at rest is kept and painted again, checked against
//! the database; a save drops it; a page not at rest is not kept; a copy
//! that is damaged or hostile paints nothing that runs or loads. Each test
//! runs the scripts on a database of its own (the scripts' name for it
//! replaced), so that one test's script never keeps or drops another's copy.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use prompt_runs::components::RunHistory;
use prompt_runs::persist::StorageKeys;
use prompt_runs::store::RunsStore;
use support::history::*;
use support::mounted::Mounted;
use support::{eventually, sleep};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const HEAD_START: &str = include_str!("../history-head-start.js");
const FIRST_PAINT: &str = include_str!("../first-paint.js");
/// A test's database and keys, empty, and no copy kept.
async fn fresh_history(test: &str) -> StorageKeys {
    let keys = fresh(&format!("first-paint-{test}")).await;
    local_storage().remove_item(&key(&keys)).unwrap();
    keys
}

/// Where the script keeps the page.
fn key(keys: &StorageKeys) -> String {
    format!("{}.first-paint", keys.prefix())
}

/// Runs both scripts as the page does at its start, on `keys`' database:
/// the head start, then the first paint, which paints a kept copy there and
/// then.
fn page_start(keys: &StorageKeys) {
    let database = format!("const database = '{}';", keys.prefix());
    let head_start = HEAD_START.replace("const database = 'prompt-runs';", &database);
    assert_ne!(head_start, HEAD_START);
    js_sys::eval(&head_start).expect("the head start runs");
    js_sys::eval(FIRST_PAINT).expect("the first paint runs");
}

fn first_paint_api() -> JsValue {
    js_sys::Reflect::get(
        &web_sys::window().unwrap(),
        &"__promptRunsFirstPaint".into(),
    )
    .unwrap()
}

/// Calls `name` on the script's `window.__promptRunsFirstPaint`, awaiting a promise.
async fn call(name: &str) {
    let function: js_sys::Function = js_sys::Reflect::get(&first_paint_api(), &name.into())
        .unwrap()
        .unchecked_into();
    let answer = function.call0(&first_paint_api()).unwrap();
    if let Ok(promise) = answer.dyn_into::<js_sys::Promise>() {
        JsFuture::from(promise).await.unwrap();
    }
}

/// Waits for the head start's read (the script checks the copy then).
async fn head_start_read() {
    let head =
        js_sys::Reflect::get(&web_sys::window().unwrap(), &"__promptRunsHeadStart".into()).unwrap();
    let result = js_sys::Reflect::get(&head, &"result".into()).unwrap();
    let _ = JsFuture::from(result.unchecked_into::<js_sys::Promise>()).await;
    sleep(0).await;
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn copy_on_page() -> Option<web_sys::Element> {
    document().get_element_by_id("first-paint")
}

/// The ids of the rows in `root` (only those on screen, when `on_screen`).
fn row_ids(root: &web_sys::Element, on_screen: bool) -> Vec<String> {
    let bottom = web_sys::window()
        .unwrap()
        .inner_height()
        .unwrap()
        .as_f64()
        .unwrap();
    let rows = root.query_selector_all(".history__row").unwrap();
    (0..rows.length())
        .map(|index| {
            rows.item(index)
                .unwrap()
                .unchecked_into::<web_sys::Element>()
        })
        .filter(|row| !on_screen || row.get_bounding_client_rect().top() < bottom)
        .map(|row| row.get_attribute("data-run-id").unwrap())
        .collect()
}

fn kept(keys: &StorageKeys) -> Option<serde_json::Value> {
    local_storage()
        .get_item(&key(keys))
        .unwrap()
        .map(|text| serde_json::from_str(&text).unwrap())
}

/// The history of `runs` runs, saved, and shown by a `RunHistory`.
async fn shown_history(keys: &StorageKeys, runs: usize) -> (Page, Mounted) {
    let page = Page::loaded(options(keys)).await;
    page.store.merge_runs(history(runs));
    page.saved().await;
    let store: RunsStore = page.store;
    let mounted = Mounted::new(move || view! { <RunHistory store height="400px"/> });
    // At the top of the window: the copy keeps only what is on screen.
    let style = mounted.container.style();
    style.set_property("position", "fixed").unwrap();
    style.set_property("inset", "0 0 auto 0").unwrap();
    style.set_property("background", "white").unwrap();
    eventually("the rows are drawn", {
        let container = mounted.container.clone();
        move || container.query_selector(".history__row").unwrap().is_some()
    })
    .await;
    (page, mounted)
}

#[wasm_bindgen_test]
fn the_script_listens_to_the_channel_the_history_announces_saves_on() {
    // src/persist/indexed/history/mod.rs: format!("{}:history", prefix), with the
    // head start's database name as the prefix.
    assert!(FIRST_PAINT.contains("new BroadcastChannel(`${database}:history`)"));
    assert!(HEAD_START.contains(&format!(
        "const database = '{}';",
        StorageKeys::default().prefix()
    )));
}

#[wasm_bindgen_test]
async fn a_history_at_rest_is_kept_and_painted_at_the_next_start_until_the_app_has_shown_it() {
    let keys = fresh_history("rest").await;
    let (page, mounted) = shown_history(&keys, 30).await;
    page_start(&keys);
    call("keep").await;
    let copy = kept(&keys).expect("the page at rest is kept");
    let shown = row_ids(&mounted.container, true);
    assert!(
        shown.len() < row_ids(&mounted.container, false).len(),
        "some rows drawn are below the window"
    );
    assert_eq!(
        copy["ids"],
        serde_json::json!(shown),
        "the rows on screen, no others"
    );
    assert_eq!(shown[0], "r000029", "newest first");
    assert_eq!(
        copy["path"],
        document().location().unwrap().pathname().unwrap()
    );
    drop(mounted);
    page.close();

    // The next start: painted while the page is parsed, before the database
    // has answered; still there once it has, since it matches.
    page_start(&keys);
    let painted = copy_on_page().expect("the kept copy is painted at once");
    assert_eq!(row_ids(&painted, false), shown);
    assert!(painted.has_attribute("inert"));
    assert_eq!(
        painted.get_attribute("aria-hidden").as_deref(),
        Some("true")
    );
    head_start_read().await;
    assert!(copy_on_page().is_some(), "it matches what is stored");
    call("shown").await;
    assert!(copy_on_page().is_none(), "the app took over");
    assert!(kept(&keys).is_some(), "still kept for the next start");
}

#[wasm_bindgen_test]
async fn a_copy_that_no_longer_matches_the_database_comes_down_when_the_database_answers() {
    let keys = fresh_history("stale").await;
    let (page, mounted) = shown_history(&keys, 30).await;
    page_start(&keys);
    call("keep").await;
    let copy = local_storage()
        .get_item(&key(&keys))
        .unwrap()
        .expect("kept");
    // A later run, saved; the copy is put back as a tab that crashed before
    // the save's announcement reached anyone would have left it.
    page.store.add_run(run("later", 1_800_000_000_000)).unwrap();
    page.saved().await;
    drop(mounted);
    page.close();
    eventually("the announcement dropped the copy", || {
        kept(&keys).is_none()
    })
    .await;
    local_storage().set_item(&key(&keys), &copy).unwrap();

    page_start(&keys);
    assert!(
        copy_on_page().is_some(),
        "painted before the database answered"
    );
    head_start_read().await;
    assert!(
        copy_on_page().is_none(),
        "taken down: it lacks the newest run"
    );
    assert!(kept(&keys).is_none(), "and forgotten");
}

#[wasm_bindgen_test]
async fn a_save_drops_the_copy_at_once() {
    let keys = fresh_history("save").await;
    let (page, mounted) = shown_history(&keys, 5).await;
    page_start(&keys);
    call("keep").await;
    assert!(kept(&keys).is_some());
    page.store.add_run(run("newer", 1_800_000_000_000)).unwrap();
    page.saved().await;
    eventually("the save's announcement drops the copy", || {
        kept(&keys).is_none()
    })
    .await;
    drop(mounted);
    page.close();
}

#[wasm_bindgen_test]
async fn a_page_not_at_rest_is_not_kept() {
    let keys = fresh_history("busy").await;
    let (page, mounted) = shown_history(&keys, 30).await;
    page_start(&keys);
    // Scrolled down the list: its top is not on screen.
    let viewport = mounted.get(".history__viewport");
    viewport.set_scroll_top(400);
    call("keep").await;
    assert!(kept(&keys).is_none(), "scrolled");
    viewport.set_scroll_top(0);
    // A run going: its card changes with every token.
    let mut running = run("going", 1_800_000_000_000);
    running.status = prompt_runs::model::RunStatus::Running;
    page.store.merge_runs(vec![running]);
    eventually("the running run is drawn", || {
        document()
            .query_selector(".badge--running")
            .unwrap()
            .is_some()
    })
    .await;
    call("keep").await;
    assert!(kept(&keys).is_none(), "a run going");
    drop(mounted);
    page.close();
}

#[wasm_bindgen_test]
async fn a_damaged_or_hostile_copy_paints_nothing_that_runs_or_loads() {
    let keys = fresh_history("hostile").await;
    let path = document().location().unwrap().pathname().unwrap();
    let store = |tree: serde_json::Value| {
        let copy = serde_json::json!({
            "format": 1, "path": path, "rows": 0, "ids": [], "fingerprint": 0, "tree": tree,
        });
        local_storage()
            .set_item(&key(&keys), &copy.to_string())
            .unwrap();
    };

    // An element that runs script: nothing is painted, and the copy is forgotten.
    store(serde_json::json!([[
        "div",
        {},
        ["script", {}, "window.__ran = true"]
    ]]));
    page_start(&keys);
    assert!(copy_on_page().is_none());
    assert!(
        kept(&keys).is_none(),
        "a copy that cannot be painted is forgotten"
    );

    // Handlers, script URLs, ids and markup in text: none of it survives.
    store(serde_json::json!([[
        "div",
        { "class": "app", "onclick": "window.__ran = true", "id": "composer" },
        ["a", { "href": "javascript:window.__ran = true", "class": "link" }, "link"],
        ["a", { "href": "//elsewhere.example/", "class": "far" }, "far"],
        ["a", { "href": "/experiments/", "class": "near" }, "near"],
        ["div", { "class": "fetches", "style": "background: url(https://elsewhere.example/x.png)" }],
        ["div", { "class": "sized", "style": "height: 132px" }],
        ["p", {}, "<img src=x onerror=\"window.__ran = true\">"]
    ]]));
    page_start(&keys);
    let painted = copy_on_page().expect("harmless elements are painted");
    let root = painted.first_element_child().unwrap();
    assert_eq!(root.get_attribute("class").as_deref(), Some("app"));
    assert!(!root.has_attribute("onclick") && !root.has_attribute("id"));
    let part = |class: &str| painted.query_selector(class).unwrap().unwrap();
    assert!(!part(".link").has_attribute("href"));
    assert!(!part(".far").has_attribute("href"));
    assert_eq!(
        part(".near").get_attribute("href").as_deref(),
        Some("/experiments/")
    );
    assert!(
        !part(".fetches").has_attribute("style"),
        "a style that fetches is dropped"
    );
    assert_eq!(
        part(".sized").get_attribute("style").as_deref(),
        Some("height: 132px")
    );
    assert!(
        painted.query_selector("img").unwrap().is_none(),
        "text stays text"
    );
    assert_eq!(
        painted
            .query_selector("p")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "<img src=x onerror=\"window.__ran = true\">"
    );
    // No database to check it against: taken down once the head start answers.
    head_start_read().await;
    assert!(copy_on_page().is_none());
    assert!(
        js_sys::Reflect::get(&web_sys::window().unwrap(), &"__ran".into())
            .unwrap()
            .is_undefined()
    );

    // Not JSON at all.
    local_storage().set_item(&key(&keys), "{not json").unwrap();
    page_start(&keys);
    assert!(copy_on_page().is_none());
}

#[wasm_bindgen_test]
async fn leaving_with_a_change_not_yet_saved_drops_the_copy() {
    let keys = fresh_history("leave").await;
    saved_history(&keys, 5).await;
    // Saving waits long here: the change below is still unsaved when the page is left.
    let page = Page::loaded(options(&keys).debounce(std::time::Duration::from_secs(60))).await;
    let store: RunsStore = page.store;
    let mounted = Mounted::new(move || view! { <RunHistory store height="400px"/> });
    eventually("the rows are drawn", || {
        document()
            .query_selector(".history__row")
            .unwrap()
            .is_some()
    })
    .await;
    page_start(&keys);
    call("shown").await;
    call("keep").await;
    assert!(kept(&keys).is_some(), "kept at rest");
    let leave = || {
        let window = web_sys::window().unwrap();
        window
            .dispatch_event(&web_sys::Event::new("pagehide").unwrap())
            .unwrap();
    };
    leave();
    assert!(kept(&keys).is_some(), "left at rest: still kept");

    page.store
        .add_run(run("unsaved", 1_800_000_000_000))
        .unwrap();
    eventually("the new run is drawn first", || {
        row_ids(&mounted.container, false)
            .first()
            .map(String::as_str)
            == Some("unsaved")
    })
    .await;
    assert!(
        kept(&keys).is_some(),
        "nothing saved yet, so nothing announced"
    );
    leave();
    assert!(
        kept(&keys).is_none(),
        "left with a run not yet saved: dropped"
    );
    drop(mounted);
    drop(page.owner);
}
