//! The experiment's grid: one row per input row, one cell per model (one
//! per row in exact pairs), each cell the runs of its repeats with their
//! distinct answers and check results, and a footer per model with its pass
//! rate over all checks and per check. [`RowFilter`] says which rows a person
//! looks at: where the models differ, where a run or a check failed, or what
//! they judged.
//!
//! Built from the store's runs in one pass, O(runs): each run's
//! `metadata.experiment` tag says where it goes. When a cell was run more than
//! once for one repeat (a failed cell re-run), the grid shows one attempt: a
//! successful one over any other, and otherwise the latest started.

use super::agreement::Agreement;
use super::cell::PlannedCell;
use super::checks::{passes, Check, Grading, Outcome, PassRate};
use super::definition::Experiment;
use super::judge::{judge_tag, Judges};
use super::label::shortened;
use super::plan::Plan;
use crate::model::{percentile, CostSource, PromptRun, Rating, RunStatus, Usd};
use std::sync::Arc;

/// Rows × models, from an experiment and its runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// One per input row, in order.
    pub rows: Vec<GridRow>,
    /// The footer: one per distinct model, in the experiment's order.
    pub models: Vec<ModelSummary>,
    /// Runs tagged with this experiment whose row, model or repeat it no
    /// longer has (its inputs or models were edited after they ran).
    pub stray_runs: usize,
    /// The judge calls of the experiment's model-graded checks, one per
    /// request (the cache's key), whatever their status.
    pub judges: Judges,
    /// What the judge calls cost, all of them (re-tried ones included).
    pub judge_cost: CostTotal,
    /// The checks the outcomes were evaluated with, so that a rebuild knows
    /// whether it may reuse them.
    checks: Vec<super::checks::Check>,
}

/// One input row of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GridRow {
    /// The input row, from 0.
    pub row: usize,
    /// Its cells: one per model in a cross product, one in exact pairs.
    pub cells: Vec<GridCell>,
    /// Whether the models answered differently (see [`GridRow::models_differ`]).
    models_differ: bool,
    /// Its runs that passed all checks, of those judged.
    pub pass_rate: PassRate,
}

/// Where a cell stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellStatus {
    /// No repeat has a run: never sent (or not sent before a cancel or the budget stopped it).
    NotRun,
    /// Some repeat's run is pending or running.
    InFlight,
    /// At least one repeat answered.
    Answered,
    /// Every run there is failed or was cancelled.
    Failed,
}

/// One row on one model: the run of each repeat, collapsed into distinct answers.
#[derive(Clone, Debug, PartialEq)]
pub struct GridCell {
    /// The model's position in the experiment's models.
    pub model: usize,
    /// The run shown for each repeat (index = repeat), `None` where none ran.
    pub runs: Vec<Option<Arc<PromptRun>>>,
    /// The check outcomes of each repeat's run, in the experiment's check
    /// order (empty where no run).
    pub checks: Vec<Vec<Outcome>>,
    /// The distinct answers of the successful runs, most frequent first.
    pub answers: Vec<Answer>,
    /// Its runs that passed all checks, of those judged.
    pub pass_rate: PassRate,
    /// Where it stands.
    pub status: CellStatus,
}

/// One distinct answer in a cell and how often the repeats gave it. Answers
/// that differ only in surrounding whitespace are the same answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The first run (by repeat) that gave it; its `output` is the text shown.
    pub run: Arc<PromptRun>,
    /// The repeats (from 0) that gave it.
    pub repeats: Vec<u32>,
}

/// A model's figures in the footer.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSummary {
    /// The model.
    pub model_id: String,
    /// Its shown runs that passed all checks, of those judged.
    pub pass_rate: PassRate,
    /// Per check, in the experiment's order: its shown runs that passed that
    /// check, of those the check judged (a check that could not judge a run,
    /// such as a latency limit on a run without one, leaves it out).
    pub checks: Vec<PassRate>,
    /// Per check, in the experiment's order: how its verdicts agree with
    /// people's thumbs on the same shown runs (all zero for a check that is
    /// not model-graded).
    pub agreement: Vec<Agreement>,
    /// What all its runs in the experiment cost, re-run attempts included.
    pub cost: CostTotal,
    /// Median latency of its successful shown runs, in ms.
    pub p50_latency_ms: Option<u64>,
    /// 95th-percentile latency of its successful shown runs, in ms.
    pub p95_latency_ms: Option<u64>,
    /// Its shown runs that answered.
    pub succeeded: usize,
    /// Its shown runs that failed or were cancelled.
    pub failed: usize,
    /// Its shown runs in flight.
    pub in_flight: usize,
    /// Its repeats with no run.
    pub not_run: usize,
}

/// A sum of run costs that knows when it is incomplete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CostTotal {
    /// The sum of the costs that are known.
    pub known: Usd,
    /// Successful runs with no cost (no price was known). Failed and
    /// cancelled runs without a cost are not counted here: they reported no
    /// usage, and the store invents none.
    pub unknown_runs: usize,
    /// Runs of a local model, counted $0 with no price of their own.
    pub local_runs: usize,
    /// Runs whose cost a price or the server gave.
    pub priced_runs: usize,
}

impl CostTotal {
    /// The total, or `None` ("unknown") when some successful run's cost is unknown.
    pub fn total(&self) -> Option<Usd> {
        (self.unknown_runs == 0).then_some(self.known)
    }

    /// Whether every cost in it is a local model's $0: a total that reads
    /// "not priced" rather than `$0.0000`, which would pass for a price.
    pub fn is_unpriced(&self) -> bool {
        self.local_runs > 0 && self.priced_runs == 0
    }

    fn add(&mut self, run: &PromptRun) {
        match run.cost_usd() {
            Some(_) if run.cost_source() == Some(CostSource::Local) => self.local_runs += 1,
            Some(cost) => {
                self.known += cost;
                self.priced_runs += 1;
            }
            None if run.status == RunStatus::Success => self.unknown_runs += 1,
            None => {}
        }
    }
}

impl GridRow {
    /// Whether at least two models answered and their answers differ: each
    /// model's set of distinct answers (whitespace at the ends ignored) is
    /// compared. Always false in exact pairs, where a row has one model.
    pub fn models_differ(&self) -> bool {
        self.models_differ
    }
}

impl GridCell {
    /// The error of each failed or cancelled run shown, by repeat.
    pub fn errors(&self) -> impl Iterator<Item = (u32, &str)> {
        (self.runs.iter().zip(0..))
            .filter_map(|(run, repeat)| Some((repeat, run.as_ref()?)))
            .filter(|(_, run)| matches!(run.status, RunStatus::Error | RunStatus::Cancelled))
            .map(|(repeat, run)| (repeat, run.error.as_deref().unwrap_or("failed")))
    }
}

impl Grid {
    /// The grid of `experiment` from `runs` (the store's runs: those of other
    /// experiments, or none, are passed over).
    pub fn build<'a>(
        experiment: &Experiment,
        runs: impl IntoIterator<Item = &'a Arc<PromptRun>>,
    ) -> Grid {
        Grid::build_reusing(experiment, runs, None)
    }

    /// The grid again, after some runs changed (a run finished, a cell was
    /// re-run): as [`Grid::build`], but a run still shown in the same place
    /// as the same `Arc` keeps its check outcomes from `self` instead of being
    /// evaluated again, unless the checks changed, or a judge call was added
    /// or changed (it may grade any run). Checks are most of the cost of a
    /// build, so a grid that follows an experiment run by run stays cheap.
    pub fn rebuild<'a>(
        &self,
        experiment: &Experiment,
        runs: impl IntoIterator<Item = &'a Arc<PromptRun>>,
    ) -> Grid {
        let previous = (self.checks == experiment.checks).then_some(self);
        Grid::build_reusing(experiment, runs, previous)
    }

    fn build_reusing<'a>(
        experiment: &Experiment,
        runs: impl IntoIterator<Item = &'a Arc<PromptRun>>,
        previous: Option<&Grid>,
    ) -> Grid {
        let repeats = experiment.repeats as usize;
        let row_count = experiment.inputs.rows().len();
        let mut slots: Vec<Vec<Option<Arc<PromptRun>>>> = (0..row_count)
            .map(|row| vec![None; experiment.models_of_row(row).len() * repeats])
            .collect();
        // The footer has one entry per distinct model (in exact pairs an id
        // may repeat); `summary_of` maps a model's position to its entry.
        let mut model_ids: Vec<&str> = Vec::new();
        let summary_of: Vec<usize> = (experiment.models.iter())
            .map(
                |model_id| match model_ids.iter().position(|id| id == model_id) {
                    Some(index) => index,
                    None => {
                        model_ids.push(model_id);
                        model_ids.len() - 1
                    }
                },
            )
            .collect();
        let mut costs = vec![CostTotal::default(); model_ids.len()];
        let mut stray_runs = 0;
        let mut judges = Judges::default();
        let mut judge_cost = CostTotal::default();

        for run in runs {
            let Some(tag) = run.experiment_cell() else {
                if let Some(judged) =
                    judge_tag(run).filter(|tag| tag.experiment_id == experiment.id)
                {
                    judge_cost.add(run);
                    judges.add(judged.key.to_owned(), run.clone());
                }
                continue;
            };
            if tag.experiment_id != experiment.id {
                continue;
            }
            // A linear search: an experiment has a handful of models, and a
            // hash map would cost the bundle more than it saves here.
            let model = experiment.model_position(tag.row, tag.model_id);
            let (Some(model), Some(row_slots)) = (model, slots.get_mut(tag.row)) else {
                stray_runs += 1;
                continue;
            };
            if tag.repeat as usize >= repeats {
                stray_runs += 1;
                continue;
            }
            let column = model - experiment.models_of_row(tag.row).start;
            costs[summary_of[model]].add(run);
            let slot = &mut row_slots[column * repeats + tag.repeat as usize];
            if slot.as_ref().is_none_or(|held| shows_over(run, held)) {
                *slot = Some(run.clone());
            }
        }

        let mut summaries: Vec<ModelSummary> = (model_ids.iter().zip(costs))
            .map(|(model_id, cost)| ModelSummary {
                model_id: (*model_id).to_owned(),
                pass_rate: PassRate::default(),
                checks: vec![PassRate::default(); experiment.checks.len()],
                agreement: vec![Agreement::default(); experiment.checks.len()],
                cost,
                p50_latency_ms: None,
                p95_latency_ms: None,
                succeeded: 0,
                failed: 0,
                in_flight: 0,
                not_run: 0,
            })
            .collect();
        let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); summaries.len()];
        // A verdict that landed grades a run that did not change: while the
        // judges change, only the model-graded checks are evaluated again.
        let judges_changed = previous.is_some_and(|grid| grid.judges != judges);
        let grading = Grading::new(&experiment.checks, &experiment.inputs, &judges);
        let rows = (slots.into_iter().enumerate())
            .map(|(row, row_slots)| {
                let cells: Vec<GridCell> = (experiment.models_of_row(row))
                    .zip(row_slots.chunks(repeats.max(1)))
                    .map(|(model, runs)| {
                        let reusable = previous.and_then(|grid| grid.cell(row, model));
                        let cell = cell(
                            experiment,
                            &grading,
                            model,
                            runs.to_vec(),
                            reusable.map(|cell| (cell, judges_changed)),
                        );
                        let summary = summary_of[model];
                        count(
                            &mut summaries[summary],
                            &mut latencies[summary],
                            &cell,
                            &experiment.checks,
                        );
                        cell
                    })
                    .collect();
                let mut pass_rate = PassRate::default();
                for cell in &cells {
                    pass_rate += cell.pass_rate;
                }
                GridRow {
                    row,
                    models_differ: differ(&cells),
                    cells,
                    pass_rate,
                }
            })
            .collect();
        for (summary, latencies) in summaries.iter_mut().zip(&mut latencies) {
            summary.p50_latency_ms = percentile(latencies, 50.0);
            summary.p95_latency_ms = percentile(latencies, 95.0);
        }
        Grid {
            rows,
            models: summaries,
            stray_runs,
            judges,
            judge_cost,
            checks: experiment.checks.clone(),
        }
    }

    /// The rows where the models' answers differ (see [`GridRow::models_differ`]).
    pub fn rows_where_models_differ(&self) -> impl Iterator<Item = &GridRow> {
        self.rows_shown(RowFilter {
            models_differ: true,
            cells: CellFilter::All,
        })
    }

    /// The rows `filter` keeps, in order.
    pub fn rows_shown(&self, filter: RowFilter) -> impl Iterator<Item = &GridRow> {
        self.rows.iter().filter(move |row| filter.keeps(row))
    }

    /// The cell of `row` on model `model` (positions from 0), if the grid has it.
    pub fn cell(&self, row: usize, model: usize) -> Option<&GridCell> {
        self.rows
            .get(row)?
            .cells
            .iter()
            .find(|cell| cell.model == model)
    }

    /// The run shown for one repeat of a cell, if any.
    pub fn run_of(&self, row: usize, model: usize, repeat: u32) -> Option<&Arc<PromptRun>> {
        self.cell(row, model)?.runs.get(repeat as usize)?.as_ref()
    }

    /// The cells of `plan` still to run once some have: those whose latest
    /// run here failed or was cancelled, and those never run. Cells with a
    /// run in flight or a successful one are left out. This is "re-run
    /// failed cells" and "resume" in one.
    pub fn unfinished_cells<'a>(&self, plan: &'a Plan) -> Vec<&'a PlannedCell> {
        (plan.cells.iter())
            .filter(|cell| {
                self.run_of(cell.row, cell.model, cell.repeat)
                    .is_none_or(|run| run.status.is_finished() && run.status != RunStatus::Success)
            })
            .collect()
    }

    /// How many shown answers a model-graded check has not graded yet
    /// (no judge run for its request): at most that many judge calls would
    /// grade them ([`grade_experiment`](crate::store::RunsStore::grade_experiment)).
    pub fn ungraded(&self) -> usize {
        let not_graded = Outcome::NotApplicable(super::judge::NOT_GRADED.to_owned());
        (self.rows.iter().flat_map(|row| &row.cells))
            .flat_map(|cell| &cell.checks)
            .map(|outcomes| {
                outcomes
                    .iter()
                    .filter(|outcome| **outcome == not_graded)
                    .count()
            })
            .sum()
    }

    /// How check `check`'s verdicts agree with people's thumbs, all models
    /// together: the figure per rubric.
    pub fn agreement(&self, check: usize) -> Agreement {
        let mut all = Agreement::default();
        for model in &self.models {
            all += model.agreement.get(check).copied().unwrap_or_default();
        }
        all
    }

    /// What all the experiment's runs cost, re-run attempts and judge
    /// calls included.
    pub fn total_cost(&self) -> CostTotal {
        let mut total = CostTotal::default();
        for cost in self
            .models
            .iter()
            .map(|model| &model.cost)
            .chain([&self.judge_cost])
        {
            total.known += cost.known;
            total.unknown_runs += cost.unknown_runs;
        }
        total
    }

    /// All the shown runs that passed all checks, of those judged.
    pub fn pass_rate(&self) -> PassRate {
        let mut total = PassRate::default();
        for model in &self.models {
            total += model.pass_rate;
        }
        total
    }
}

/// Whether `candidate` should be shown instead of `held` for one repeat: a
/// success over anything else, then the later start.
fn shows_over(candidate: &PromptRun, held: &PromptRun) -> bool {
    fn rank(run: &PromptRun) -> (bool, &crate::model::Timestamp) {
        (run.status == RunStatus::Success, &run.started_at)
    }
    rank(candidate) > rank(held)
}

/// A cell from its repeats' runs: checks, distinct answers, status. Outcomes
/// are taken from `previous` (the same cell of an earlier grid, built with the
/// same checks) for runs it showed as the same `Arc`, the model-graded ones
/// graded again when the judge runs changed (its `bool`).
fn cell(
    experiment: &Experiment,
    grading: &Grading,
    model: usize,
    runs: Vec<Option<Arc<PromptRun>>>,
    previous: Option<(&GridCell, bool)>,
) -> GridCell {
    let mut checks = Vec::with_capacity(runs.len());
    let mut pass_rate = PassRate::default();
    let mut answers: Vec<Answer> = Vec::new();
    for (run, repeat) in runs.iter().zip(0..) {
        let Some(run) = run else {
            checks.push(Vec::new());
            continue;
        };
        let earlier = previous.and_then(|(cell, judges_changed)| {
            let shown = cell.runs.get(repeat as usize)?.as_ref()?;
            let mut outcomes =
                Arc::ptr_eq(shown, run).then(|| cell.checks[repeat as usize].clone())?;
            if judges_changed {
                grading.regrade(run, &mut outcomes);
            }
            Some(outcomes)
        });
        let outcomes = earlier.unwrap_or_else(|| grading.evaluate_all(&experiment.checks, run));
        pass_rate.count(passes(&outcomes));
        checks.push(outcomes);
        if run.status == RunStatus::Success {
            let text = answer_text(run);
            match answers
                .iter_mut()
                .find(|answer| answer_text(&answer.run) == text)
            {
                Some(answer) => answer.repeats.push(repeat),
                None => answers.push(Answer {
                    run: run.clone(),
                    repeats: vec![repeat],
                }),
            }
        }
    }
    // Most frequent first, equally frequent ones in the order of their first
    // repeat: an insertion sort, as a cell has at most ten answers.
    for next in 1..answers.len() {
        let mut at = next;
        while at > 0 && answers[at - 1].repeats.len() < answers[at].repeats.len() {
            answers.swap(at - 1, at);
            at -= 1;
        }
    }
    let present = || runs.iter().flatten();
    let status = if present().next().is_none() {
        CellStatus::NotRun
    } else if present().any(|run| run.status.is_in_flight()) {
        CellStatus::InFlight
    } else if !answers.is_empty() {
        CellStatus::Answered
    } else {
        CellStatus::Failed
    };
    GridCell {
        model,
        runs,
        checks,
        answers,
        pass_rate,
        status,
    }
}

/// Adds a cell's runs to its model's footer.
fn count(summary: &mut ModelSummary, latencies: &mut Vec<u64>, cell: &GridCell, checks: &[Check]) {
    summary.pass_rate += cell.pass_rate;
    for (outcomes, run) in cell.checks.iter().zip(&cell.runs) {
        for (rate, outcome) in summary.checks.iter_mut().zip(outcomes) {
            rate.count(outcome.passed());
        }
        // A person's thumbs beside each judge's verdict on the same run.
        let Some(person) = run.as_deref().and_then(PromptRun::rating) else {
            continue;
        };
        for ((agreement, outcome), check) in
            (summary.agreement.iter_mut().zip(outcomes)).zip(checks)
        {
            if let (Check::Judge(_), Some(judge)) = (check, outcome.passed()) {
                agreement.count(person == Rating::Up, judge);
            }
        }
    }
    for run in &cell.runs {
        match run.as_deref() {
            None => summary.not_run += 1,
            Some(run) if run.status == RunStatus::Success => {
                summary.succeeded += 1;
                latencies.extend(run.duration_ms);
            }
            Some(run) if run.status.is_in_flight() => summary.in_flight += 1,
            Some(_) => summary.failed += 1,
        }
    }
}

/// Whether two answered cells of a row have different sets of answers.
fn differ(cells: &[GridCell]) -> bool {
    let mut answered = cells.iter().filter(|cell| !cell.answers.is_empty());
    let Some(first) = answered.next() else {
        return false;
    };
    // A cell's answers are distinct, so two sets are equal when they are as
    // large and one holds each of the other's.
    let same_answers = |cell: &GridCell| {
        cell.answers.len() == first.answers.len()
            && (cell.answers.iter()).all(|answer| {
                let text = answer_text(&answer.run);
                (first.answers.iter()).any(|other| answer_text(&other.run) == text)
            })
    };
    answered.any(|cell| !same_answers(cell))
}

/// A successful run's answer as compared: its output, whitespace at the ends ignored.
fn answer_text(run: &PromptRun) -> &str {
    run.output.as_deref().unwrap_or("").trim()
}

/// Which rows the grid shows: all of them by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowFilter {
    /// Only rows where the models' answers differ (see [`GridRow::models_differ`]).
    pub models_differ: bool,
    /// Only rows with a cell like this.
    pub cells: CellFilter,
}

/// Which cells a person looks for. A cell matches when one of its shown runs
/// (one per repeat) does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CellFilter {
    /// Every cell.
    #[default]
    All,
    /// A run that failed or was cancelled (what `Re-run failed` sends again).
    RunFailed,
    /// A run that failed a check: any check (`None`), or the one at this
    /// position in the experiment's checks.
    CheckFailed(Option<usize>),
    /// A run rated, starred or given a note.
    Judged,
    /// A run rated thumbs up, or thumbs down.
    Rated(Rating),
    /// A starred run.
    Starred,
    /// A run with a note.
    Noted,
}

impl RowFilter {
    /// Whether `row` is shown.
    pub fn keeps(&self, row: &GridRow) -> bool {
        (!self.models_differ || row.models_differ)
            && (self.cells == CellFilter::All
                || row.cells.iter().any(|cell| self.cells.matches(cell)))
    }
}

impl CellFilter {
    /// Whether `cell` is one of those looked for.
    pub fn matches(self, cell: &GridCell) -> bool {
        let mut runs = (cell.runs.iter().zip(&cell.checks))
            .filter_map(|(run, outcomes)| Some((run.as_deref()?, outcomes)));
        runs.any(|(run, outcomes)| match self {
            CellFilter::All => true,
            CellFilter::RunFailed => {
                matches!(run.status, RunStatus::Error | RunStatus::Cancelled)
            }
            CellFilter::CheckFailed(check) => {
                (outcomes.iter().enumerate()).any(|(index, outcome)| {
                    outcome.passed() == Some(false) && check.is_none_or(|check| check == index)
                })
            }
            CellFilter::Judged => {
                run.rating().is_some() || run.is_starred() || run.note().is_some()
            }
            CellFilter::Rated(rating) => run.rating() == Some(rating),
            CellFilter::Starred => run.is_starred(),
            CellFilter::Noted => run.note().is_some(),
        })
    }

    /// The filters a menu offers for an experiment with `checks`, each with
    /// its name: every cell; a failed run; a failed check, any or each one by
    /// its label; then the judgements.
    pub fn choices(checks: &[Check]) -> Vec<(CellFilter, String)> {
        let mut choices = vec![
            (CellFilter::All, "All cells".to_owned()),
            (CellFilter::RunFailed, "A run failed".to_owned()),
        ];
        if !checks.is_empty() {
            choices.push((CellFilter::CheckFailed(None), "A check failed".to_owned()));
        }
        if checks.len() > 1 {
            choices.extend((checks.iter().enumerate()).map(|(index, check)| {
                let name = format!("Failed: {}", check.label());
                (CellFilter::CheckFailed(Some(index)), name)
            }));
        }
        choices.extend([
            (CellFilter::Judged, "Judged".to_owned()),
            (CellFilter::Rated(Rating::Up), "Thumbs up".to_owned()),
            (CellFilter::Rated(Rating::Down), "Thumbs down".to_owned()),
            (CellFilter::Starred, "Starred".to_owned()),
            (CellFilter::Noted, "With a note".to_owned()),
        ]);
        choices
    }
}

/// An input row's values as a person names the row: joined by commas and
/// cut to 40 characters (`France, Europe`); `None` when it has none. Screen
/// readers name a cell's buttons with it, and the diff its sides.
pub fn row_values(experiment: &Experiment, row: usize) -> Option<String> {
    let values: Vec<&str> = (experiment.inputs.rows().get(row).into_iter().flatten())
        .filter_map(|value| value.as_deref().map(str::trim))
        .filter(|value| !value.is_empty())
        .collect();
    (!values.is_empty()).then(|| shortened(&values.join(", ")))
}
