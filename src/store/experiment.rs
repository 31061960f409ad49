//! Running an experiment: its planned cells sent as ordinary runs of the
//! store, a few at a time, through the same request path as
//! [`execute`](RunsStore::execute), under one progress, one Cancel and the
//! experiment's budget.
//!
//! A cell's run is added to the store only when its request is about to be
//! sent, so a cell that Cancel or the budget kept from being sent has no run
//! at all: the grid shows it as not run, and "re-run" finds it.
//!
//! A cell that answered is then graded by the experiment's model-graded
//! checks ([`Judging`]): each judge call is one more ordinary run, tagged in
//! `metadata.judge` with the run it grades, reserved from the same budget as
//! the cells, and not sent when a judge run with the same request (the same
//! judge, rubric and answer: its content hash) is in the history already.
//! A judge's votes on blind A/B pairs ([`RunsStore::judge_pairs`]) are sent
//! the same way.

use super::execute::{run_metadata, BatchProgress, RunProgress};
use super::RunsStore;
use crate::api::wire::ExecuteParameters;
use crate::api::ApiError;
use crate::api::PromptExecutor;
use crate::experiment::checks::judge_checks;
use crate::experiment::judge::{judge_tag, JudgeRequest, Judges, PreparedRubric, JUDGE_MAX_TOKENS};
use crate::experiment::judge_vote::{judge_voted, pending_pairwise_run};
use crate::experiment::{pairwise_request, BlindPair};
use crate::experiment::{
    Budget, CostEstimate, Experiment, Grid, ModelEstimate, Plan, PlannedCell, RECENT_ANSWERS,
};
use crate::model::{Model, PromptRun, RunStatus, Usd};
use futures::stream::{self, StreamExt};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

/// What running an experiment's cells did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExperimentReport {
    /// The cells this execution was asked to run.
    pub cells: usize,
    /// Cells whose run answered.
    pub succeeded: usize,
    /// Cells whose run failed (the others went on).
    pub failed: usize,
    /// Cells whose request was in flight when Cancel stopped it.
    pub cancelled: usize,
    /// Cells never sent: after Cancel, or once the budget could not cover them.
    pub not_sent: usize,
    /// Why it ended before every cell was sent, if it did.
    pub stopped: Option<ExperimentStop>,
    /// Judge calls sent (answered or not) to grade the answers.
    pub judge_calls: usize,
    /// Judge calls that failed or were cancelled.
    pub judge_failed: usize,
    /// Judge calls not sent: after Cancel, or once the budget could not
    /// cover them (their answers stay "not graded yet").
    pub judges_not_sent: usize,
}

/// Why an experiment stopped sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExperimentStop {
    /// Cancel was pressed.
    Cancelled,
    /// The next request's estimate did not fit in what was left of the
    /// budget (see [`Budget::reserve`]).
    BudgetSpent {
        /// What the experiment's runs cost once the last request in flight
        /// landed: the figure the plan shows as spent.
        spent: Usd,
        /// The budget.
        budget: Usd,
        /// The estimate of the first request that was not sent.
        next: Usd,
    },
}

impl ExperimentReport {
    /// Counts how one answer's judge calls went.
    fn count_judges(&mut self, judged: JudgeEnds) {
        self.judge_calls += judged.sent;
        self.judge_failed += judged.failed;
        self.judges_not_sent += judged.not_sent;
    }

    /// Cells that have finished one way or another, sent or not.
    pub fn finished(&self) -> usize {
        self.succeeded + self.failed + self.cancelled + self.not_sent
    }
}

/// How one cell ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CellEnd {
    Succeeded,
    Failed,
    Cancelled,
    NotSent,
}

/// What an execution shares between its cells: the budget, why it stopped
/// sending, and the grading of answers.
struct Sending {
    budget: Cell<Option<Budget>>,
    stopped: Cell<Option<ExperimentStop>>,
}

impl Sending {
    /// Whether a request estimated at `reserved` may go: Cancel was not
    /// pressed and the budget (if any) covers it, reserved now. Otherwise
    /// why not is kept, and nothing more is sent.
    fn admit(&self, store: &RunsStore, reserved: Usd) -> bool {
        // Checked as the request's turn comes, not when the plan was made.
        if self.stopped.get().is_none() && !store.is_executing.get_untracked() {
            self.stopped.set(Some(ExperimentStop::Cancelled));
        }
        if self.stopped.get().is_none() {
            if let Some(mut spending) = self.budget.get() {
                if spending.reserve(reserved) {
                    self.budget.set(Some(spending));
                } else {
                    self.stopped.set(Some(ExperimentStop::BudgetSpent {
                        spent: spending.spent(),
                        budget: spending.limit(),
                        next: reserved,
                    }));
                }
            }
        }
        self.stopped.get().is_none()
    }

    /// The request of run `run_id`, reserved at `reserved`, has landed: its
    /// reservation is released and its cost spent.
    fn settle(&self, store: &RunsStore, run_id: &str, reserved: Usd) {
        if let Some(mut spending) = self.budget.get() {
            let cost = store
                .get_run_untracked(run_id)
                .and_then(|run| run.cost_usd());
            spending.settle(reserved, cost);
            self.budget.set(Some(spending));
        }
    }
}

impl Sending {
    /// Sends one judge call of `request`, its run made by `run`, if Cancel
    /// was not pressed and the budget covers `reserved`: the one path of a
    /// model-graded check's calls and of a judge's A/B votes.
    async fn send_judge_call(
        &self,
        store: RunsStore,
        executor: Rc<dyn PromptExecutor>,
        request: &JudgeRequest,
        reserved: Usd,
        run: impl FnOnce() -> PromptRun,
        progress: RunProgress,
    ) -> JudgeEnds {
        if !self.admit(&store, reserved) {
            return JudgeEnds {
                not_sent: 1,
                ..JudgeEnds::default()
            };
        }
        let run = run();
        let judge_id = run.id.clone();
        store.add_run(run).expect("a fresh local id is free");
        let outcome = (store.send_pending_run(
            executor,
            judge_id.clone(),
            request.execute_request(),
            progress,
        ))
        .await;
        self.settle(&store, &judge_id, reserved);
        if matches!(outcome, Err(ApiError::Cancelled)) && self.stopped.get().is_none() {
            self.stopped.set(Some(ExperimentStop::Cancelled));
        }
        JudgeEnds {
            sent: 1,
            failed: usize::from(outcome.is_err()),
            not_sent: 0,
        }
    }
}

/// The grading of an execution's answers by the experiment's model-graded
/// checks.
struct Judging {
    /// Each model-graded check's rubric, and its judge's estimate (what a
    /// call is reserved at).
    rubrics: Vec<(PreparedRubric, ModelEstimate)>,
    /// The requests answered, in flight or sent by this execution: the
    /// cache, by content hash.
    taken: RefCell<BTreeSet<String>>,
    /// The judges' own progress: an execution's progress counts its cells.
    progress: Rc<BatchProgress>,
}

/// How the judge calls of one cell (or one judge call) went.
#[derive(Clone, Copy, Default)]
struct JudgeEnds {
    sent: usize,
    failed: usize,
    not_sent: usize,
}

impl JudgeEnds {
    fn add(&mut self, other: JudgeEnds) {
        self.sent += other.sent;
        self.failed += other.failed;
        self.not_sent += other.not_sent;
    }
}

impl Judging {
    /// The grading of `experiment`'s answers, its judges priced by
    /// `estimate`, its cache the judge runs in `store`.
    fn new(store: &RunsStore, experiment: &Experiment, estimate: &CostEstimate) -> Judging {
        let rubrics = (judge_checks(&experiment.checks).zip(&estimate.judges))
            .filter_map(|((_, check), judge)| {
                Some((check.prepare(&experiment.inputs).ok()?, judge.clone()))
            })
            .collect::<Vec<_>>();
        let mut taken = BTreeSet::new();
        if !rubrics.is_empty() {
            let judges = store
                .index
                .with_untracked(|runs| Judges::of(&experiment.id, runs.all().iter()));
            for run in judges.runs() {
                if let Some(tag) = judge_tag(run).filter(|tag| !judges.needs(tag.key)) {
                    taken.insert(tag.key.to_owned());
                }
            }
        }
        Judging {
            rubrics,
            taken: RefCell::new(taken),
            progress: Rc::new(BatchProgress::new(1, Some(JUDGE_MAX_TOKENS))),
        }
    }

    /// Grades the answer of run `run_id` (a cell of `experiment`) by each
    /// model-graded check, one judge call after the other, each admitted by
    /// `sending` (Cancel, the budget) and none sent twice.
    async fn grade(
        &self,
        store: RunsStore,
        executor: Rc<dyn PromptExecutor>,
        experiment: &Experiment,
        run_id: &str,
        sending: &Sending,
    ) -> JudgeEnds {
        let mut ends = JudgeEnds::default();
        let Some(graded) = store.get_run_untracked(run_id) else {
            return ends;
        };
        let Some(row) = graded.experiment_cell().map(|cell| cell.row) else {
            return ends;
        };
        for (rubric, judge) in &self.rubrics {
            let Some(request) = rubric.request(&experiment.inputs, row, &graded) else {
                continue;
            };
            if !self.taken.borrow_mut().insert(request.key.clone()) {
                continue;
            }
            let prompt_tokens = crate::text::estimate_tokens(&request.prompt);
            // No price, no reservation: the plan asked before sending.
            let reserved = judge.request_cost(prompt_tokens).unwrap_or(Usd::ZERO);
            let run = || request.pending_run(&experiment.id, &graded.id);
            let progress = RunProgress::new(self.progress.clone(), 0);
            let call = (sending.send_judge_call(
                store,
                executor.clone(),
                &request,
                reserved,
                run,
                progress,
            ))
            .await;
            if call.failed > 0 {
                // Failed: another answer with the same request may try again.
                self.taken.borrow_mut().remove(&request.key);
            }
            ends.add(call);
        }
        ends
    }
}

impl RunsStore {
    /// Runs `cells` of `experiment` (all of [`plan`](crate::experiment::plan())'s
    /// cells, or some: see [`failed_cells`]) as ordinary runs, each tagged in
    /// `metadata.experiment` and with the experiment's parameters (sent, and
    /// recorded in `metadata.parameters`), at most
    /// [`MAX_CONCURRENT_REQUESTS`](super::MAX_CONCURRENT_REQUESTS) at a time
    /// (or as many as [`set_max_concurrent_requests`](Self::set_max_concurrent_requests)
    /// said; fewer while the server asks to slow down: see
    /// [`execution_pause`](Self::execution_pause)), in the plan's order.
    ///
    /// - Refused with [`ApiError::Busy`] while another execution runs, without
    ///   an executor, and with [`ApiError::TooLarge`] when a cell's request is
    ///   larger than the server accepts; nothing is sent.
    /// - Progress ([`execution_progress`](Self::execution_progress)) covers
    ///   every cell; [`execution_run_ids`](Self::execution_run_ids) is left
    ///   empty, since thousands of cells are no list to follow run by run.
    /// - [`cancel_execution`](Self::cancel_execution) aborts the requests in
    ///   flight or waiting for the server (their runs end `cancelled`) and no
    ///   other cell is sent.
    /// - A failed cell is recorded and the others go on; a cell the server
    ///   asks to wait for (429, 503) waits and is sent again, failing only
    ///   after [`MAX_TRIES`](super::MAX_TRIES).
    /// - With a budget, a cell is sent only when what the experiment spent
    ///   (its earlier runs included), plus the estimates of the cells in
    ///   flight, plus its own estimate stays within it ([`Budget::reserve`]);
    ///   the report's spent figure is taken once the last answer landed.
    ///
    /// `on_progress` is called with the report so far each time a cell ends.
    pub async fn run_experiment(
        &self,
        experiment: &Experiment,
        cells: Vec<PlannedCell>,
        mut on_progress: impl FnMut(&ExperimentReport),
    ) -> Result<ExperimentReport, ApiError> {
        if self.is_executing.get_untracked() {
            return Err(ApiError::Busy);
        }
        let executor = self.executor.get_value().ok_or(ApiError::NoExecutor)?;
        let parameters = (experiment.parameters != ExecuteParameters::default())
            .then_some(&experiment.parameters);
        // Refused whole, before anything is sent.
        if let Some((_, refused)) = self.oversize_cell(experiment, &cells) {
            return Err(refused);
        }
        let estimate = self.estimate(experiment, &cells);
        let budget = (experiment.budget)
            .map(|limit| Budget::new(limit).with_spent(self.experiment_spent(&experiment.id)));
        let sending = Rc::new(Sending {
            budget: Cell::new(budget),
            stopped: Cell::new(None),
        });
        let judging = Rc::new(Judging::new(self, experiment, &estimate));
        let mut report = ExperimentReport {
            cells: cells.len(),
            ..ExperimentReport::default()
        };
        let progress = Rc::new(BatchProgress::new(
            cells.len(),
            experiment.parameters.max_tokens,
        ));

        self.execution_runs.set(Vec::new());
        self.start_execution();
        self.progress_known.set(true);

        let sends = cells.into_iter().enumerate().map(|(slot, cell)| {
            let (executor, sending, judging) = (executor.clone(), sending.clone(), judging.clone());
            let progress = progress.clone();
            let store = *self;
            let request = cell.request(&experiment.parameters);
            // No price, no reservation: the plan asked before sending.
            let reserved = estimate.of_cell(&cell).unwrap_or(Usd::ZERO);
            async move {
                if !sending.admit(&store, reserved) {
                    progress.set(slot, 100.0);
                    return (CellEnd::NotSent, JudgeEnds::default());
                }
                let mut run = cell.pending_run(&experiment.id);
                if let Some(sent) = run_metadata(None, parameters) {
                    run.metadata
                        .get_or_insert_with(Default::default)
                        .extend(sent);
                }
                let run_id = run.id.clone();
                store.add_run(run).expect("a fresh local id is free");
                let outcome = (store.send_pending_run(
                    executor.clone(),
                    run_id.clone(),
                    request,
                    RunProgress::new(progress.clone(), slot),
                ))
                .await;
                sending.settle(&store, &run_id, reserved);
                let judged = match outcome {
                    Ok(_) => (judging.grade(store, executor, experiment, &run_id, &sending)).await,
                    Err(_) => JudgeEnds::default(),
                };
                progress.set(slot, 100.0);
                let end = match outcome {
                    Ok(_) => CellEnd::Succeeded,
                    Err(ApiError::Cancelled) => CellEnd::Cancelled,
                    Err(_) => CellEnd::Failed,
                };
                (end, judged)
            }
        });
        // Unordered: a slow answer does not hold back the next cell's turn.
        let at_once = self.pacer.get_value().most();
        let mut ends = stream::iter(sends).buffer_unordered(at_once);
        while let Some((end, judged)) = ends.next().await {
            report.count_judges(judged);
            match end {
                CellEnd::Succeeded => report.succeeded += 1,
                CellEnd::Failed => report.failed += 1,
                CellEnd::Cancelled => report.cancelled += 1,
                CellEnd::NotSent => report.not_sent += 1,
            }
            // Cancel has set the progress back to 0 already.
            if self.is_executing.get_untracked() {
                self.update_execution_progress(progress.overall());
            }
            on_progress(&report);
        }
        drop(ends);
        self.end_experiment_execution(experiment, &sending, &mut report);
        Ok(report)
    }

    /// Grades the answers of `experiment` in the store that its
    /// model-graded checks have no verdict for (a check added after they
    /// ran, a judge call that failed or was not sent), as
    /// [`run_experiment`](Self::run_experiment) grades an answer: judge
    /// calls as ordinary runs, at most [`MAX_CONCURRENT_REQUESTS`](super::MAX_CONCURRENT_REQUESTS) answers at
    /// a time, under the experiment's budget and Cancel, none sent twice.
    /// Refused as `run_experiment` is; the report counts judge calls only.
    pub async fn grade_experiment(
        &self,
        experiment: &Experiment,
        on_progress: impl FnMut(&ExperimentReport),
    ) -> Result<ExperimentReport, ApiError> {
        if self.is_executing.get_untracked() {
            return Err(ApiError::Busy);
        }
        let executor = self.executor.get_value().ok_or(ApiError::NoExecutor)?;
        let estimate = self.estimate(experiment, &[]);
        let budget = (experiment.budget)
            .map(|limit| Budget::new(limit).with_spent(self.experiment_spent(&experiment.id)));
        let sending = Rc::new(Sending {
            budget: Cell::new(budget),
            stopped: Cell::new(None),
        });
        let judging = Rc::new(Judging::new(self, experiment, &estimate));
        let answered: Vec<String> = self.index.with_untracked(|runs| {
            (runs.all().iter())
                .filter(|run| run.status == RunStatus::Success)
                .filter(|run| {
                    run.experiment_cell()
                        .is_some_and(|cell| cell.experiment_id == experiment.id)
                })
                .map(|run| run.id.clone())
                .collect()
        });
        let progress = Rc::new(BatchProgress::new(answered.len(), Some(JUDGE_MAX_TOKENS)));
        self.execution_runs.set(Vec::new());
        self.start_execution();
        self.progress_known.set(true);
        let grades = answered.into_iter().enumerate().map(|(slot, run_id)| {
            let (executor, sending, judging) = (executor.clone(), sending.clone(), judging.clone());
            let (progress, store) = (progress.clone(), *self);
            async move {
                let judged = (judging.grade(store, executor, experiment, &run_id, &sending)).await;
                progress.set(slot, 100.0);
                judged
            }
        });
        Ok(self
            .judge_execution(experiment, &sending, grades, &progress, on_progress)
            .await)
    }

    /// Asks judge model `judge` to vote on `pairs` of `experiment` (see
    /// [`judge_vote`](crate::experiment::judge_vote)): one judge call per
    /// pair, an ordinary run tagged in `metadata.judge` with both runs,
    /// showing the judge the row's `expected` column when the inputs have
    /// one; at most [`MAX_CONCURRENT_REQUESTS`](super::MAX_CONCURRENT_REQUESTS)
    /// at a time, under the experiment's budget (each call reserved at the
    /// judge's price for its prompt and [`JUDGE_MAX_TOKENS`]) and Cancel.
    /// A pair the judge answered or is answering is not sent again.
    /// Refused as [`run_experiment`](Self::run_experiment) is; the report
    /// counts judge calls only.
    pub async fn judge_pairs(
        &self,
        experiment: &Experiment,
        pairs: &[BlindPair],
        judge: &str,
        on_progress: impl FnMut(&ExperimentReport),
    ) -> Result<ExperimentReport, ApiError> {
        if self.is_executing.get_untracked() {
            return Err(ApiError::Busy);
        }
        let executor = self.executor.get_value().ok_or(ApiError::NoExecutor)?;
        let price = self.models.with_untracked(|models| {
            (models.iter().find(|model| model.id == judge)).and_then(Model::known_price_per_1k)
        });
        let budget = (experiment.budget)
            .map(|limit| Budget::new(limit).with_spent(self.experiment_spent(&experiment.id)));
        let sending = Rc::new(Sending {
            budget: Cell::new(budget),
            stopped: Cell::new(None),
        });
        let judged = self.index.with_untracked(|runs| {
            let judges = Judges::of(&experiment.id, runs.all().iter());
            (pairs.iter())
                .filter(|pair| !judge_voted(judges.runs(), judge, (&pair.left.id, &pair.right.id)))
                .cloned()
                .collect::<Vec<_>>()
        });
        let expected = (experiment.inputs.columns().iter()).position(|column| column == "expected");
        let progress = Rc::new(BatchProgress::new(judged.len(), Some(JUDGE_MAX_TOKENS)));
        self.execution_runs.set(Vec::new());
        self.start_execution();
        self.progress_known.set(true);
        let calls = judged.into_iter().enumerate().map(|(slot, pair)| {
            let (executor, sending, progress, store) =
                (executor.clone(), sending.clone(), progress.clone(), *self);
            let expected = expected
                .and_then(|column| experiment.inputs.rows().get(pair.row)?.get(column)?.clone());
            async move {
                let request = pairwise_request(judge, &pair, expected.as_deref());
                let prompt_tokens = crate::text::estimate_tokens(&request.prompt);
                let reserved = price.map_or(Usd::ZERO, |price| {
                    Usd::for_tokens(price, prompt_tokens + u64::from(JUDGE_MAX_TOKENS))
                });
                let run = || pending_pairwise_run(&request, &experiment.id, &pair);
                let progress = RunProgress::new(progress, slot);
                (sending.send_judge_call(store, executor, &request, reserved, run, progress)).await
            }
        });
        Ok(self
            .judge_execution(experiment, &sending, calls, &progress, on_progress)
            .await)
    }

    /// Runs `calls` (each a judge call, or an answer's calls) as one
    /// execution of `experiment`, a few at a time, reporting each as it
    /// ends; the execution's progress is `progress`.
    async fn judge_execution(
        &self,
        experiment: &Experiment,
        sending: &Sending,
        calls: impl Iterator<Item = impl std::future::Future<Output = JudgeEnds>>,
        progress: &BatchProgress,
        mut on_progress: impl FnMut(&ExperimentReport),
    ) -> ExperimentReport {
        let mut report = ExperimentReport::default();
        let at_once = self.pacer.get_value().most();
        let mut ends = stream::iter(calls).buffer_unordered(at_once);
        while let Some(judged) = ends.next().await {
            report.count_judges(judged);
            if self.is_executing.get_untracked() {
                self.update_execution_progress(progress.overall());
            }
            on_progress(&report);
        }
        drop(ends);
        self.end_experiment_execution(experiment, sending, &mut report);
        report
    }

    /// Ends an execution of `experiment` once every request has landed:
    /// why it stopped, with the spent figure final now (the one the plan
    /// reads: the experiment's runs' costs).
    fn end_experiment_execution(
        &self,
        experiment: &Experiment,
        sending: &Sending,
        report: &mut ExperimentReport,
    ) {
        report.stopped = sending.stopped.get().map(|stop| match stop {
            ExperimentStop::BudgetSpent { budget, next, .. } => ExperimentStop::BudgetSpent {
                spent: self.experiment_spent(&experiment.id),
                budget,
                next,
            },
            cancelled => cancelled,
        });
        if report.cancelled > 0 && report.stopped.is_none() {
            report.stopped = Some(ExperimentStop::Cancelled);
        }
        if report.stopped != Some(ExperimentStop::Cancelled) {
            self.complete_execution();
        }
    }

    /// What the runs of experiment `experiment_id` in the store have cost,
    /// re-run attempts and judge calls included (as its grid's footer sums
    /// it): the one figure the budget, the plan's "spent so far" and the
    /// outcome read.
    pub fn experiment_spent(&self, experiment_id: &str) -> Usd {
        self.index.with_untracked(|runs| {
            (runs.all().iter())
                .filter(|run| {
                    run.experiment_cell()
                        .map(|cell| cell.experiment_id)
                        .or_else(|| judge_tag(run).map(|tag| tag.experiment_id))
                        == Some(experiment_id)
                })
                .filter_map(|run| run.cost_usd())
                .sum()
        })
    }

    /// The first of `cells` whose request is larger than the server accepts
    /// (when it said what it accepts: [`set_server_limits`](Self::set_server_limits)),
    /// and its refusal ([`ApiError::TooLarge`]), naming both sizes. Read
    /// untracked.
    pub fn oversize_cell<'a>(
        &self,
        experiment: &Experiment,
        cells: &'a [PlannedCell],
    ) -> Option<(&'a PlannedCell, ApiError)> {
        self.server_limits.get_untracked()?.max_request_bytes?;
        // A row's cells share its prompt: its first cell stands for them
        // (their model ids differ by a few bytes; the longest is checked).
        let mut longest: Vec<Option<&PlannedCell>> = Vec::new();
        for cell in cells {
            if longest.len() <= cell.row {
                longest.resize(cell.row + 1, None);
            }
            let held = &mut longest[cell.row];
            if held.is_none_or(|held| held.model_id.len() < cell.model_id.len()) {
                *held = Some(cell);
            }
        }
        (longest.into_iter().flatten())
            .find_map(|cell| Some((cell, self.oversize(&cell.request(&experiment.parameters))?)))
    }

    /// The output tokens of `model_id`'s latest successful answers in the
    /// store, newest first, at most [`RECENT_ANSWERS`]: what an estimate
    /// assumes an answer's length from when no `max_tokens` is set (see
    /// [`AnswerLength::of`](crate::experiment::AnswerLength::of)).
    pub fn recent_output_tokens(&self, model_id: &str) -> Vec<u64> {
        self.index.with_untracked(|runs| {
            (runs.by_model(model_id).iter())
                .filter(|run| run.status == RunStatus::Success)
                .filter_map(|run| run.output_tokens)
                .take(RECENT_ANSWERS)
                .collect()
        })
    }

    /// The estimate of `cells` of `experiment` with the store's prices and
    /// its models' recent answers ([`recent_output_tokens`](Self::recent_output_tokens)):
    /// what the plan shows and what the budget reserves. Read untracked.
    pub fn estimate(&self, experiment: &Experiment, cells: &[PlannedCell]) -> CostEstimate {
        let recent = |model_id: &str| self.recent_output_tokens(model_id);
        self.models
            .with_untracked(|prices| CostEstimate::of(cells, experiment, prices, &recent))
    }
}

/// The cells of `plan` whose run shown in `grid` failed or was cancelled:
/// "re-run failed cells only". Cells never run, in flight or answered are
/// left out (see [`Grid::unfinished_cells`] for failed and never run together).
pub fn failed_cells(plan: &Plan, grid: &Grid) -> Vec<PlannedCell> {
    (plan.cells.iter())
        .filter(|cell| {
            grid.run_of(cell.row, cell.model, cell.repeat)
                .is_some_and(|run| matches!(run.status, RunStatus::Error | RunStatus::Cancelled))
        })
        .cloned()
        .collect()
}
