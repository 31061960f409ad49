//! Every component mounted in a real page (headless Chromium) with a known
//! store: what the DOM says, and what clicking its controls does to the store.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use prompt_runs::components::{
    provide_run_filter, ActiveRunViewer, ErrorBanner, ExecutionProgress, ModelPerformance,
    RunFilters, RunHistory, ROW_HEIGHT_PX,
};
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus, BATCH_ID_KEY};
use prompt_runs::store::{provide_runs_store, RunsStore};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

/// A mounted view and the store it shows.
struct Page {
    container: HtmlElement,
    store: RunsStore,
    _mounted: Box<dyn std::any::Any>,
}

impl Page {
    /// Mounts `view` under a fresh store (provided through context) and filter.
    fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> Page {
        let document = web_sys::window().unwrap().document().unwrap();
        let container: HtmlElement = document.create_element("div").unwrap().unchecked_into();
        document.body().unwrap().append_child(&container).unwrap();
        let provided = StoredValue::new(None::<RunsStore>);
        let mounted = leptos::mount::mount_to(container.clone(), move || {
            provided.set_value(Some(provide_runs_store()));
            provide_run_filter();
            view()
        });
        Page {
            container,
            store: provided.get_value().unwrap(),
            _mounted: Box::new(mounted),
        }
    }

    fn find(&self, selector: &str) -> Option<Element> {
        self.container.query_selector(selector).unwrap()
    }

    fn all(&self, selector: &str) -> Vec<Element> {
        let found = self.container.query_selector_all(selector).unwrap();
        (0..found.length())
            .map(|index| found.item(index).unwrap().unchecked_into())
            .collect()
    }

    fn text(&self, selector: &str) -> String {
        self.find(selector)
            .unwrap_or_else(|| panic!("nothing matches {selector}"))
            .text_content()
            .unwrap()
    }

    fn click(&self, selector: &str) {
        self.find(selector)
            .unwrap_or_else(|| panic!("nothing to click at {selector}"))
            .unchecked_into::<HtmlElement>()
            .click();
    }

    fn ids_shown(&self) -> Vec<String> {
        self.all(".history__row")
            .iter()
            .map(|row| row.get_attribute("data-run-id").unwrap())
            .collect()
    }
}

async fn settle() {
    leptos::task::tick().await;
    leptos::task::tick().await;
}

fn run(id: &str, model: &str, status: RunStatus) -> PromptRun {
    let mut run = PromptRun::pending(id, model, format!("prompt of {id}"));
    run.status = status;
    run
}

fn finished(id: &str, model: &str, tokens: u64, cost: Option<f64>, duration: u64) -> PromptRun {
    let mut run = run(id, model, RunStatus::Success);
    run.total_tokens = Some(tokens);
    run.cost = cost;
    run.duration_ms = Some(duration);
    run.output = Some(format!("output of {id}"));
    run
}

#[wasm_bindgen_test]
async fn run_history_shows_counts_totals_and_cards() {
    let page = Page::mount(|| view! { <RunHistory/> });
    assert_eq!(page.text(".history__count"), "0 runs");
    assert!(page.find(".history__empty").is_some());

    let mut long = finished("long", "gpt-4o", 1_234_000, Some(0.0001), 1_000);
    long.output = Some(format!("{}{}", "a".repeat(200), "TAIL"));
    let mut unpriced = finished("unpriced", "llama", 567, None, 2_001);
    unpriced.output = None;
    page.store.add_run(long).unwrap();
    page.store.add_run(unpriced).unwrap();
    settle().await;

    assert_eq!(page.text(".history__count"), "2 runs");
    assert_eq!(page.text(".history__tokens"), "1,234,567");
    assert_eq!(page.text(".history__cost"), "$0.0001");
    assert_eq!(
        page.text(".history__duration"),
        "1,501 ms",
        "mean of 1000 and 2001, rounded"
    );
    assert_eq!(page.ids_shown(), ["unpriced", "long"], "most recent first");

    let long_card = "[data-run-id=long]";
    let preview = page.text(&format!("{long_card} .history__preview"));
    assert_eq!(
        preview,
        format!("{}…", "a".repeat(200)),
        "the first 200 characters"
    );
    assert_eq!(page.text(&format!("{long_card} .badge")), "Success");
    assert_eq!(
        page.text(&format!("{long_card} .history__run-tokens")),
        "1,234,000 tokens"
    );
    assert_eq!(
        page.text(&format!("{long_card} .history__run-cost")),
        "$0.0001"
    );
    let unpriced_card = page.text("[data-run-id=unpriced]");
    assert!(
        page.find("[data-run-id=unpriced] .history__preview")
            .is_none(),
        "no output, no preview"
    );
    assert!(
        page.find("[data-run-id=unpriced] .history__run-cost")
            .is_none(),
        "no price, no cost"
    );
    assert!(!unpriced_card.contains("undefined") && !unpriced_card.contains("None"));
    let time = page.find(&format!("{long_card} time")).unwrap();
    assert!(time.get_attribute("datetime").unwrap().ends_with('Z'));
    assert!(!time.text_content().unwrap().is_empty());
}

#[wasm_bindgen_test]
async fn run_history_controls_open_remove_and_clear_with_confirmation() {
    let page = Page::mount(|| view! { <RunHistory/> });
    for id in ["a", "b", "c"] {
        page.store.add_run(finished(id, "m", 10, None, 10)).unwrap();
    }
    settle().await;

    page.click("[data-run-id=b] .history__open");
    settle().await;
    assert_eq!(page.store.active_run_id().as_deref(), Some("b"));
    let active: Vec<String> = page
        .all(".history__card--active")
        .iter()
        .map(|card| {
            card.closest(".history__row")
                .unwrap()
                .unwrap()
                .get_attribute("data-run-id")
                .unwrap()
        })
        .collect();
    assert_eq!(active, ["b"], "exactly the active card is marked");
    assert_eq!(
        page.find("[data-run-id=b] .history__open")
            .unwrap()
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );

    page.click("[data-run-id=b] .history__remove");
    settle().await;
    assert!(page.store.get_run_by_id("b").is_none());
    assert_eq!(page.store.active_run_id(), None);
    assert_eq!(page.ids_shown(), ["c", "a"]);

    page.click(".history__clear");
    settle().await;
    assert_eq!(
        page.store.runs().len(),
        2,
        "clearing waits for confirmation"
    );
    page.click(".history__cancel-clear");
    settle().await;
    assert_eq!(page.store.runs().len(), 2);
    page.click(".history__clear");
    settle().await;
    assert_eq!(
        page.text(".history__confirm").split('?').next().unwrap(),
        "Remove all 2 runs"
    );
    page.click(".history__confirm-clear");
    settle().await;
    assert!(page.store.runs().is_empty());
    assert_eq!(page.text(".history__count"), "0 runs");
}

#[wasm_bindgen_test]
async fn run_history_renders_only_the_rows_in_view_of_ten_thousand() {
    let page = Page::mount(|| view! { <RunHistory height="600px"/> });
    let runs: Vec<PromptRun> = (0..10_000)
        .map(|index| finished(&format!("run-{index:05}"), "m", index, None, 100))
        .collect();
    page.store.set_runs(runs).unwrap();
    settle().await;

    let elements = page.container.get_elements_by_tag_name("*").length();
    assert!(elements < 1_000, "{elements} elements for 10,000 runs");
    let shown = page.ids_shown();
    assert_eq!(shown.first().map(String::as_str), Some("run-00000"));
    assert!(shown.len() < 30, "{} rows rendered", shown.len());

    let viewport: HtmlElement = page.find(".history__viewport").unwrap().unchecked_into();
    viewport.set_scroll_top((5_000 * ROW_HEIGHT_PX) as i32);
    viewport
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    settle().await;
    let shown = page.ids_shown();
    assert!(
        shown.contains(&"run-05000".to_owned()),
        "scrolled rows: {shown:?}"
    );
    assert!(!shown.contains(&"run-00000".to_owned()));
    let row = page.find("[data-run-id=run-05000]").unwrap();
    let (row_top, viewport_top) = (
        row.get_bounding_client_rect().top(),
        viewport.get_bounding_client_rect().top(),
    );
    assert!(
        (row_top - viewport_top).abs() < 1.0,
        "row 5000 sits at the top of the viewport: {row_top} vs {viewport_top}"
    );

    // One changed run re-renders one row: the others keep their elements.
    let neighbour = page.find("[data-run-id=run-05001]").unwrap();
    let update = PromptRunUpdate {
        output: Some("changed".into()),
        ..PromptRunUpdate::default()
    };
    page.store.update_run("run-05000", update).unwrap();
    settle().await;
    assert_eq!(
        page.text("[data-run-id=run-05000] .history__preview"),
        "changed"
    );
    let neighbour_now = page.find("[data-run-id=run-05001]").unwrap();
    assert!(
        neighbour_now.is_same_node(Some(&neighbour)),
        "the unchanged row was not rebuilt"
    );
}

#[wasm_bindgen_test]
async fn run_filters_count_every_status_and_narrow_the_history() {
    let page = Page::mount(|| view! { <RunFilters/> <RunHistory/> });
    let mut failed = run("failed", "claude", RunStatus::Error);
    failed.error = Some("HTTP 500: model overloaded".into());
    for run in [
        finished("ok-gpt", "gpt", 1, None, 1),
        finished("ok-claude", "claude", 1, None, 1),
        failed,
        run("waiting", "gpt", RunStatus::Pending),
    ] {
        page.store.add_run(run).unwrap();
    }
    settle().await;

    let count = |status: &str| page.text(&format!("[data-status={status}] .filters__count"));
    let counts: Vec<String> = ["all", "pending", "running", "success", "error", "cancelled"]
        .into_iter()
        .map(count)
        .collect();
    assert_eq!(
        counts,
        ["4", "1", "0", "2", "1", "0"],
        "all five statuses, empty ones too"
    );
    assert_eq!(
        page.text(".filters__failure-error"),
        "HTTP 500: model overloaded"
    );

    page.click("[data-status=success]");
    settle().await;
    assert_eq!(page.ids_shown(), ["ok-claude", "ok-gpt"]);
    assert_eq!(
        page.find("[data-status=success]")
            .unwrap()
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );
    assert_eq!(page.text(".history__filtered"), "Showing 2 of 4 runs");

    let model: web_sys::HtmlSelectElement = page.find(".filters__model").unwrap().unchecked_into();
    model.set_value("gpt");
    model
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    settle().await;
    assert_eq!(page.ids_shown(), ["ok-gpt"], "status and model together");

    page.click("[data-status=all]");
    let search: web_sys::HtmlInputElement = page.find(".filters__search").unwrap().unchecked_into();
    search.set_value("PROMPT OF WAIT");
    search
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    settle().await;
    assert_eq!(page.ids_shown(), ["waiting"], "model and text, any case");
}

#[wasm_bindgen_test]
async fn execution_progress_shows_the_bar_and_cancel_really_cancels() {
    let page = Page::mount(|| view! { <ExecutionProgress/> });
    assert!(
        page.find("[role=progressbar]").is_none(),
        "nothing while idle"
    );

    page.store
        .add_run(run("in-flight", "m", RunStatus::Running))
        .unwrap();
    page.store.start_execution();
    page.store.update_execution_progress(41.6);
    settle().await;
    let bar = page.find("[role=progressbar]").unwrap();
    assert_eq!(bar.get_attribute("aria-valuenow").as_deref(), Some("42"));
    assert_eq!(bar.get_attribute("aria-valuemin").as_deref(), Some("0"));
    assert_eq!(bar.get_attribute("aria-valuemax").as_deref(), Some("100"));
    assert_eq!(page.text(".progress__label"), "42%");
    assert_eq!(
        page.find(".progress__label")
            .unwrap()
            .get_attribute("aria-live")
            .as_deref(),
        Some("polite")
    );

    page.click(".progress__cancel");
    settle().await;
    assert!(!page.store.is_executing());
    assert_eq!(
        page.store.get_run_by_id("in-flight").unwrap().status,
        RunStatus::Cancelled
    );
    assert!(page.find("[role=progressbar]").is_none());
}

#[wasm_bindgen_test]
async fn active_run_viewer_shows_the_run_and_says_when_there_is_none() {
    let page = Page::mount(|| view! { <ActiveRunViewer/> });
    assert_eq!(page.text(".viewer__empty"), "No active run selected");

    let mut priced = finished("priced", "gpt-4o", 1_500, Some(0.0123), 2_345);
    priced.input_tokens = Some(1_000);
    priced.output_tokens = Some(500);
    priced.output = Some("line one\n  line two".into());
    page.store.add_run(priced).unwrap();
    page.store
        .add_run(finished("unpriced", "llama", 7, None, 1))
        .unwrap();
    page.store.set_active_run(Some("priced")).unwrap();
    settle().await;
    assert!(page.find(".viewer__empty").is_none());
    assert_eq!(
        page.text(".viewer__output"),
        "line one\n  line two",
        "whitespace kept"
    );
    assert_eq!(page.text(".viewer__model"), "gpt-4o");
    assert_eq!(page.text(".viewer__status"), "Success");
    assert_eq!(
        page.text(".viewer__tokens"),
        "1,500 tokens (1,000 in, 500 out)"
    );
    assert_eq!(page.text(".viewer__duration"), "2,345 ms");
    assert_eq!(page.text(".viewer__cost"), "$0.0123");
    assert_eq!(page.text(".viewer__completed"), "—");

    page.store.set_active_run(Some("unpriced")).unwrap();
    settle().await;
    assert_eq!(page.text(".viewer__cost"), "N/A", "no price is not $0");
    page.store.set_active_run(None).unwrap();
    settle().await;
    assert_eq!(page.text(".viewer__empty"), "No active run selected");
}

#[wasm_bindgen_test]
async fn model_output_is_text_never_html() {
    let page = Page::mount(|| view! { <RunHistory/> <ActiveRunViewer/> <ModelPerformance/> });
    let payload = r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"#;
    let batch = serde_json::Map::from_iter([(BATCH_ID_KEY.to_owned(), "b1".into())]);
    for id in ["x1", "x2"] {
        let mut run = finished(id, id, 1, None, 1);
        run.output = Some(payload.into());
        run.error = Some(payload.into());
        run.metadata = Some(batch.clone());
        page.store.add_run(run).unwrap();
    }
    page.store.set_active_run(Some("x1")).unwrap();
    settle().await;
    // Let any injected handler get its chance to run.
    gloo_timers::future::TimeoutFuture::new(50).await;

    assert!(
        page.all("img").is_empty() && page.all("script").is_empty(),
        "no element was created"
    );
    assert_eq!(page.text(".viewer__output"), payload);
    assert!(page.text(".history__preview").starts_with("<img src=x"));
    assert_eq!(page.all(".batch__output").len(), 2);
    let pwned = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__pwned".into()).unwrap();
    assert!(pwned.is_undefined(), "the payload never ran");
}

#[wasm_bindgen_test]
async fn model_performance_groups_by_model_and_compares_a_batch() {
    let page = Page::mount(|| view! { <ModelPerformance/> });
    assert!(page.find(".performance__empty").is_some());

    page.store
        .add_run(finished("g1", "gpt", 100, Some(0.001), 1_000))
        .unwrap();
    page.store
        .add_run(finished("g2", "gpt", 201, Some(0.002), 3_000))
        .unwrap();
    let mut failed = run("g3", "gpt", RunStatus::Error);
    failed.cost = Some(0.0005);
    page.store.add_run(failed).unwrap();
    page.store
        .add_run(finished("c1", "claude", 50, None, 500))
        .unwrap();
    settle().await;

    let cells = |model: &str| -> Vec<String> {
        page.all(&format!("tr[data-model={model}] td"))
            .iter()
            .map(|cell| cell.text_content().unwrap())
            .collect()
    };
    assert_eq!(
        cells("gpt"),
        ["2", "151 tokens", "2,000 ms", "67%", "$0.0035"]
    );
    assert_eq!(cells("claude"), ["1", "50 tokens", "500 ms", "100%", "N/A"]);
    let bars = page.all(".performance__chart rect");
    assert_eq!(bars.len(), 2);
    let width = |index: usize| {
        bars[index]
            .get_attribute("width")
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert!(
        width(1) > 3.0 * width(0),
        "gpt's 2,000 ms bar is four times claude's 500 ms"
    );
    assert!(page.find(".batch").is_none(), "no batch to compare");

    let batch = serde_json::Map::from_iter([(BATCH_ID_KEY.to_owned(), "batch-1".into())]);
    for (id, model) in [
        ("b-gpt", "gpt"),
        ("b-claude", "claude"),
        ("b-llama", "llama"),
    ] {
        let mut run = finished(id, model, 1, None, 1);
        run.metadata = Some(batch.clone());
        page.store.add_run(run).unwrap();
    }
    page.store.set_active_run(Some("b-claude")).unwrap();
    settle().await;
    let compared: Vec<String> = page
        .all(".batch__run")
        .iter()
        .map(|run| run.get_attribute("data-run-id").unwrap())
        .collect();
    assert_eq!(compared, ["b-llama", "b-claude", "b-gpt"]);
    assert_eq!(page.text(".batch h3"), "Same prompt on 3 models");
}

#[wasm_bindgen_test]
async fn error_banner_shows_the_error_until_dismissed() {
    let page = Page::mount(|| view! { <ErrorBanner/> });
    assert!(page.find("[role=alert]").is_none());
    page.store.set_error(Some(
        "could not reach the server at http://localhost:8000".into(),
    ));
    settle().await;
    assert_eq!(
        page.text("[role=alert] .error-banner__message"),
        "could not reach the server at http://localhost:8000"
    );
    page.click(".error-banner__dismiss");
    settle().await;
    assert_eq!(page.store.error(), None);
    assert!(page.find("[role=alert]").is_none());
}
