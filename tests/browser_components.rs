//! Every component mounted in a real page (headless Chromium) with a known
//! store: what the DOM says, and what clicking its controls does to the store.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use prompt_runs::api::{ClientConfig, NeuroForgeClient};
use prompt_runs::components::{
    provide_run_filter, provide_server_connection, ActiveRunViewer, ErrorBanner, ExecutionProgress,
    HistoryTransfer, ModelPerformance, PromptComposer, RunFilters, RunHistory, Settings,
    PRICE_OVERRIDES_KEY, ROW_HEIGHT_PX, SERVER_URL_KEY,
};
use prompt_runs::model::{
    Figure, PromptRun, PromptRunUpdate, RunMetrics, RunStatus, BATCH_ID_KEY, COST_SOURCE_KEY,
    METRICS_KEY, SERVER_RUN_ID_KEY,
};
use prompt_runs::store::{provide_runs_store, RunsStore};
use support::runs::a_run;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

mod support;
use support::mounted::Mounted;
use support::{eventually, gateway_url};

wasm_bindgen_test_configure!(run_in_browser);

/// A mounted view and the store it shows.
struct Page {
    view: Mounted,
    store: RunsStore,
}

impl std::ops::Deref for Page {
    type Target = Mounted;

    fn deref(&self) -> &Mounted {
        &self.view
    }
}

impl Page {
    /// Mounts `view` under a fresh store (provided through context) and filter.
    fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> Page {
        let provided = StoredValue::new(None::<RunsStore>);
        let view = Mounted::new(move || {
            provided.set_value(Some(provide_runs_store()));
            provide_run_filter();
            view()
        });
        Page {
            view,
            store: provided.get_value().unwrap(),
        }
    }

    fn ids_shown(&self) -> Vec<String> {
        self.all(".history__row")
            .iter()
            .map(|row| row.get_attribute("data-run-id").unwrap())
            .collect()
    }
}

/// The texts of the cells of model `model`'s row in the performance table.
fn model_cells(page: &Page, model: &str) -> Vec<String> {
    page.all(&format!("tr[data-model={model}] td"))
        .iter()
        .map(|cell| cell.text_content().unwrap())
        .collect()
}

async fn settle() {
    leptos::task::tick().await;
    leptos::task::tick().await;
}

fn run(id: &str, model: &str, status: RunStatus) -> PromptRun {
    a_run(id).model(model).status(status).build()
}

fn finished(id: &str, model: &str, tokens: u64, cost: Option<f64>, duration: u64) -> PromptRun {
    (a_run(id).model(model).answered(format!("output of {id}")))
        .tokens(tokens)
        .cost(cost)
        .duration(duration)
        .build()
}

#[wasm_bindgen_test]
async fn run_history_shows_counts_totals_and_cards() {
    let page = Page::mount(|| view! { <RunHistory/> });
    assert_eq!(page.text(".history__count"), "0 runs");
    assert_eq!(page.text(".history__empty"), "No runs yet.");
    assert_eq!(
        page.text(".history__cost"),
        "N/A",
        "nothing known is not $0.0000"
    );
    assert_eq!(page.text(".history__duration"), "N/A", "nor 0 ms");
    page.store
        .add_run(run("stopped", "offline-slow", RunStatus::Cancelled))
        .unwrap();
    settle().await;
    assert_eq!(
        (page.text(".history__cost"), page.text(".history__duration")),
        ("N/A".into(), "N/A".into()),
        "a cancelled run knows neither"
    );
    page.store.remove_run("stopped").unwrap();

    let mut long = finished("long", "gpt-4o", 1_234_000, Some(0.0001), 1_000);
    long.output = Some(format!("{}{}", "a".repeat(200), "TAIL"));
    let mut unpriced = finished("unpriced", "llama", 567, None, 2_001);
    unpriced.output = None;
    page.store.add_run(long).unwrap();
    page.store.add_run(unpriced).unwrap();
    settle().await;

    assert_eq!(page.text(".history__count"), "2 runs");
    assert_eq!(page.text(".history__tokens"), "1,234,567");
    assert_eq!(
        page.text(".history__cost"),
        "$0.0001 (1 of 2 runs priced)",
        "a total over some runs says so"
    );
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
    assert_eq!(
        page.text("[data-run-id=unpriced] .history__run-cost"),
        "",
        "no price, no cost (and no $0)"
    );
    assert!(!unpriced_card.contains("undefined") && !unpriced_card.contains("None"));
    let time = page.find(&format!("{long_card} time")).unwrap();
    assert!(time.get_attribute("datetime").unwrap().ends_with('Z'));
    assert!(!time.text_content().unwrap().is_empty());

    // A cancelled run knows no usage: its card shows no bare "N/A"s, and a
    // cost too small for four decimals is still not "$0.0000".
    let mut cancelled = run("cancelled", "gpt-4o", RunStatus::Cancelled);
    cancelled.output = Some("partial".into());
    page.store.add_run(cancelled).unwrap();
    page.store
        .add_run(finished("cheap", "gpt-4o-mini", 3, Some(0.000_012), 10))
        .unwrap();
    settle().await;
    let footer = page.text("[data-run-id=cancelled] .history__card-footer");
    assert!(!footer.contains("N/A"), "{footer}");
    assert_eq!(
        page.text("[data-run-id=cancelled] .history__run-tokens"),
        ""
    );
    assert_eq!(
        page.text("[data-run-id=cheap] .history__run-cost"),
        "$0.000012"
    );
    assert_eq!(page.text(".history__cost"), "$0.0001 (2 of 4 runs priced)");
}

#[wasm_bindgen_test]
async fn run_history_controls_open_remove_and_clear_with_confirmation() {
    let page = Page::mount(|| view! { <RunHistory/> });
    for id in ["a", "b", "c"] {
        page.store.add_run(finished(id, "m", 10, None, 10)).unwrap();
    }
    settle().await;

    // Each card's buttons are named for its run, not just "Open".
    let label = |selector: &str| {
        page.find(selector)
            .unwrap()
            .get_attribute("aria-label")
            .unwrap()
    };
    let open_b = label("[data-run-id=b] .history__open");
    let started_b = page.text("[data-run-id=b] time");
    assert_eq!(open_b, format!("Open the m run started {started_b}"));
    assert_eq!(
        label("[data-run-id=b] .history__remove"),
        format!("Remove the m run started {started_b}")
    );

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

    // A filter that matches nothing says so, not "No runs yet.", and offers
    // the way back.
    search.set_value("no run says this");
    search
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    settle().await;
    assert!(page.ids_shown().is_empty());
    assert_eq!(page.text(".history__filtered"), "Showing 0 of 4 runs");
    assert_eq!(
        page.text(".history__empty"),
        "No runs match the filter. Clear filters to see every run."
    );
    assert!(!is_disabled(&page, ".filters__clear"));
    page.click(".filters__clear");
    settle().await;
    assert_eq!(page.ids_shown().len(), 4, "every run again");
    assert!(page.find(".history__empty").is_none());
    assert_eq!(search.value(), "", "the search box too");
    assert!(
        is_disabled(&page, ".filters__clear"),
        "nothing left to clear"
    );
}

#[wasm_bindgen_test]
async fn execution_progress_shows_each_models_state_and_tokens_and_cancel_really_cancels() {
    let page = Page::mount(|| view! { <ExecutionProgress/> });
    assert!(is_hidden(&page, ".progress__content"), "nothing while idle");
    page.store.set_executor(NeuroForgeClient::new(
        ClientConfig::default().base_url(gateway_url()),
    ));
    let store = page.store;
    let models = [
        "offline-echo",
        "offline-slow",
        "offline-hang",
        "offline-fail-500",
    ];
    leptos::task::spawn_local(async move {
        let models = models.map(str::to_owned).to_vec();
        let _ = store
            .execute_many("Tell me about progress bars", models, vec![])
            .await;
    });
    let states = || -> Vec<(String, String)> {
        page.all(".progress__run")
            .iter()
            .map(|line| {
                let text = |selector: &str| {
                    line.query_selector(selector)
                        .unwrap()
                        .unwrap()
                        .text_content()
                        .unwrap()
                };
                (text(".progress__model"), text(".progress__state"))
            })
            .collect()
    };
    let line = |model: &str| {
        format!(
            ".progress__run:nth-child({})",
            models.iter().position(|m| *m == model).unwrap() + 1
        )
    };
    eventually(
        "echo is done, slow receiving, hang sending, fail-500 failed",
        || {
            states()
                .iter()
                .map(|(_, state)| state.as_str())
                .collect::<Vec<_>>()
                == ["done", "receiving", "sending", "failed"]
        },
    )
    .await;
    assert_eq!(
        states()
            .into_iter()
            .map(|(model, _)| model)
            .collect::<Vec<_>>(),
        models,
        "one line per model, in the order chosen"
    );
    let bar = page.find("[role=progressbar]").unwrap();
    assert_eq!(bar.get_attribute("aria-valuenow").as_deref(), Some("2"));
    assert_eq!(bar.get_attribute("aria-valuemax").as_deref(), Some("4"));
    assert_eq!(
        bar.get_attribute("aria-valuetext").as_deref(),
        Some("2 of 4 runs finished")
    );
    assert_eq!(page.text(".progress__label"), "2 of 4 runs finished");
    assert_eq!(
        page.find(".progress__label")
            .unwrap()
            .get_attribute("aria-live")
            .as_deref(),
        Some("polite")
    );

    let slow_tokens = page.text(&format!("{} .progress__tokens", line("offline-slow")));
    assert!(
        slow_tokens.starts_with('≈') && slow_tokens.ends_with(" tokens"),
        "estimated while streaming: {slow_tokens:?}"
    );
    let echo_tokens = page.text(&format!("{} .progress__tokens", line("offline-echo")));
    assert!(
        !echo_tokens.starts_with('≈'),
        "the server's count once done: {echo_tokens:?}"
    );
    assert_eq!(
        page.text(&format!("{} .progress__tokens", line("offline-hang"))),
        "",
        "nothing received yet is no count, not 0"
    );
    // The time to first token as soon as it is known, the speed as it happens.
    let figure =
        |model: &str, which: &str| page.text(&format!("{} .progress__{which}", line(model)));
    let slow_ttft = figure("offline-slow", "ttft");
    assert!(
        slow_ttft.starts_with("first token ") && slow_ttft.ends_with(" ms"),
        "{slow_ttft:?}"
    );
    eventually("the slow model's speed shows while it streams", || {
        let speed = figure("offline-slow", "speed");
        speed.starts_with('≈') && speed.ends_with(" tokens/s")
    })
    .await;
    let echo_speed = figure("offline-echo", "speed");
    assert!(
        !echo_speed.starts_with('≈') && echo_speed.ends_with(" tokens/s"),
        "done: its recorded figure: {echo_speed:?}"
    );
    assert_eq!(
        (
            figure("offline-hang", "ttft"),
            figure("offline-hang", "speed")
        ),
        (String::new(), String::new()),
        "no text yet: neither is known, neither is 0"
    );
    // The clock ticks for the runs in flight, and stops for the finished.
    let elapsed = |model: &str| page.text(&format!("{} .progress__elapsed", line(model)));
    let (hang_before, echo_before) = (elapsed("offline-hang"), elapsed("offline-echo"));
    assert!(hang_before.ends_with(" s"), "{hang_before:?}");
    support::sleep(400).await;
    assert_ne!(elapsed("offline-hang"), hang_before, "ticking");
    assert_eq!(elapsed("offline-echo"), echo_before, "done: its duration");
    for percentage in [page.text(".progress__label"), page.text(".progress__runs")] {
        assert!(
            !percentage.contains('%'),
            "no made-up percentage: {percentage}"
        );
    }

    page.click(".progress__cancel");
    settle().await;
    assert!(!page.store.is_executing());
    let statuses: Vec<RunStatus> = page.store.runs().iter().map(|run| run.status).collect();
    assert_eq!(
        statuses,
        [
            RunStatus::Success,
            RunStatus::Cancelled,
            RunStatus::Cancelled,
            RunStatus::Error
        ]
    );
    assert!(is_hidden(&page, ".progress__content"));
}

fn is_hidden(page: &Page, selector: &str) -> bool {
    page.find(selector)
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .hidden()
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

    assert_eq!(
        page.text(".viewer__server-id"),
        "—",
        "no server id recorded"
    );

    let mut answered = finished("unpriced", "llama", 7, None, 1);
    answered.metadata = Some(serde_json::Map::from_iter([(
        SERVER_RUN_ID_KEY.to_owned(),
        "run_42".into(),
    )]));
    page.store.add_run(answered.clone()).unwrap_err(); // already there: keep the id
    page.store
        .update_run(
            "unpriced",
            PromptRunUpdate {
                metadata: answered.metadata,
                ..PromptRunUpdate::default()
            },
        )
        .unwrap();
    page.store.set_active_run(Some("unpriced")).unwrap();
    settle().await;
    assert_eq!(page.text(".viewer__cost"), "N/A", "no price is not $0");
    assert_eq!(page.text(".viewer__server-id"), "run_42");
    assert!(page.text(".viewer__details").contains("Server run id"));
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
    // The batch side by side is the opened run's: in its viewer.
    let page = Page::mount(|| view! { <ModelPerformance/> <ActiveRunViewer/> });
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

    let cells = |model: &str| model_cells(&page, model);
    assert_eq!(
        cells("gpt"),
        [
            "2",
            "67%",
            "N/A",
            "N/A",
            "1,000 / 3,000 ms",
            "151 tokens",
            "$1.1667",
            "$0.0035"
        ],
        "nothing recorded the speed: N/A, not 0; $0.0035 over 3 priced runs, per 1,000"
    );
    assert_eq!(
        cells("claude"),
        [
            "1",
            "100%",
            "N/A",
            "N/A",
            "500 / 500 ms",
            "50 tokens",
            "N/A",
            "N/A"
        ]
    );
    let bars = page.all(".performance__chart rect:not(.performance__p95)");
    assert_eq!(bars.len(), 2);
    let width = |index: usize| {
        bars[index]
            .get_attribute("width")
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert!(
        width(1) > 1.9 * width(0) && width(1) < 2.1 * width(0),
        "gpt's p50 of 1,000 ms is twice claude's 500 ms"
    );
    let bands = page.all(".performance__p95");
    assert_eq!(bands.len(), 2, "each with its p95");
    let band = bands[1]
        .get_attribute("width")
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!(
        band > 2.9 * width(1),
        "gpt's p95 of 3,000 ms reaches three times its p50"
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
        .all(".viewer .batch__run")
        .iter()
        .map(|run| run.get_attribute("data-run-id").unwrap())
        .collect();
    assert_eq!(compared, ["b-llama", "b-claude", "b-gpt"]);
    assert_eq!(page.text(".viewer .batch h3"), "Same prompt on 3 models");
    assert!(
        page.find(".performance .batch").is_none(),
        "not in the figures' panel"
    );
}

/// A finished run on `model` with speed figures and a cost from `source`.
fn measured(
    id: &str,
    model: &str,
    ttft: u64,
    speed: f64,
    latency: u64,
    cost: f64,
    source: &str,
) -> PromptRun {
    let mut run = finished(id, model, 100, Some(cost), latency);
    let metrics = RunMetrics {
        ttft_ms: Some(Figure::measured(ttft)),
        output_tokens_per_second: Some(Figure::measured(speed)),
        cached_input_tokens: Some(Figure::reported(64)),
        ..RunMetrics::default()
    };
    run.metadata = Some(serde_json::Map::from_iter([
        (METRICS_KEY.to_owned(), metrics.to_json()),
        (COST_SOURCE_KEY.to_owned(), source.into()),
    ]));
    run
}

#[wasm_bindgen_test]
async fn model_performance_shows_percentiles_charts_the_figure_picked_and_follows_the_filter() {
    let page = Page::mount(
        || view! { <RunFilters/> <ModelPerformance/> <RunHistory/> <ActiveRunViewer/> },
    );
    for (index, ttft) in [100, 200, 300, 400, 2_000].into_iter().enumerate() {
        let id = format!("fast-{index}");
        let speed = 40.0 + index as f64 * 10.0;
        let run = measured(&id, "fast", ttft, speed, ttft + 1_000, 0.001, "reported");
        page.store.add_run(run).unwrap();
    }
    page.store
        .add_run(measured(
            "slow-0",
            "slow",
            900,
            12.5,
            4_000,
            0.002,
            "estimated",
        ))
        .unwrap();
    settle().await;

    let cells = |model: &str| model_cells(&page, model);
    assert_eq!(
        cells("fast")[2..5],
        ["300 / 2,000 ms", "60.0 / 80.0 tokens/s", "1,300 / 3,000 ms"],
        "p50 and p95, nearest rank, over its 5 runs"
    );
    assert_eq!(
        cells("fast")[6..],
        ["$1.0000", "$0.0050"],
        "reported costs: exact"
    );
    assert_eq!(
        cells("slow")[6..],
        ["≈$2.0000", "≈$0.0020"],
        "an estimate says so"
    );
    assert_eq!(
        page.text(".history__cost"),
        "≈$0.0070",
        "one estimated cost makes the total approximate"
    );

    let chart = || page.find(".performance__chart").unwrap();
    assert_eq!(
        chart().get_attribute("aria-label").as_deref(),
        Some("Total latency (p50, p95)")
    );
    let select: web_sys::HtmlSelectElement = page
        .find(".performance__metric select")
        .unwrap()
        .unchecked_into();
    let pick = |name: &str| {
        select.set_value(name);
        select
            .dispatch_event(&web_sys::Event::new("change").unwrap())
            .unwrap();
    };
    pick("speed");
    settle().await;
    assert_eq!(
        chart().get_attribute("aria-label").as_deref(),
        Some("Output tokens per second (p50, p95)")
    );
    let bar_text: Vec<String> = page
        .all(".performance__bar text:last-child")
        .iter()
        .map(|text| text.text_content().unwrap())
        .collect();
    assert_eq!(bar_text, ["60.0 / 80.0 tokens/s", "12.5 / 12.5 tokens/s"]);
    pick("cost");
    settle().await;
    let bands = page.all(".performance__p95");
    let bars = page.all(".performance__bar rect:not(.performance__p95)");
    assert_eq!(
        bands[0].get_attribute("width"),
        bars[0].get_attribute("width"),
        "a cost has no percentiles: no band beyond the bar"
    );
    assert!(page.text(".performance__chart").contains("≈$2.0000"));

    // Over the filter: only the runs it shows.
    let search = ".filters__search";
    type_into(&page, search, "fast-4");
    settle().await;
    assert_eq!(cells("fast")[0], "5", "all runs until asked");
    let scope: HtmlElement = page
        .find(".performance__scope input")
        .unwrap()
        .unchecked_into();
    scope.click();
    settle().await;
    assert_eq!(
        cells("fast")[..5],
        [
            "1",
            "100%",
            "2,000 / 2,000 ms",
            "80.0 / 80.0 tokens/s",
            "3,000 / 3,000 ms"
        ]
    );
    assert!(
        page.find("tr[data-model=slow]").is_none(),
        "no run of it matches"
    );
    scope.click();
    settle().await;
    assert_eq!(cells("fast")[0], "5");

    page.store.set_active_run(Some("slow-0")).unwrap();
    settle().await;
    assert_eq!(
        page.text(".viewer__speed"),
        "first token 900 ms (measured), 12.5 tokens/s (measured), 64 cached tokens (reported)"
    );
    assert_eq!(
        page.text(".viewer__cost"),
        "≈$0.0020 (estimated: price × tokens)"
    );
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

/// Types `text` into the form control at `selector` as a person would.
fn type_into(page: &Page, selector: &str, text: &str) {
    let control = page.find(selector).unwrap();
    js_sys::Reflect::set(&control, &"value".into(), &text.into()).unwrap();
    control
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
}

fn is_disabled(page: &Page, selector: &str) -> bool {
    page.find(selector)
        .unwrap()
        .unchecked_into::<web_sys::HtmlButtonElement>()
        .disabled()
}

#[wasm_bindgen_test]
async fn prompt_composer_executes_on_the_chosen_models_through_the_gateway() {
    let page = Page::mount(|| view! { <PromptComposer/> });
    let client = NeuroForgeClient::new(ClientConfig::default().base_url(gateway_url()));
    page.store.set_models(client.models().await.unwrap());
    page.store.set_executor(client);
    eventually("the models are offered", || {
        page.all(".composer__model input").len() == 7
    })
    .await;
    let checked: Vec<bool> = page
        .all(".composer__model input")
        .iter()
        .map(|input| {
            input
                .clone()
                .unchecked_into::<web_sys::HtmlInputElement>()
                .checked()
        })
        .collect();
    assert_eq!(
        checked,
        [true, false, false, false, false, false, false],
        "the first model is chosen"
    );
    assert!(
        is_disabled(&page, ".composer__execute"),
        "nothing to execute yet"
    );

    type_into(&page, ".composer__prompt", "Explain lifetimes");
    leptos::task::tick().await;
    assert!(!is_disabled(&page, ".composer__execute"));
    page.click(".composer__execute");
    leptos::task::tick().await;
    assert!(page.store.is_executing());
    assert!(
        is_disabled(&page, ".composer__execute"),
        "disabled while executing"
    );
    eventually("the run succeeded", || !page.store.is_executing()).await;
    let run = page.store.runs().get(0).cloned().unwrap();
    assert_eq!(
        (run.model_id.as_str(), run.status),
        ("offline-echo", RunStatus::Success)
    );
    assert_eq!(run.prompt_snapshot, "Explain lifetimes");

    // Ctrl+Enter executes too; here on two models at once, as one batch.
    page.click("[data-model=offline-fail-500] input");
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Enter");
    init.set_ctrl_key(true);
    init.set_bubbles(true);
    let ctrl_enter =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    page.find(".composer__prompt")
        .unwrap()
        .dispatch_event(&ctrl_enter)
        .unwrap();
    eventually("the batch ran", || {
        page.store.runs().len() == 3 && !page.store.is_executing()
    })
    .await;
    let newest = page.store.runs().get(0).unwrap().id.clone();
    assert_eq!(page.store.batch_runs(&newest).len(), 2);

    // Re-run: the active run's prompt and model come back into the form.
    let first = page.store.runs().get(2).unwrap().id.clone();
    type_into(&page, ".composer__prompt", "something else");
    page.store.set_active_run(Some(&first)).unwrap();
    leptos::task::tick().await;
    page.click(".composer__rerun");
    leptos::task::tick().await;
    let prompt: web_sys::HtmlTextAreaElement =
        page.find(".composer__prompt").unwrap().unchecked_into();
    assert_eq!(prompt.value(), "Explain lifetimes");
    let fail_model: web_sys::HtmlInputElement = page
        .find("[data-model=offline-fail-500] input")
        .unwrap()
        .unchecked_into();
    assert!(!fail_model.checked(), "only the re-run model is chosen");

    // Max tokens and temperature go with the request: the offline model
    // stops after the tokens asked for.
    let change = |selector: &str, value: &str| {
        let input = page.find(selector).unwrap();
        js_sys::Reflect::set(&input, &"value".into(), &value.into()).unwrap();
        input
            .dispatch_event(&web_sys::Event::new("change").unwrap())
            .unwrap();
    };
    change(".composer__max-tokens", "3");
    change(".composer__temperature", "0.5");
    let parameters = page.store.execution_parameters();
    assert_eq!(
        (parameters.max_tokens, parameters.temperature),
        (Some(3), Some(0.5))
    );
    page.click(".composer__execute");
    eventually("the short run finished", || {
        page.store.runs().len() == 4 && !page.store.is_executing()
    })
    .await;
    let short = page.store.runs().get(0).cloned().unwrap();
    assert_eq!(short.status, RunStatus::Success);
    assert_eq!(short.output_tokens, Some(3), "{:?}", short.output);
    change(".composer__max-tokens", "");
    assert_eq!(
        page.store.execution_parameters().max_tokens,
        None,
        "empty: the server's"
    );
    // A number the field does not take: refused where typed, nothing changed.
    change(".composer__temperature", "3");
    assert_eq!(page.store.execution_parameters().temperature, Some(0.5));
    let field: web_sys::HtmlInputElement = page
        .find(".composer__temperature")
        .unwrap()
        .unchecked_into();
    assert_eq!(field.value(), "3", "what was typed stays");
    eventually("the reason is shown beside it", || {
        page.text(".composer__temperature-why")
            == "Temperature is a number from 0 to 2, not “3”; leave it empty for the server's default."
    })
    .await;
    assert_eq!(field.value(), "3", "and still stays");
}

#[wasm_bindgen_test]
async fn prompt_composer_keeps_the_other_context_blocks_fields_when_one_is_removed() {
    let page = Page::mount(|| view! { <PromptComposer/> });
    let client = NeuroForgeClient::new(ClientConfig::default().base_url(gateway_url()));
    page.store.set_models(client.models().await.unwrap());
    page.store.set_executor(client);
    for _ in 0..3 {
        page.click(".composer__blocks > button");
    }
    settle().await;
    let fields = || page.all(".composer__block textarea");
    let labels = || -> Vec<String> {
        (fields().iter())
            .map(|field| field.get_attribute("aria-label").unwrap())
            .collect()
    };
    let values = |fields: &[web_sys::Element]| -> Vec<String> {
        (fields.iter())
            .map(|field| {
                field
                    .clone()
                    .unchecked_into::<web_sys::HtmlTextAreaElement>()
                    .value()
            })
            .collect()
    };
    assert_eq!(
        labels(),
        ["Context block 1", "Context block 2", "Context block 3"]
    );
    for (field, text) in fields().iter().zip(["", "Answer in French.", "Be brief."]) {
        js_sys::Reflect::set(field, &"value".into(), &text.into()).unwrap();
        field
            .dispatch_event(&web_sys::Event::new("input").unwrap())
            .unwrap();
    }
    // The second block's element, marked and focused: removing the first
    // must leave it in place, not draw a new one with the same text.
    let second = fields()[1].clone();
    js_sys::Reflect::set(&second, &"keptByTest".into(), &true.into()).unwrap();
    second
        .clone()
        .unchecked_into::<HtmlElement>()
        .focus()
        .unwrap();

    page.click(".composer__block button");
    settle().await;
    let kept = fields();
    assert_eq!(kept.len(), 2);
    assert!(
        kept[0].is_same_node(Some(&second)),
        "the second block's field is the same element"
    );
    assert_eq!(
        js_sys::Reflect::get(&kept[0], &"keptByTest".into()).unwrap(),
        true,
        "with what was set on it"
    );
    let document = web_sys::window().unwrap().document().unwrap();
    assert!(
        document
            .active_element()
            .is_some_and(|focused| focused.is_same_node(Some(&second))),
        "and it keeps the focus"
    );
    assert_eq!(values(&kept), ["Answer in French.", "Be brief."]);
    assert_eq!(
        labels(),
        ["Context block 1", "Context block 2"],
        "renumbered"
    );

    // What is sent is what the fields show.
    type_into(&page, ".composer__prompt", "Hello");
    leptos::task::tick().await;
    page.click(".composer__execute");
    eventually("the run finished", || {
        page.store.runs().len() == 1 && !page.store.is_executing()
    })
    .await;
    let run = page.store.runs().get(0).cloned().unwrap();
    assert_eq!(run.context_block_ids, ["Answer in French.", "Be brief."]);

    // Re-running it draws its blocks afresh.
    page.store.set_active_run(Some(&run.id)).unwrap();
    page.click(".composer__block button");
    settle().await;
    assert_eq!(fields().len(), 1);
    page.click(".composer__rerun");
    settle().await;
    assert_eq!(values(&fields()), ["Answer in French.", "Be brief."]);
}

#[wasm_bindgen_test]
async fn components_appearing_twice_share_no_ids_and_keep_their_labels() {
    let page = Page::mount(|| {
        provide_server_connection(prompt_runs::store::use_runs_store());
        view! { <PromptComposer/> <PromptComposer/> <Settings/> <Settings/> }
    });
    settle().await;
    let with_ids = page.all("[id]");
    let mut ids: Vec<String> = with_ids.iter().map(|element| element.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), with_ids.len(), "repeated ids: {ids:?}");
    for field in [".composer__prompt", ".settings__url"] {
        let labelled = page.all(field);
        assert_eq!(labelled.len(), 2);
        for element in labelled {
            let label = element.closest("label").unwrap().expect("inside its label");
            let control = label
                .unchecked_into::<web_sys::HtmlLabelElement>()
                .control()
                .expect("the label names its field");
            assert!(control.is_same_node(Some(&element)), "{field}");
        }
    }
}

#[wasm_bindgen_test]
async fn settings_save_the_server_url_and_the_users_prices() {
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    storage.set_item(SERVER_URL_KEY, gateway_url()).unwrap();
    storage.remove_item(PRICE_OVERRIDES_KEY).unwrap();
    let page = Page::mount(|| {
        provide_server_connection(prompt_runs::store::use_runs_store());
        view! { <Settings/> }
    });
    eventually("the server's models are listed", || {
        page.all(".settings__price").len() == 7
    })
    .await;
    let url: web_sys::HtmlInputElement = page.find(".settings__url").unwrap().unchecked_into();
    assert_eq!(url.value(), gateway_url(), "the saved server is used");
    let slow_price = || {
        let models = page.store.models();
        models
            .iter()
            .find(|model| model.id == "offline-slow")
            .unwrap()
            .cost_per_1k_tokens
    };
    assert_eq!(slow_price(), None, "the server has no price for it");

    let price_input = "[data-model=offline-slow] input";
    let set_price = |text: &str| {
        type_into(&page, price_input, text);
        page.find(price_input)
            .unwrap()
            .dispatch_event(&web_sys::Event::new("change").unwrap())
            .unwrap();
    };
    set_price("0.5");
    leptos::task::tick().await;
    assert_eq!(slow_price(), Some(0.5), "new runs are priced with it");
    assert_eq!(
        storage.get_item(PRICE_OVERRIDES_KEY).unwrap().as_deref(),
        Some(r#"{"offline-slow":0.5}"#)
    );
    set_price("lots");
    leptos::task::tick().await;
    assert!(page
        .text(".settings__problem")
        .contains("\"lots\" is not a price"));
    assert_eq!(slow_price(), Some(0.5), "a bad price changes nothing");
    set_price("");
    leptos::task::tick().await;
    assert_eq!(slow_price(), None, "empty goes back to the server's price");

    type_into(&page, ".settings__url", "localhost:9");
    page.click(".settings button[type=submit]");
    leptos::task::tick().await;
    assert!(page
        .text(".settings__problem")
        .contains("must start with http://"));
    assert_eq!(
        storage.get_item(SERVER_URL_KEY).unwrap().as_deref(),
        Some(gateway_url()),
        "not saved"
    );
    type_into(&page, ".settings__url", "http://127.0.0.1:9/");
    page.click(".settings button[type=submit]");
    leptos::task::tick().await;
    assert_eq!(
        storage.get_item(SERVER_URL_KEY).unwrap().as_deref(),
        Some("http://127.0.0.1:9")
    );
    eventually("the unreachable server is reported", || {
        page.store
            .error()
            .is_some_and(|error| error.contains("http://127.0.0.1:9"))
    })
    .await;
    storage.remove_item(SERVER_URL_KEY).unwrap();
    storage.remove_item(PRICE_OVERRIDES_KEY).unwrap();
}

/// Chooses a file holding `text` in the file input at `selector`.
fn choose_file(page: &Page, selector: &str, name: &str, text: &str) {
    let parts = js_sys::Array::of1(&text.into());
    let file = web_sys::File::new_with_str_sequence(&parts, name).unwrap();
    let chosen = web_sys::DataTransfer::new().unwrap();
    chosen.items().add_with_file(&file).unwrap();
    let input: web_sys::HtmlInputElement = page.find(selector).unwrap().unchecked_into();
    input.set_files(chosen.files().as_ref());
    input
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn history_transfer_imports_with_a_report_and_refuses_a_bad_file_whole() {
    let page = Page::mount(|| view! { <HistoryTransfer/> });
    page.store
        .add_run(finished("held", "m", 1, None, 1))
        .unwrap();
    // The held run exactly as this store would export it, and two new ones.
    let held = serde_json::to_string(&*page.store.get_run_by_id("held").unwrap()).unwrap();
    let exported = format!(
        r#"[{held},
        {{"id": "new-1", "modelId": "gpt-4o", "status": "success", "startedAt": "2024-05-01T12:01:00.000Z", "totalTokens": 10}},
        {{"id": "new-2", "modelId": "gpt-4o", "status": "error", "startedAt": "2024-05-01T12:02:00.000Z", "error": "HTTP 500"}}]"#
    );
    choose_file(&page, ".transfer__import input", "history.json", &exported);
    eventually("the import is reported", || {
        page.text(".transfer__outcome").starts_with("Imported")
    })
    .await;
    assert_eq!(
        page.text(".transfer__outcome"),
        "Imported history.json: 2 added, 0 updated, 1 skipped."
    );
    assert_eq!(page.store.runs().len(), 3);

    let broken = r#"[{"id": "new-3", "modelId": "m", "status": "success", "startedAt": "2024-05-01T12:03:00.000Z"}, {"id": 7}]"#;
    choose_file(&page, ".transfer__import input", "broken.json", broken);
    eventually("the refusal is reported", || {
        page.text(".transfer__outcome").starts_with("broken.json")
    })
    .await;
    assert!(
        page.text(".transfer__outcome")
            .contains("nothing was changed"),
        "{}",
        page.text(".transfer__outcome")
    );
    assert_eq!(
        page.store.runs().len(),
        3,
        "not even the valid run was added"
    );

    page.click(".transfer button");
    leptos::task::tick().await;
    assert_eq!(page.text(".transfer__outcome"), "Exported 3 runs as JSON.");
}

#[wasm_bindgen_test]
async fn execution_progress_of_one_run_is_indeterminate_and_cancel_aborts_the_request() {
    let page = Page::mount(|| view! { <ExecutionProgress/> });
    page.store.set_executor(NeuroForgeClient::new(
        ClientConfig::default().base_url(gateway_url()),
    ));
    let store = page.store;
    let outcome = std::rc::Rc::new(std::cell::RefCell::new(None));
    let finished = outcome.clone();
    leptos::task::spawn_local(async move {
        // This test model never answers: progress cannot be known.
        *finished.borrow_mut() = Some(store.execute("wait", "offline-hang", vec![]).await);
    });
    eventually("the request is in flight", || {
        page.find(".progress__state")
            .is_some_and(|state| state.text_content().unwrap() == "sending")
    })
    .await;
    assert!(page.find(".progress__bar--indeterminate").is_some());
    let bar = page.find("[role=progressbar]").unwrap();
    let aria = |name: &str| bar.get_attribute(name).unwrap_or_default();
    assert_eq!(
        (aria("aria-valuenow"), aria("aria-valuemax")),
        ("0".into(), "1".into()),
        "runs finished of all, no made-up percentage"
    );
    assert_eq!(aria("aria-valuetext"), "Waiting for the answer…");
    assert_eq!(page.text(".progress__label"), "Waiting for the answer…");
    assert_eq!(page.text(".progress__state"), "sending");

    page.click(".progress__cancel");
    eventually("execute returned", || outcome.borrow().is_some()).await;
    assert_eq!(
        outcome.borrow_mut().take().unwrap().unwrap_err(),
        prompt_runs::api::ApiError::Cancelled
    );
    assert_eq!(
        page.store.runs().get(0).unwrap().status,
        RunStatus::Cancelled
    );
}
