//! `RunsStore::run_experiment` natively, against an executor whose answers
//! the test releases one by one: every cell an ordinary tagged run, bounded
//! concurrency, one progress, Cancel, a failed cell, the budget (reserving
//! before sending), re-running failed cells, and pacing: a cell the server
//! asks to wait for (429, 503) waits and is sent again; judge calls, for
//! model-graded checks and a judge's A/B votes. (Against the real gateway in
//! a page: tests/browser_experiment_run.rs.)
#![cfg(not(target_arch = "wasm32"))]

mod support;

use futures::channel::oneshot;
use futures::future::LocalBoxFuture;
use futures::task::LocalSpawnExt;
use futures::FutureExt;
use leptos::prelude::Owner;
use prompt_runs::api::wire::ServerLimits;
use prompt_runs::api::wire::{ExecuteParameters, ExecuteRequest, ExecuteResponse, Usage};
use prompt_runs::api::{ApiError, PromptExecutor, TextSink};
use prompt_runs::experiment::Outcome as CheckOutcome;
use prompt_runs::experiment::{
    judge_tag, plan, Check, Experiment, Grid, InputFormat, InputTable, JudgeCheck, PlannedCell,
};
use prompt_runs::model::{Model, Provider, RunStatus, Timestamp, Usd, PARAMETERS_KEY};
use prompt_runs::store::{
    failed_cells, ExperimentReport, ExperimentStop, RunsStore, MAX_CONCURRENT_REQUESTS, MAX_TRIES,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

type Reply = oneshot::Sender<Result<ExecuteResponse, ApiError>>;

/// A pause asked for, and how to end it while it is held.
type HeldPause = (Duration, Option<oneshot::Sender<()>>);

/// An executor that holds every request until the test answers it, and
/// every pause the store asks of it until the test ends it (or none, when
/// `pauses_end_at_once`).
#[derive(Clone, Default)]
struct HeldServer {
    waiting: Rc<RefCell<Vec<(ExecuteRequest, Reply)>>>,
    started: Rc<Cell<usize>>,
    /// Requests dropped before they were answered (= aborted).
    aborted: Rc<Cell<usize>>,
    /// The pauses asked for, and how to end each one still held.
    pauses: Rc<RefCell<Vec<HeldPause>>>,
    pauses_end_at_once: Rc<Cell<bool>>,
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

    fn pause(&self, wait: Duration) -> LocalBoxFuture<'static, ()> {
        if self.pauses_end_at_once.get() {
            self.pauses.borrow_mut().push((wait, None));
            return futures::future::ready(()).boxed_local();
        }
        let (end, ended) = oneshot::channel();
        self.pauses.borrow_mut().push((wait, Some(end)));
        ended.map(|_| ()).boxed_local()
    }
}

impl HeldServer {
    /// Answers the oldest request as an overloaded server does: 429 with
    /// `Retry-After: retry_after` (when given).
    fn refuse_next(&self, retry_after: Option<Duration>) {
        let (_, reply) = self.waiting.borrow_mut().remove(0);
        let _ = reply.send(Err(ApiError::TryLater {
            status: 429,
            detail: "too many requests".into(),
            retry_after,
        }));
    }

    /// Ends the pauses the store is waiting out.
    fn end_pauses(&self) {
        for (_, end) in self.pauses.borrow_mut().iter_mut() {
            if let Some(end) = end.take() {
                let _ = end.send(());
            }
        }
    }

    /// Every wait the store asked for.
    fn waits(&self) -> Vec<Duration> {
        self.pauses.borrow().iter().map(|(wait, _)| *wait).collect()
    }

    fn in_flight(&self) -> usize {
        self.waiting.borrow().len()
    }

    /// Answers the oldest request: models named `bad…` fail, `judge…`
    /// passes every answer with a verdict (and votes for A when asked to
    /// compare two), the others echo the prompt, at `cost`.
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
                output: if request.model_id.starts_with("judge")
                    && request.prompt.contains("<answer_a>")
                {
                    r#"{"winner": "A", "reason": "A is better."}"#.into()
                } else if request.model_id.starts_with("judge") {
                    r#"{"pass": true, "score": 0.8, "reason": "Fine."}"#.into()
                } else {
                    format!("echo: {}", request.prompt)
                },
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
fn a_store_told_to_send_more_at_once_sends_that_many_and_no_more() {
    let mut setup = setup();
    setup.store.set_max_concurrent_requests(10);
    let experiment = experiment(12, &["m1"], 1);
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());

    setup.pool.run_until_stalled();
    assert_eq!(setup.server.in_flight(), 10, "ten requests at once");
    setup.server.answer_next(None);
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.in_flight(), 10, "the next takes its place");
    while setup.server.in_flight() > 0 {
        setup.server.answer_next(None);
        setup.pool.run_until_stalled();
    }
    assert_eq!(outcome.borrow().clone().unwrap().unwrap().succeeded, 12);
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
        grid.unfinished_cells(&plan).len(),
        19,
        "resume finds them all"
    );
    assert!(!store.is_executing());
}

#[test]
fn without_a_price_the_budget_stops_sending_once_spent_reaches_it() {
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
            spent: Usd::from_dollars(0.06),
            budget: Usd::from_dollars(0.025),
            next: Usd::ZERO,
        }),
        "an unpriced model reserves nothing; the spent figure is taken once the last answer landed"
    );
    let store = setup.store;
    assert!(!store.is_executing());

    // Run again: the budget counts what was spent before, and sends nothing.
    let grid = Grid::build(&experiment, store.runs().iter());
    let (outcome, _) = start(
        &setup,
        &experiment,
        grid.unfinished_cells(&plan).into_iter().cloned().collect(),
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

/// `m1` at $0.01 per 1,000 tokens: with max tokens 98, a request of
/// `Say wN` (2 tokens) is estimated at 100 tokens, $0.001.
fn priced(setup: &Setup, experiment: &mut Experiment) -> Usd {
    setup.store.set_models(vec![Model {
        id: "m1".into(),
        name: "m1".into(),
        provider: Provider::Openai,
        max_tokens: 4096,
        supports_streaming: true,
        cost_per_1k_tokens: Some(0.01),
        metadata: None,
    }]);
    experiment.parameters.max_tokens = Some(98);
    let cells = plan(experiment, &setup.store.models()).unwrap().cells;
    let estimate = setup.store.estimate(experiment, &cells);
    estimate.of_cell(&cells[0]).unwrap()
}

#[test]
fn the_budget_counts_requests_in_flight_before_sending_another() {
    let mut setup = setup();
    let mut experiment = experiment(10, &["m1"], 1);
    let request = priced(&setup, &mut experiment);
    assert_eq!(request, Usd::from_dollars(0.001));
    experiment.budget = Some(Usd::from_dollars(0.0025));
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    assert_eq!(
        setup.server.started.get(),
        2,
        "two reservations fit in $0.0025, a third would not, though four could go at once"
    );
    // They cost less than reserved; the spent figure is what they cost.
    while setup.server.in_flight() > 0 {
        setup.server.answer_next(Some(0.0008));
        setup.pool.run_until_stalled();
    }
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!((report.succeeded, report.not_sent), (2, 8));
    assert_eq!(
        report.stopped,
        Some(ExperimentStop::BudgetSpent {
            spent: Usd::from_dollars(0.0016),
            budget: Usd::from_dollars(0.0025),
            next: request,
        })
    );
    assert_eq!(
        setup.store.experiment_spent("exp-run"),
        Usd::from_dollars(0.0016)
    );
}

#[test]
fn a_budget_smaller_than_one_request_sends_nothing() {
    let mut setup = setup();
    let mut experiment = experiment(15, &["m1"], 1);
    let request = priced(&setup, &mut experiment);
    experiment.budget = Some(Usd::from_dollars(0.0001));
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.started.get(), 0, "nothing sent");
    assert!(setup.store.runs().is_empty(), "no run");
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        report,
        ExperimentReport {
            cells: 15,
            not_sent: 15,
            stopped: Some(ExperimentStop::BudgetSpent {
                spent: Usd::ZERO,
                budget: Usd::from_dollars(0.0001),
                next: request,
            }),
            ..ExperimentReport::default()
        }
    );
}

#[test]
fn a_cell_the_server_asks_to_wait_for_waits_and_is_sent_again() {
    let mut setup = setup();
    let experiment = experiment(3, &["m1", "m2"], 1);
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.in_flight(), MAX_CONCURRENT_REQUESTS);
    let before = Timestamp::now().unix_millis().unwrap();
    setup.server.refuse_next(Some(Duration::from_secs(12)));
    setup.pool.run_until_stalled();

    let store = setup.store;
    assert_eq!(
        setup.server.waits(),
        [Duration::from_secs(12)],
        "Retry-After honoured"
    );
    let pause = store.execution_pause().expect("the store says it waits");
    assert_eq!(pause.status, 429);
    assert!(
        (11_000..=13_000).contains(&(pause.until - before)),
        "{pause:?}"
    );
    assert_eq!(
        setup.server.started.get(),
        4,
        "nothing is sent while paused, not even the next cell"
    );
    let refused = (store.runs().iter())
        .find(|run| run.experiment_cell().unwrap().row == 0 && run.model_id == "m1")
        .cloned()
        .unwrap();
    assert_eq!(refused.status, RunStatus::Running, "waiting, not failed");
    assert_eq!(refused.error, None);

    // The three answered meanwhile; then the pause ends.
    for _ in 0..3 {
        setup.server.answer_next(None);
        setup.pool.run_until_stalled();
    }
    assert_eq!(setup.server.started.get(), 4);
    setup.server.end_pauses();
    setup.pool.run_until_stalled();
    assert_eq!(store.execution_pause(), None);
    assert_eq!(
        setup.server.in_flight(),
        2,
        "sent again, with half as many at once"
    );
    while setup.server.in_flight() > 0 {
        setup.server.answer_next(None);
        setup.pool.run_until_stalled();
    }
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        report,
        ExperimentReport {
            cells: 6,
            succeeded: 6,
            ..ExperimentReport::default()
        }
    );
    assert_eq!(setup.server.started.get(), 7, "one cell sent twice");
    assert_eq!(store.runs().len(), 6, "in one run");
    let answered = store.get_run_by_id(&refused.id).unwrap();
    assert_eq!(answered.status, RunStatus::Success);
}

#[test]
fn a_cell_fails_after_the_last_try_saying_how_many_and_why() {
    let mut setup = setup();
    setup.server.pauses_end_at_once.set(true);
    let experiment = experiment(1, &["m1"], 1);
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    for _ in 0..MAX_TRIES {
        // No Retry-After: the store backs off on its own.
        setup.server.refuse_next(None);
        setup.pool.run_until_stalled();
    }
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!((report.failed, report.succeeded), (1, 0));
    assert_eq!(setup.server.started.get(), MAX_TRIES as usize);
    let waits = setup.server.waits();
    assert_eq!(waits.len(), MAX_TRIES as usize - 1);
    for (tries, wait) in (1..).zip(&waits) {
        let full = Duration::from_secs(1 << (tries - 1)).min(Duration::from_secs(60));
        assert!(
            *wait >= full / 2 && *wait <= full,
            "try {tries}: {wait:?} within {full:?}"
        );
    }
    let run = setup.store.runs().get(0).cloned().unwrap();
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(
        run.error.as_deref(),
        Some("HTTP 429: too many requests (gave up after 8 tries)")
    );
}

#[test]
fn cancel_while_waiting_for_the_server_stops_everything() {
    let mut setup = setup();
    let experiment = experiment(4, &["m1"], 2);
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    setup.server.refuse_next(Some(Duration::from_secs(30)));
    setup.pool.run_until_stalled();
    assert!(setup.store.execution_pause().is_some());
    setup.store.cancel_execution();
    setup.pool.run_until_stalled();
    assert_eq!(setup.store.execution_pause(), None);
    setup.server.end_pauses();
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.started.get(), 4, "nothing sent after Cancel");
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        (report.cancelled, report.not_sent, report.stopped),
        (4, 4, Some(ExperimentStop::Cancelled))
    );
    assert!(setup
        .store
        .runs()
        .iter()
        .all(|run| run.status == RunStatus::Cancelled));
}

#[test]
fn a_prompt_larger_than_the_server_accepts_is_refused_before_sending() {
    let mut setup = setup();
    let mut experiment = experiment(3, &["m1"], 1);
    experiment.template = "{{word}}".into();
    experiment.inputs.set_cell(1, 0, "x".repeat(2_000)).unwrap();
    setup.store.set_server_limits(Some(ServerLimits {
        max_request_bytes: Some(1_024),
        ..ServerLimits::default()
    }));
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    setup.pool.run_until_stalled();
    let refused = outcome.borrow().clone().unwrap().unwrap_err();
    let ApiError::TooLarge { bytes, limit } = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(limit, 1_024);
    assert!(bytes > 2_000);
    assert!(
        refused.to_string().contains("up to 1,024 bytes"),
        "{refused}"
    );
    assert_eq!(setup.server.started.get(), 0);
    assert!(setup.store.runs().is_empty());
    let (cell, _) = setup.store.oversize_cell(&experiment, &plan.cells).unwrap();
    assert_eq!(cell.row, 1, "the row named");
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

/// `experiment` graded by `judge-1` with the built-in "follows the
/// instructions" rubric.
fn judged(rows: usize, repeats: u32) -> Experiment {
    let mut experiment = experiment(rows, &["m1"], repeats);
    experiment.checks = vec![Check::Judge(JudgeCheck::built_in(1, "judge-1"))];
    experiment
}

/// Answers every request, judge calls included, until none is left.
fn answer_all(setup: &mut Setup, cost: Option<f64>) {
    setup.pool.run_until_stalled();
    while setup.server.in_flight() > 0 {
        setup.server.answer_next(cost);
        setup.pool.run_until_stalled();
    }
}

#[test]
fn each_answer_is_graded_by_a_judge_call_linked_to_it_and_never_twice() {
    let mut setup = setup();
    // Two rows, two repeats: the repeats answer the same text, one verdict each row.
    let experiment = judged(2, 2);
    let plan = plan(&experiment, &[]).unwrap();
    assert_eq!(plan.estimate.judge_calls(), 4, "at most one per answer");
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    answer_all(&mut setup, Some(0.01));
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        (report.succeeded, report.judge_calls, report.judge_failed),
        (4, 2, 0)
    );
    assert_eq!(setup.server.started.get(), 6);

    let store = setup.store;
    let runs = store.runs();
    let judges: Vec<_> = runs.iter().filter(|run| judge_tag(run).is_some()).collect();
    assert_eq!(judges.len(), 2);
    for judge in &judges {
        let tag = judge_tag(judge).unwrap();
        let graded = store
            .get_run_by_id(tag.grades)
            .expect("linked to the run it grades");
        assert_eq!(graded.experiment_cell().unwrap().experiment_id, "exp-run");
        assert_eq!(judge.model_id, "judge-1");
        assert!(judge
            .prompt_snapshot
            .contains(graded.output.as_deref().unwrap()));
        assert_eq!(judge.status, RunStatus::Success);
    }
    let grid = Grid::build(&experiment, runs.iter());
    for row in &grid.rows {
        for outcomes in &row.cells[0].checks {
            assert_eq!(
                outcomes[0],
                CheckOutcome::PassBecause("score 0.80: Fine.".into())
            );
        }
    }
    assert_eq!(grid.models[0].pass_rate.passed, 4);
    assert_eq!(
        store.experiment_spent("exp-run"),
        Usd::from_dollars(0.06),
        "four answers and two judge calls"
    );

    // The same answers again: their verdicts are in the history, no judge is called.
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    answer_all(&mut setup, Some(0.01));
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!((report.succeeded, report.judge_calls), (4, 0));
    assert_eq!(setup.server.started.get(), 10);
}

#[test]
fn the_budget_reserves_each_judge_call_as_it_does_a_cell() {
    let mut setup = setup();
    let mut experiment = judged(1, 1);
    setup.store.set_models(vec![Model {
        id: "judge-1".into(),
        name: "judge".into(),
        provider: Provider::Openai,
        max_tokens: 4096,
        supports_streaming: true,
        cost_per_1k_tokens: Some(1.0),
        metadata: None,
    }]);
    // The answer is free (no price); the judge call's estimate, some hundreds
    // of tokens at $1 per 1,000, does not fit.
    experiment.budget = Some(Usd::from_dollars(0.1));
    let plan = plan(&experiment, &setup.store.models()).unwrap();
    let judge_estimate = plan.estimate.judges[0].cost.unwrap();
    assert!(judge_estimate > Usd::from_dollars(0.1));
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    answer_all(&mut setup, None);
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        (report.succeeded, report.judge_calls, report.judges_not_sent),
        (1, 0, 1)
    );
    assert_eq!(setup.server.started.get(), 1, "the judge was never called");
    let Some(ExperimentStop::BudgetSpent { next, .. }) = report.stopped else {
        panic!("{:?}", report.stopped)
    };
    assert!(
        next > Usd::ZERO && next <= judge_estimate,
        "the judge call's own estimate"
    );
    let grid = Grid::build(&experiment, setup.store.runs().iter());
    assert_eq!(
        grid.rows[0].cells[0].checks[0][0],
        CheckOutcome::NotApplicable("not graded yet".into())
    );
}

#[test]
fn judge_calls_count_in_what_the_budget_has_spent() {
    let mut setup = setup();
    let mut experiment = judged(2, 1);
    experiment.budget = Some(Usd::from_dollars(0.025));
    let plan = plan(&experiment, &[]).unwrap();
    // Row 0 only: its answer and its judge call cost 0.01 each.
    let (outcome, _) = start(&setup, &experiment, plan.cells[..1].to_vec());
    answer_all(&mut setup, Some(0.01));
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!((report.succeeded, report.judge_calls), (1, 1));
    assert_eq!(
        setup.store.experiment_spent("exp-run"),
        Usd::from_dollars(0.02)
    );
    // Row 1 fits (0.02 spent, under 0.025), its judge call no longer does.
    let (outcome, _) = start(&setup, &experiment, plan.cells[1..].to_vec());
    answer_all(&mut setup, Some(0.01));
    let report = outcome.borrow().clone().unwrap().unwrap();
    assert_eq!(
        (report.succeeded, report.judge_calls, report.judges_not_sent),
        (1, 0, 1)
    );
    assert_eq!(
        setup.store.experiment_spent("exp-run"),
        Usd::from_dollars(0.03)
    );
}

#[test]
fn answers_that_ran_before_a_judge_check_was_added_are_graded_on_request() {
    let mut setup = setup();
    let mut experiment = experiment(2, &["m1"], 1);
    let plan = plan(&experiment, &[]).unwrap();
    let (outcome, _) = start(&setup, &experiment, plan.cells.clone());
    answer_all(&mut setup, Some(0.01));
    assert_eq!(outcome.borrow().clone().unwrap().unwrap().judge_calls, 0);

    experiment.checks = vec![Check::Judge(JudgeCheck::built_in(1, "judge-1"))];
    let store = setup.store;
    let grid = Grid::build(&experiment, store.runs().iter());
    assert_eq!(grid.ungraded(), 2);
    let graded: Outcome = Rc::new(RefCell::new(None));
    let (slot, judged) = (graded.clone(), experiment.clone());
    setup
        .pool
        .spawner()
        .spawn_local(async move {
            *slot.borrow_mut() = Some(store.grade_experiment(&judged, |_| {}).await);
        })
        .unwrap();
    setup.pool.run_until_stalled();
    assert!(store.is_executing(), "one execution, with its Cancel");
    assert_eq!(setup.server.in_flight(), 2, "a judge call per answer");
    answer_all(&mut setup, Some(0.01));
    let report = graded.borrow().clone().unwrap().unwrap();
    assert_eq!(
        (report.cells, report.judge_calls, report.stopped),
        (0, 2, None)
    );
    assert!(!store.is_executing());
    let grid = Grid::build(&experiment, store.runs().iter());
    assert_eq!((grid.ungraded(), grid.models[0].pass_rate.passed), (0, 2));
    assert_eq!(store.experiment_spent("exp-run"), Usd::from_dollars(0.04));

    // Graded already: nothing more is sent.
    let (slot, judged) = (graded.clone(), experiment.clone());
    setup
        .pool
        .spawner()
        .spawn_local(async move {
            *slot.borrow_mut() = Some(store.grade_experiment(&judged, |_| {}).await);
        })
        .unwrap();
    answer_all(&mut setup, None);
    assert_eq!(graded.borrow().clone().unwrap().unwrap().judge_calls, 0);
    assert_eq!(setup.server.started.get(), 4);
}

#[test]
fn a_judges_ab_votes_are_judge_calls_sent_once_and_under_the_budget() {
    use prompt_runs::experiment::{answer_pairs, judge_votes, Judges, Standings};
    let mut setup = setup();
    let mut experiment = experiment(3, &["m1", "m2"], 1);
    let plan = plan(&experiment, &[]).unwrap();
    let _ = start(&setup, &experiment, plan.cells.clone());
    answer_all(&mut setup, Some(0.01));
    let store = setup.store;
    let grid = Grid::build(&experiment, store.runs().iter());
    let pairs = answer_pairs(&experiment, &grid, (0, 1), 9);
    assert_eq!(pairs.len(), 3);

    let judge = |setup: &mut Setup, experiment: &Experiment, judge: &'static str| {
        let outcome: Outcome = Rc::new(RefCell::new(None));
        let (slot, experiment, pairs) = (outcome.clone(), experiment.clone(), pairs.clone());
        setup
            .pool
            .spawner()
            .spawn_local(async move {
                *slot.borrow_mut() =
                    Some(store.judge_pairs(&experiment, &pairs, judge, |_| {}).await);
            })
            .unwrap();
        answer_all(setup, Some(0.01));
        let report = outcome.borrow().clone().unwrap().unwrap();
        report
    };
    let report = judge(&mut setup, &experiment, "judge-1");
    assert_eq!(
        (report.judge_calls, report.judge_failed, report.stopped),
        (3, 0, None)
    );
    let runs = store.runs();
    let judges = Judges::of(&experiment.id, runs.iter());
    assert_eq!(
        judges.len(),
        3,
        "ordinary runs, tagged as the experiment's judge calls"
    );
    // The judge always says A: each pair's A side won, whichever model it was.
    let votes = judge_votes(judges.runs());
    assert_eq!(
        (votes.len(), votes[0].0.as_str(), votes[0].1.len()),
        (1, "judge-1", 3)
    );
    let standings = Standings::of(&votes[0].1, &experiment.models);
    let m1_on_a = pairs
        .iter()
        .filter(|pair| pair.left.model_id == "m1")
        .count();
    assert_eq!(standings.tally(0, 1).wins, m1_on_a);
    assert!(
        prompt_runs::experiment::cast_votes(runs.iter()).is_empty(),
        "no person's vote"
    );
    assert_eq!(
        store.experiment_spent("exp-run"),
        Usd::from_dollars(0.09),
        "counted"
    );

    let again = judge(&mut setup, &experiment, "judge-1");
    assert_eq!(
        again.judge_calls + again.judges_not_sent,
        0,
        "a pair is judged once"
    );

    // Another judge, with the budget spent: nothing is sent.
    experiment.budget = Some(Usd::from_dollars(0.09));
    let spent = judge(&mut setup, &experiment, "judge-2");
    assert_eq!((spent.judge_calls, spent.judges_not_sent), (0, 3));
    assert!(matches!(
        spent.stopped,
        Some(ExperimentStop::BudgetSpent { .. })
    ));
}
