//! Experiments run for real in a page (headless Chromium) against the test
//! gateway's offline models, started by `cargo xtask test`: 120 runs to
//! completion, Cancel mid-experiment, the budget (and one smaller than a
//! request), every cell answered against a gateway with a tiny rate limit,
//! the grid's pass rates against the runs, and an experiment and its grid
//! back after a reload, its definition kept in the real IndexedDB.
#![cfg(target_arch = "wasm32")]

use futures::future::LocalBoxFuture;
use futures::FutureExt;
use leptos::prelude::*;
use prompt_runs::api::wire::ExecuteRequest;
use prompt_runs::api::{ApiError, ClientConfig, NeuroForgeClient, PromptExecutor, TextSink};
use prompt_runs::components::{provide_experiments, ExperimentGrid, Experiments};
use prompt_runs::experiment::{
    evaluate_all, passes, plan, Check, Experiment, Grid, InputFormat, InputTable, PassRate,
};
use prompt_runs::model::{RunStatus, Usd};
use prompt_runs::persist::{
    persist_history, provide_history, HistoryOptions, HistoryPersistence, StorageKeys,
};
use prompt_runs::store::{ExperimentReport, ExperimentStop, RunsStore, MAX_CONCURRENT_REQUESTS};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;
use support::{
    eventually, eventually_within, gateway_url, paced_gateway_url, sleep, store_with_models,
};

wasm_bindgen_test_configure!(run_in_browser);

/// The real client, counting its requests in flight: each is counted from
/// when it is made until its future is dropped (finished or aborted).
#[derive(Clone)]
struct CountingClient {
    client: NeuroForgeClient,
    in_flight: Rc<Cell<usize>>,
    most: Rc<Cell<usize>>,
}

struct InFlight(Rc<Cell<usize>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl PromptExecutor for CountingClient {
    fn execute(
        &self,
        request: ExecuteRequest,
        on_text: TextSink,
    ) -> LocalBoxFuture<'static, Result<prompt_runs::api::wire::ExecuteResponse, ApiError>> {
        self.in_flight.set(self.in_flight.get() + 1);
        self.most.set(self.most.get().max(self.in_flight.get()));
        let guard = InFlight(self.in_flight.clone());
        let request = self.client.execute(request, on_text);
        async move {
            let _guard = guard;
            request.await
        }
        .boxed_local()
    }
}

/// A store executing through the gateway with its models (and prices).
async fn connected(owner: &Owner) -> (RunsStore, CountingClient) {
    let client = NeuroForgeClient::new(ClientConfig::default().base_url(gateway_url()));
    let store = store_with_models(owner, &client).await;
    let counting = CountingClient {
        client,
        in_flight: Rc::new(Cell::new(0)),
        most: Rc::new(Cell::new(0)),
    };
    store.set_executor(counting.clone());
    (store, counting)
}

/// `rows` rows of `Say word N` on `models`.
fn experiment(id: &str, rows: usize, models: &[&str], repeats: u32) -> Experiment {
    let mut csv = String::from("word\n");
    for row in 0..rows {
        csv += &format!("word{row}\n");
    }
    let mut experiment = Experiment::new(id, "Browser run");
    experiment.template = "Say {{word}} back".into();
    experiment.inputs = InputTable::parse(csv.as_bytes(), InputFormat::Csv).unwrap();
    experiment.models = models.iter().map(|model| model.to_string()).collect();
    experiment.repeats = repeats;
    experiment
}

type Outcome = Rc<RefCell<Option<Result<ExperimentReport, ApiError>>>>;

fn start(store: RunsStore, experiment: &Experiment) -> Outcome {
    let outcome: Outcome = Rc::new(RefCell::new(None));
    let (slot, experiment) = (outcome.clone(), experiment.clone());
    leptos::task::spawn_local(async move {
        let cells = plan(&experiment, &store.models()).unwrap().cells;
        let report = store.run_experiment(&experiment, cells, |_| {}).await;
        *slot.borrow_mut() = Some(report);
    });
    outcome
}

#[wasm_bindgen_test]
async fn twenty_rows_on_two_models_three_times_is_120_runs_and_the_grid_agrees() {
    let owner = Owner::new();
    let (store, client) = connected(&owner).await;
    let mut experiment = experiment("exp-120", 20, &["offline-echo", "offline-slow"], 3);
    // Four tokens: a tenth of a second on offline-echo, half a second on
    // offline-slow; the latency check tells them apart.
    experiment.parameters.max_tokens = Some(4);
    experiment.checks = vec![
        Check::Contains {
            text: "offline".into(),
            case_sensitive: false,
        },
        Check::MaxLatency { ms: 300 },
    ];
    let outcome = start(store, &experiment);
    eventually_within("the experiment finished", 120, || {
        outcome.borrow().is_some()
    })
    .await;
    let report = outcome.borrow_mut().take().unwrap().unwrap();
    assert_eq!(
        report,
        ExperimentReport {
            cells: 120,
            succeeded: 120,
            ..ExperimentReport::default()
        }
    );
    assert!(
        client.most.get() <= MAX_CONCURRENT_REQUESTS,
        "at most 4 at once"
    );
    assert_eq!(client.in_flight.get(), 0);
    let runs = store.runs();
    assert_eq!(runs.len(), 120, "every cell is an ordinary run");
    assert!(runs.iter().all(|run| run.status == RunStatus::Success
        && run
            .experiment_cell()
            .is_some_and(|cell| cell.experiment_id == "exp-120")));
    assert_eq!(store.execution_progress(), 100.0);

    // The grid's pass rates, against the runs judged one by one.
    let grid = Grid::build(&experiment, runs.iter());
    for (summary, model) in grid.models.iter().zip(&experiment.models) {
        let mut expected = PassRate::default();
        for run in runs.iter().filter(|run| &run.model_id == model) {
            expected.count(passes(&evaluate_all(&experiment.checks, run)));
        }
        assert_eq!(summary.pass_rate, expected, "{model}");
        assert_eq!(summary.succeeded, 60);
        assert_eq!(summary.not_run, 0);
    }
    assert_eq!(grid.models[0].pass_rate.judged, 60);
    assert!(
        grid.models[1].pass_rate.passed < 60,
        "offline-slow is slower than 300 ms"
    );
    let cell = &grid.rows[7].cells[0];
    assert_eq!(cell.runs.iter().flatten().count(), 3, "three repeats");

    // And as the grid component shows it.
    let (container, mounted) = mount(move || {
        let experiment = Signal::stored(Some(std::sync::Arc::new(experiment)));
        view! { <ExperimentGrid store experiment height="600px"/> }
    });
    eventually("the grid is drawn", || {
        !texts(&container, ".grid__row").is_empty()
    })
    .await;
    assert_eq!(
        texts(&container, ".grid__pass-rate"),
        grid.models
            .iter()
            .map(|model| format!("Pass rate {}", model.pass_rate))
            .collect::<Vec<_>>()
    );
    let cells = container
        .query_selector_all(".grid__row[data-row='0'] .grid__cell")
        .unwrap();
    assert_eq!(cells.length(), 2, "one cell per model");
    let first = texts(&container, ".grid__row[data-row='0'] .grid__answer");
    assert!(first[0].starts_with("Offline demo answer"), "{first:?}");
    let repeats = texts(&container, ".grid__row[data-row='0'] .grid__repeats");
    assert_eq!(
        repeats[0], "1 distinct answer: 3×",
        "repeats collapse into one answer"
    );
    container.remove();
    // The grid's effects may outlive its unmounting by a task: the store
    // they read stays, as it does for the life of a page.
    std::mem::forget((mounted, owner));
}

#[wasm_bindgen_test]
async fn cancel_mid_experiment_leaves_nothing_in_flight_and_unsent_cells_not_run() {
    let owner = Owner::new();
    let (store, client) = connected(&owner).await;
    let experiment = experiment("exp-cancel", 10, &["offline-slow"], 1);
    let outcome = start(store, &experiment);
    eventually("four answers are streaming", || {
        store.runs().len() == 4
            && store
                .runs()
                .iter()
                .all(|run| run.output.as_ref().is_some_and(|text| !text.is_empty()))
    })
    .await;
    assert_eq!(client.in_flight.get(), 4);

    store.cancel_execution();
    // Aborted as the aborted futures are dropped, in the next microtask.
    leptos::task::tick().await;
    assert_eq!(client.in_flight.get(), 0, "Cancel aborts every request");
    eventually("the experiment returned", || outcome.borrow().is_some()).await;
    let report = outcome.borrow_mut().take().unwrap().unwrap();
    assert_eq!(
        (report.cancelled, report.not_sent, report.stopped),
        (4, 6, Some(ExperimentStop::Cancelled))
    );
    let held: Vec<_> = store.runs().iter().cloned().collect();
    assert!(held.iter().all(|run| run.status == RunStatus::Cancelled));
    let grid = Grid::build(&experiment, store.runs().iter());
    assert_eq!(grid.models[0].not_run, 6, "unsent cells are not run");
    assert_eq!(grid.models[0].failed, 4);

    // A whole slow answer takes ~8 s: nothing arrives, nothing more is sent.
    sleep(9_000).await;
    assert_eq!(client.in_flight.get(), 0);
    let later: Vec<_> = store.runs().iter().cloned().collect();
    assert_eq!(later, held, "no late answer, no new run");
}

#[wasm_bindgen_test]
async fn the_budget_holds_but_for_what_answers_cost_beyond_their_estimates() {
    let owner = Owner::new();
    let (store, client) = connected(&owner).await;
    let mut experiment = experiment("exp-budget", 30, &["offline-echo"], 1);
    experiment.parameters.max_tokens = Some(4);
    // offline-echo's made-up price: a few hundred-thousandths of a dollar per run.
    experiment.budget = Some(Usd::from_dollars(0.000_05));
    let cells = plan(&experiment, &store.models()).unwrap().cells;
    let estimate = store.estimate(&experiment, &cells);
    let outcome = start(store, &experiment);
    eventually_within("the experiment stopped", 60, || outcome.borrow().is_some()).await;
    let report = outcome.borrow_mut().take().unwrap().unwrap();
    let spent = store.experiment_spent("exp-budget");
    let Some(ExperimentStop::BudgetSpent {
        spent: reported,
        budget,
        next,
    }) = report.stopped
    else {
        panic!("stopped by the budget: {report:?}");
    };
    assert_eq!(budget, Usd::from_dollars(0.000_05));
    assert_eq!(
        reported, spent,
        "taken once the last answer landed: one figure"
    );
    assert!(next > Usd::ZERO);
    assert!(
        report.not_sent > 0 && report.succeeded + report.not_sent == 30,
        "{report:?}"
    );
    assert_eq!(
        store.runs().len(),
        report.succeeded,
        "unsent cells have no run"
    );
    // Passed, if at all, only by what answers cost beyond their estimates.
    let beyond: Usd = (store.runs().iter())
        .map(|run| {
            let cell = run.experiment_cell().unwrap();
            let planned = cells
                .iter()
                .find(|planned| planned.row == cell.row)
                .unwrap();
            let reserved = estimate.of_cell(planned).unwrap();
            Usd::from_nanos((run.cost_usd().unwrap().nanos() - reserved.nanos()).max(0))
        })
        .sum();
    assert!(spent <= budget + beyond, "{spent} > {budget} + {beyond}");
    assert_eq!(client.in_flight.get(), 0);
}

#[wasm_bindgen_test]
async fn a_budget_smaller_than_one_request_sends_nothing() {
    let owner = Owner::new();
    let (store, client) = connected(&owner).await;
    let mut experiment = experiment("exp-tiny-budget", 15, &["offline-echo"], 1);
    experiment.budget = Some(Usd::from_nanos(1));
    let outcome = start(store, &experiment);
    eventually("the experiment stopped", || outcome.borrow().is_some()).await;
    let report = outcome.borrow_mut().take().unwrap().unwrap();
    assert_eq!((report.not_sent, report.succeeded), (15, 0), "{report:?}");
    assert!(matches!(
        report.stopped,
        Some(ExperimentStop::BudgetSpent { spent: Usd::ZERO, next, .. }) if next > Usd::from_nanos(1)
    ));
    assert_eq!(client.most.get(), 0, "not one request");
    assert!(store.runs().is_empty());
}

#[wasm_bindgen_test]
async fn against_a_tiny_rate_limit_every_cell_is_answered_after_waiting() {
    let owner = Owner::new();
    let client = NeuroForgeClient::new(ClientConfig::default().base_url(paced_gateway_url()));
    let store = store_with_models(&owner, &client).await;
    let limits = client.limits().await.expect("the gateway says its limits");
    assert_eq!(limits.requests_per_minute, Some(60));
    store.set_server_limits(Some(limits));
    store.set_executor(client.clone());
    // 64 cells and the two requests above: a few more than the burst of 60,
    // then one a second.
    let mut experiment = experiment("exp-paced", 8, &["offline-echo"], 8);
    experiment.parameters.max_tokens = Some(2);
    let pauses = Rc::new(Cell::new(0));
    let seen = pauses.clone();
    Effect::new(move |_| {
        if store.execution_pause().is_some() {
            seen.set(seen.get() + 1);
        }
    });
    let outcome = start(store, &experiment);
    eventually_within("the experiment finished", 120, || {
        outcome.borrow().is_some()
    })
    .await;
    let report = outcome.borrow_mut().take().unwrap().unwrap();
    assert_eq!(
        report,
        ExperimentReport {
            cells: 64,
            succeeded: 64,
            ..ExperimentReport::default()
        },
        "no cell failed"
    );
    assert!(pauses.get() > 0, "it waited for the rate limit");
    assert_eq!(store.execution_pause(), None);
    assert!(store
        .runs()
        .iter()
        .all(|run| run.status == RunStatus::Success));
    // The gateway's Retry-After reaches the client (its CORS exposes it).
    let mut refused = None;
    for _ in 0..5 {
        if let Err(error) = client.limits().await {
            refused = Some(error);
            break;
        }
    }
    let refused = refused.expect("the bucket is empty after the experiment");
    assert_eq!(
        refused.try_later(),
        Some(Some(Duration::from_secs(1))),
        "{refused:?}"
    );
}

fn indexed_db() -> web_sys::IdbFactory {
    web_sys::window().unwrap().indexed_db().unwrap().unwrap()
}

/// A database prefix of the test's own, with any left by an earlier run deleted.
async fn fresh(test: &str) -> StorageKeys {
    let prefix = format!("experiment-{test}");
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    storage.remove_item(&prefix).unwrap();
    storage.remove_item(&format!("{prefix}:v1")).unwrap();
    let request = indexed_db().delete_database(&prefix).unwrap();
    let done = js_sys::Promise::new(&mut |resolve, _| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&resolve));
    });
    wasm_bindgen_futures::JsFuture::from(done).await.unwrap();
    StorageKeys::new(prefix)
}

/// A page: a store saved in IndexedDB and its experiments, under an owner.
struct Page {
    owner: Owner,
    store: RunsStore,
    history: HistoryPersistence,
    experiments: Experiments,
}

async fn open_page(keys: &StorageKeys, store: Option<(Owner, RunsStore)>) -> Page {
    let (owner, store) = match store {
        Some(given) => given,
        None => {
            let owner = Owner::new();
            let store = owner.with(RunsStore::new);
            (owner, store)
        }
    };
    let options = HistoryOptions::default()
        .keys(keys.clone())
        .debounce(Duration::from_millis(10));
    let (history, experiments) = owner.with(|| {
        let history = provide_history(persist_history(store, options));
        (history, provide_experiments(Some(store)))
    });
    let status = history.status();
    eventually("the history is loaded", || {
        status.is_loaded() && experiments.is_loaded()
    })
    .await;
    Page {
        owner,
        store,
        history,
        experiments,
    }
}

#[wasm_bindgen_test]
async fn a_reload_restores_the_experiment_and_its_grid() {
    let keys = fresh("reload").await;
    let owner = Owner::new();
    let (store, _) = connected(&owner).await;
    let page = open_page(&keys, Some((owner, store))).await;
    assert!(page.experiments.all().is_empty());
    let id = page.experiments.create("Capitals");
    page.experiments.edit(|experiment| {
        experiment.template = "Name the capital of {{country}}".into();
        experiment.inputs =
            InputTable::parse(b"country\nFrance\nPeru\n", InputFormat::Csv).unwrap();
        experiment.models = vec!["offline-echo".into()];
        experiment.checks = vec![Check::Contains {
            text: "capital".into(),
            case_sensitive: false,
        }];
        experiment.budget = Some(Usd::from_dollars(1.0));
    });
    let defined = (*page.experiments.open().unwrap()).clone();
    let outcome = start(page.store, &defined);
    eventually("the experiment ran", || outcome.borrow().is_some()).await;
    assert_eq!(outcome.borrow().clone().unwrap().unwrap().succeeded, 2);
    let history = page.history.clone();
    eventually("the runs are saved", move || history.is_saved()).await;
    for _ in 0..100 {
        let saved = page.history.saved_experiments().await.unwrap();
        if saved.experiments == [defined.clone()] {
            break;
        }
        sleep(50).await;
    }
    let window = web_sys::window().unwrap();
    let _ = window.dispatch_event(&web_sys::Event::new("pagehide").unwrap());
    drop(page.owner);

    let reloaded = open_page(&keys, None).await;
    assert_eq!(
        reloaded
            .experiments
            .all()
            .iter()
            .map(|e| (**e).clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&defined),
        "the definition, whole"
    );
    assert_eq!(reloaded.experiments.open().unwrap().id, id, "and open");
    let experiments = reloaded.experiments;
    eventually("the grid is back", move || {
        experiments.grid().is_some_and(|grid| {
            grid.models[0].succeeded == 2 && grid.models[0].pass_rate.judged == 2
        })
    })
    .await;

    // Deleting forgets the definition; its runs stay in the history.
    reloaded.experiments.remove(&id);
    for _ in 0..100 {
        if reloaded
            .history
            .saved_experiments()
            .await
            .unwrap()
            .experiments
            .is_empty()
        {
            break;
        }
        sleep(50).await;
    }
    assert!(reloaded
        .history
        .saved_experiments()
        .await
        .unwrap()
        .experiments
        .is_empty());
    assert_eq!(reloaded.store.runs().len(), 2);
}

#[wasm_bindgen_test]
async fn saved_experiments_round_trip_and_an_unreadable_one_is_left_alone() {
    let keys = fresh("saved").await;
    let page = open_page(&keys, None).await;
    let mut first = experiment("exp-a", 2, &["offline-echo"], 2);
    first.checks = vec![Check::regex("^Offline").unwrap()];
    let second = experiment("exp-b", 3, &["offline-echo", "offline-slow"], 1);
    page.history.save_experiment(&first).await.unwrap();
    page.history.save_experiment(&second).await.unwrap();
    first.repeats = 5;
    page.history.save_experiment(&first).await.unwrap();
    let saved = page.history.saved_experiments().await.unwrap();
    assert_eq!(
        saved.experiments,
        [first.clone(), second.clone()],
        "replaced by id"
    );
    assert!(saved.unreadable.is_empty());

    // One written by a newer version: reported, and kept as it is.
    let mut newer = serde_json::to_value(&second).unwrap();
    newer["id"] = "exp-newer".into();
    newer["schema"] = 99.into();
    put_raw("experiment-saved", "exp-newer", &newer.to_string()).await;
    let saved = page.history.saved_experiments().await.unwrap();
    assert_eq!(saved.experiments.len(), 2);
    assert_eq!(saved.unreadable.len(), 1);
    assert!(
        saved.unreadable[0].contains("exp-newer"),
        "{:?}",
        saved.unreadable
    );
    assert!(
        saved.unreadable[0].contains("newer version"),
        "{:?}",
        saved.unreadable
    );

    page.history.delete_experiment("exp-a").await.unwrap();
    let saved = page.history.saved_experiments().await.unwrap();
    assert_eq!(saved.experiments, [second]);
    assert_eq!(saved.unreadable.len(), 1, "still there");
    drop(page.owner);
}

/// Writes a record into database `name`'s experiments store directly.
async fn put_raw(name: &str, id: &str, json: &str) {
    let open = indexed_db().open(name).unwrap();
    let opened = js_sys::Promise::new(&mut |resolve, _| open.set_onsuccess(Some(&resolve)));
    wasm_bindgen_futures::JsFuture::from(opened).await.unwrap();
    let db: web_sys::IdbDatabase = open.result().unwrap().unchecked_into();
    let transaction = db
        .transaction_with_str_and_mode("experiments", web_sys::IdbTransactionMode::Readwrite)
        .unwrap();
    let record = js_sys::Object::new();
    js_sys::Reflect::set(&record, &"id".into(), &id.into()).unwrap();
    js_sys::Reflect::set(&record, &"experiment".into(), &json.into()).unwrap();
    transaction
        .object_store("experiments")
        .unwrap()
        .put(&record)
        .unwrap();
    let done = js_sys::Promise::new(&mut |resolve, _| transaction.set_oncomplete(Some(&resolve)));
    wasm_bindgen_futures::JsFuture::from(done).await.unwrap();
    db.close();
}

/// Mounts `view` in a fresh element; unmounted when the handle is dropped.
fn mount<V: IntoView + 'static>(
    view: impl FnOnce() -> V + 'static,
) -> (web_sys::HtmlElement, impl Drop) {
    let document = web_sys::window().unwrap().document().unwrap();
    let container: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&container).unwrap();
    let mounted = leptos::mount::mount_to(container.clone(), view);
    (container, mounted)
}

fn texts(container: &web_sys::HtmlElement, selector: &str) -> Vec<String> {
    let found = container.query_selector_all(selector).unwrap();
    (0..found.length())
        .map(|index| {
            found
                .item(index)
                .unwrap()
                .text_content()
                .unwrap_or_default()
        })
        .collect()
}
