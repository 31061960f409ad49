//! `RunsStore::run_experiment` natively, against an executor whose answers
//! the test releases one by one: every cell an ordinary tagged run, bounded
//! concurrency, one progress, Cancel, a failed cell, the budget, re-running
//! failed cells. (Against the real gateway in a page: tests/browser_experiment_run.rs.)
#![cfg(not(target_arch = "wasm32"))]

mod support;

use futures::channel::oneshot;
use futures::future::LocalBoxFuture;
use futures::task::LocalSpawnExt;
use futures::FutureExt;
use leptos::prelude::Owner;
use prompt_runs::api::wire::{ExecuteParameters, ExecuteRequest, ExecuteResponse, Usage};
use prompt_runs::api::{ApiError, PromptExecutor, TextSink};
use prompt_runs::experiment::{plan, Experiment, Grid, InputFormat, InputTable, PlannedCell};
use prompt_runs::model::{RunStatus, Usd, PARAMETERS_KEY};
use prompt_runs::store::{failed_cells, ExperimentReport, ExperimentStop, RunsStore};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

type Reply = oneshot::Sender<Result<ExecuteResponse, ApiError>>;

/// An executor that holds every request until the test answers it.
#[derive(Clone, Default)]
struct HeldServer {
    waiting: Rc<RefCell<Vec<(ExecuteRequest, Reply)>>>,
    started: Rc<Cell<usize>>,
    /// Requests dropped before they were answered (= aborted).
    aborted: Rc<Cell<usize>>,
}

struct AbortProbe(Rc<Cell<usize>>, bool);

impl Drop for AbortProbe {
    fn drop(&mut self) {
        if !self.1 {
            self.0.set(self.0.get() + 1);
        }
    }
}

impl PromptExecutor for HeldServer {
    fn execute(
        &self,
        request: ExecuteRequest,
        _on_text: TextSink,
    ) -> LocalBoxFuture<'static, Result<ExecuteResponse, ApiError>> {
        self.started.set(self.started.get() + 1);
        let (reply, answer) = oneshot::channel();
        self.waiting.borrow_mut().push((request, reply));
        let probe = AbortProbe(self.aborted.clone(), false);
        async move {
            let mut probe = probe;
            let result = answer.await.unwrap_or(Err(ApiError::Cancelled));
            probe.1 = true;
            result
        }
        .boxed_local()
    }
}

impl HeldServer {
    fn in_flight(&self) -> usize {
        self.waiting.borrow().len()
    }

    /// Answers the oldest request: models named `bad…` fail, the others
    /// echo the prompt at `cost`.
    fn answer_next(&self, cost: Option<f64>) {
        let (request, reply) = self.waiting.borrow_mut().remove(0);
        let result = if request.model_id.starts_with("bad") {
            Err(ApiError::Http {
                status: 500,
                detail: "the model broke".into(),
            })
        } else {
            Ok(ExecuteResponse {
                run_id: "server-run".into(),
                model_id: request.model_id.clone(),
                output: format!("echo: {}", request.prompt),
                usage: Usage {
                    prompt_tokens: 5,
                    completion_tokens: 5,
                    total_tokens: 10,
                    ..Usage::default()
                },
                latency_ms: 40,
                created_at: "2024-05-01T12:00:00.000Z".into(),
                cost,
                cost_source: None,
                first_token_ms: None,
                timings: None,
            })
        };
        let _ = reply.send(result);
    }
}

type Setup = support::native_store::Setup<HeldServer>;

fn setup() -> Setup {
    support::native_store::setup()
}

/// `rows` rows on `models`, each cell `repeats` times.
fn experiment(rows: usize, models: &[&str], repeats: u32) -> Experiment {
    let mut csv = String::from("word\n");
    for row in 0..rows {
        csv += &format!("w{row}\n");
    }
    let mut experiment = Experiment::new("exp-run", "Run");
    experiment.template = "Say {{word}}".into();
    experiment.inputs = InputTable::parse(csv.as_bytes(), InputFormat::Csv).unwrap();
    experiment.models = models.iter().map(|model| model.to_string()).collect();
    experiment.repeats = repeats;
    experiment
}

type Outcome = Rc<RefCell<Option<Result<ExperimentReport, ApiError>>>>;

/// Starts the run of `cells` on the pool; returns where its report lands and
/// the reports seen along the way.
fn start(
    setup: &Setup,
    experiment: &Experiment,
    cells: Vec<PlannedCell>,
) -> (Outcome, Rc<RefCell<Vec<ExperimentReport>>>) {
    let outcome: Outcome = Rc::new(RefCell::new(None));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (slot, progress) = (outcome.clone(), seen.clone());
    let (store, experiment) = (setup.store, experiment.clone());
    setup
        .pool
        .spawner()
        .spawn_local(async move {
            let report = store
                .run_experiment(&experiment, cells, |report| {
                    progress.borrow_mut().push(report.clone())
                })
                .await;
            *slot.borrow_mut() = Some(report);
        })
        .unwrap();
    (outcome, seen)
}

#[test]
fn every_cell_runs_as_a_tagged_run_four_at_a_time_under_one_progress() {
    let mut setup = setup();
    let mut experiment = experiment(3, &["m1", "m2"], 2);
    experiment.parameters = ExecuteParameters {
        temperature: Some(0.2),
        ..ExecuteParameters::default()
    };
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, seen) = start(&setup, &experiment, plan.cells.clone());
    let store = setup.store;

    setup.pool.run_until_stalled();
    assert!(store.is_executing());
    assert_eq!(setup.server.in_flight(), 4, "four requests at once");
    assert_eq!(store.runs().len(), 4, "a cell's run exists once it is sent");
    assert!(store.execution_run_ids().is_empty(), "no run-by-run list");
    let mut progress = Vec::new();
    while setup.server.in_flight() > 0 {
        assert!(setup.server.in_flight() <= 4);
        setup.server.answer_next(Some(0.001));
        setup.pool.run_until_stalled();
        progress.push(store.execution_progress());
    }
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        report,
        ExperimentReport {
            cells: 12,
            succeeded: 12,
            ..ExperimentReport::default()
        }
    );
    assert_eq!(setup.server.started.get(), 12);
    assert!(
        progress.windows(2).all(|pair| pair[0] <= pair[1]),
        "one progress, only forward: {progress:?}"
    );
    assert_eq!(store.execution_progress(), 100.0);
    assert!(!store.is_executing());
    assert_eq!(seen.borrow().len(), 12, "told as each cell ends");
    assert_eq!(seen.borrow()[5].finished(), 6);

    let runs = store.runs();
    assert_eq!(runs.len(), 12);
    for run in runs.iter() {
        assert_eq!(run.status, RunStatus::Success);
        let cell = run.experiment_cell().expect("tagged");
        assert_eq!(cell.experiment_id, "exp-run");
        assert_eq!(run.model_id, cell.model_id);
        assert_eq!(run.prompt_snapshot, format!("Say w{}", cell.row));
        assert_eq!(
            run.metadata.as_ref().unwrap()[PARAMETERS_KEY],
            serde_json::json!({"temperature": 0.2})
        );
    }
    let grid = Grid::build(&experiment, runs.iter());
    assert_eq!(grid.models[0].succeeded, 6);
    assert_eq!(grid.rows[2].cells[1].answers[0].repeats, [0, 1]);
    assert_eq!(store.experiment_spent("exp-run"), Usd::from_dollars(0.012));
}

#[test]
fn a_failed_cell_does_not_stop_the_others_and_only_failed_cells_run_again() {
    let mut setup = setup();
    let experiment = experiment(3, &["good", "bad"], 1);
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    while setup.server.in_flight() > 0 {
        setup.server.answer_next(None);
        setup.pool.run_until_stalled();
    }
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        (report.succeeded, report.failed, report.stopped),
        (3, 3, None)
    );
    let store = setup.store;
    assert_eq!(
        store.error(),
        None,
        "the grid shows failures, not the banner"
    );
    let grid = Grid::build(&experiment, store.runs().iter());
    assert_eq!(grid.models[1].failed, 3);
    assert!(grid.rows[0].cells[1]
        .errors()
        .any(|(_, error)| error.contains("the model broke")));

    let again = failed_cells(&plan, &grid);
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|cell| &*cell.model_id == "bad"));
    let (outcome, _) = start(&setup, &experiment, again);
    setup.pool.run_until_stalled();
    assert_eq!(
        setup.server.in_flight(),
        3,
        "only the failed cells are sent"
    );
    while setup.server.in_flight() > 0 {
        setup.server.answer_next(None); // … and fail again
        setup.pool.run_until_stalled();
    }
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!((report.cells, report.failed), (3, 3));
    assert_eq!(
        store.runs().len(),
        9,
        "a re-run adds runs, keeping the failed ones"
    );
}

#[test]
fn cancel_aborts_what_is_in_flight_and_sends_nothing_more() {
    let mut setup = setup();
    let experiment = experiment(5, &["m1", "m2"], 2);
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    setup.server.answer_next(Some(0.001));
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.started.get(), 5);

    let store = setup.store;
    store.cancel_execution();
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.aborted.get(), 4, "no request left in flight");
    assert_eq!(setup.server.started.get(), 5, "nothing sent after Cancel");
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        report,
        ExperimentReport {
            cells: 20,
            succeeded: 1,
            cancelled: 4,
            not_sent: 15,
            stopped: Some(ExperimentStop::Cancelled),
            ..ExperimentReport::default()
        }
    );
    assert_eq!(store.runs().len(), 5, "unsent cells have no run");
    let grid = Grid::build(&experiment, store.runs().iter());
    let not_run: usize = grid.models.iter().map(|model| model.not_run).sum();
    assert_eq!(not_run, 15);
    assert_eq!(
        plan.unfinished_cells(&grid).len(),
        19,
        "resume finds them all"
    );
    assert!(!store.is_executing());
}

#[test]
fn the_budget_stops_sending_once_spent_reaches_it() {
    let mut setup = setup();
    let mut experiment = experiment(10, &["m1"], 1);
    experiment.budget = Some(Usd::from_dollars(0.025));
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    // Spent 0.01 and 0.02: under the budget, each frees a turn for another.
    for sent in [5, 6] {
        setup.server.answer_next(Some(0.01));
        setup.pool.run_until_stalled();
        assert_eq!(setup.server.started.get(), sent);
    }
    // 0.03 reaches it: nothing more is sent, what is in flight finishes.
    setup.server.answer_next(Some(0.01));
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.started.get(), 6);
    while setup.server.in_flight() > 0 {
        setup.server.answer_next(Some(0.01));
        setup.pool.run_until_stalled();
    }
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!((report.succeeded, report.not_sent), (6, 4));
    assert_eq!(
        report.stopped,
        Some(ExperimentStop::BudgetSpent {
            spent: Usd::from_dollars(0.03),
            budget: Usd::from_dollars(0.025)
        })
    );
    let store = setup.store;
    assert!(!store.is_executing());

    // Run again: the budget counts what was spent before, and sends nothing.
    let grid = Grid::build(&experiment, store.runs().iter());
    let (outcome, _) = start(
        &setup,
        &experiment,
        plan.unfinished_cells(&grid).into_iter().cloned().collect(),
    );
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.started.get(), 6);
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(report.not_sent, 4);
    assert!(matches!(
        report.stopped,
        Some(ExperimentStop::BudgetSpent { .. })
    ));
}

#[test]
fn refused_while_another_execution_runs_and_without_an_executor() {
    let mut setup = setup();
    let experiment = experiment(2, &["m1"], 1);
    let plan = plan(&experiment, &[]).unwrap();
    let (first, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    let (second, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    assert_eq!(second.borrow().clone(), Some(Err(ApiError::Busy)));
    assert_eq!(
        setup.server.started.get(),
        2,
        "the refused one sent nothing"
    );
    let store = setup.store;
    let busy = futures::executor::block_on(store.execute("p", "m1", vec![]));
    assert_eq!(busy, Err(ApiError::Busy), "nor can a prompt run meanwhile");
    while setup.server.in_flight() > 0 {
        setup.server.answer_next(None);
        setup.pool.run_until_stalled();
    }
    assert!(first.borrow().as_ref().unwrap().is_ok());

    let owner = Owner::new();
    let bare = owner.with(RunsStore::new);
    let refused = futures::executor::block_on(bare.run_experiment(&experiment, plan.cells, |_| {}));
    assert_eq!(refused, Err(ApiError::NoExecutor));
    assert!(bare.runs().is_empty());
}
