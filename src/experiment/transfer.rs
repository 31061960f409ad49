//! An experiment in and out of the app: the definition and its runs as one
//! JSON file, and the grid as CSV for a spreadsheet.
//!
//! The file:
//!
//! ```json
//! {"kind": "prompt-runs experiment", "schema": 1,
//!  "experiment": {"schema": 1, "id": "exp-1", "template": "…", …},
//!  "runs": [{"id": "…", "modelId": "…", "metadata": {"experiment": {…}}, …}]}
//! ```
//!
//! Runs are the store's own `PromptRun` JSON, so the history can take them
//! as they are, with their judgements: ratings, notes, stars and people's
//! blind A/B votes live in the runs' metadata, verdicts in the judge calls. Import checks everything before returning anything: a file
//! with any problem is refused whole, and since it returns values rather than
//! changing the store, a refusal changes nothing.

use super::checks::{Check, Outcome};
use super::definition::{Experiment, Pairing, EXPERIMENT_SCHEMA};
use super::grid::{CellStatus, Grid, GridCell};
use super::judge::judge_tag;
use super::votes::votes_of;
use super::win_rate::Tally;
use crate::model::runs_json::{parse_runs, settle_interrupted};
use crate::model::{percentile, PromptRun, RunStatus, Usd};
use crate::rfc4180::{defuse_formula, push_record};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeSet;
use std::sync::Arc;
use thiserror::Error;

/// The `kind` an experiment file declares.
pub const EXPERIMENT_FILE_KIND: &str = "prompt-runs experiment";

/// Why an experiment file was refused (nothing was imported).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ExperimentImportError {
    /// Not JSON at all.
    #[error("the file could not be imported, nothing was changed: it is not valid JSON ({0})")]
    NotJson(String),
    /// JSON, but not an experiment file.
    #[error("the file could not be imported, nothing was changed: {0}")]
    NotAnExperiment(String),
    /// The experiment's definition is unreadable.
    #[error(
        "the file could not be imported, nothing was changed: its experiment is not valid: {0}"
    )]
    InvalidDefinition(String),
    /// Some runs are unreadable or do not belong to the experiment.
    #[error("the file could not be imported, nothing was changed: {}", .0.join("; "))]
    InvalidRuns(Vec<String>),
}

/// An experiment read from a file, with its runs, ready to be saved and
/// merged into the store.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedExperiment {
    /// The definition.
    pub experiment: Experiment,
    /// Its runs; any saved while in flight are `cancelled`.
    pub runs: Vec<PromptRun>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    kind: &'static str,
    schema: u32,
    experiment: &'a Experiment,
    runs: Vec<&'a PromptRun>,
}

#[derive(Deserialize)]
struct FileIn<'a> {
    kind: Option<String>,
    #[serde(borrow)]
    experiment: Option<&'a RawValue>,
    #[serde(borrow)]
    runs: Option<&'a RawValue>,
}

/// `experiment` and those of `runs` that belong to it (by their
/// `metadata.experiment.id`, and its judge calls by `metadata.judge`, so
/// that verdicts travel with the answers), as one pretty-printed JSON file.
pub fn export_experiment<'a>(
    experiment: &Experiment,
    runs: impl IntoIterator<Item = &'a Arc<PromptRun>>,
) -> String {
    let file = FileOut {
        kind: EXPERIMENT_FILE_KIND,
        schema: EXPERIMENT_SCHEMA,
        experiment,
        runs: (runs.into_iter())
            .filter(|run| {
                run.experiment_cell()
                    .map(|cell| cell.experiment_id)
                    .or_else(|| judge_tag(run).map(|tag| tag.experiment_id))
                    == Some(experiment.id.as_str())
            })
            .map(|run| &**run)
            .collect(),
    };
    serde_json::to_string_pretty(&file).expect("experiments always serialize")
}

/// Reads an experiment file. Refused whole when it is not an experiment file,
/// its definition is unreadable (wrong types, a newer schema, an invalid
/// regex, a ragged input table), or any run is unreadable, repeats another's
/// id, or is not a cell of this experiment. A draft that cannot run yet (no
/// models, say) imports as it is: [`plan`](super::plan()) says what it lacks.
pub fn import_experiment(text: &str) -> Result<ImportedExperiment, ExperimentImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: &RawValue = serde_json::from_str(text)
        .map_err(|error| ExperimentImportError::NotJson(error.to_string()))?;
    let not_experiment = |why: &str| ExperimentImportError::NotAnExperiment(why.to_owned());
    if value.get().trim_start().starts_with('[') {
        return Err(not_experiment(
            "it is a history export (an array of runs), not an experiment: import it into the history instead",
        ));
    }
    let file: FileIn = serde_json::from_str(value.get()).map_err(|_| {
        not_experiment("it is not an experiment file (an object with \"experiment\" and \"runs\")")
    })?;
    if file.kind.as_deref() != Some(EXPERIMENT_FILE_KIND) {
        return Err(not_experiment(&format!(
            "it is not an experiment file (its \"kind\" should be \"{EXPERIMENT_FILE_KIND}\")"
        )));
    }
    let (Some(experiment), Some(runs)) = (file.experiment, file.runs) else {
        return Err(not_experiment(
            "it lacks its \"experiment\" or its \"runs\"",
        ));
    };
    let experiment: Experiment = serde_json::from_str(experiment.get())
        .map_err(|error| ExperimentImportError::InvalidDefinition(error.to_string()))?;
    let problems: Vec<String> = (experiment.checks.iter().enumerate())
        .filter_map(|(index, check)| {
            let error = check.validate().err()?;
            Some(format!("check {}: {error}", index + 1))
        })
        .collect();
    if !problems.is_empty() {
        return Err(ExperimentImportError::InvalidDefinition(
            problems.join("; "),
        ));
    }
    let parsed =
        parse_runs(runs.get()).map_err(|error| ExperimentImportError::InvalidRuns(vec![error]))?;
    let mut problems = parsed.problems;
    // A set of owned ids, of the type the app already holds for other reasons.
    let mut ids = BTreeSet::new();
    for (index, run) in parsed.runs.iter().enumerate() {
        let name = format!("run #{} (id {})", index + 1, run.id);
        if !ids.insert(run.id.clone()) {
            problems.push(format!("{name} repeats the id of an earlier run"));
        }
        if let Some(problem) = misplaced(&experiment, run) {
            problems.push(format!("{name} {problem}"));
        }
    }
    if !problems.is_empty() {
        return Err(ExperimentImportError::InvalidRuns(problems));
    }
    let mut runs = parsed.runs;
    settle_interrupted(&mut runs);
    Ok(ImportedExperiment { experiment, runs })
}

/// Why `run` is not a cell (or a judge call) of `experiment`, if it is not.
fn misplaced(experiment: &Experiment, run: &PromptRun) -> Option<String> {
    let Some(cell) = run.experiment_cell() else {
        return match judge_tag(run) {
            Some(tag) if tag.experiment_id == experiment.id => None,
            Some(tag) => Some(format!(
                "is a judge call of experiment {}, not {}",
                tag.experiment_id, experiment.id
            )),
            None => Some("has no experiment cell in its metadata".to_owned()),
        };
    };
    if cell.experiment_id != experiment.id {
        return Some(format!(
            "belongs to experiment {}, not {}",
            cell.experiment_id, experiment.id
        ));
    }
    let rows = experiment.inputs.rows().len();
    if cell.row >= rows {
        return Some(format!(
            "is for row {}, but the experiment has {rows} rows",
            cell.row + 1
        ));
    }
    let model = experiment
        .models
        .iter()
        .position(|model| model == cell.model_id);
    let paired = model.is_some_and(|model| experiment.models_of_row(cell.row).contains(&model));
    if !paired {
        return Some(format!(
            "is for the model {}, which row {} does not run on",
            cell.model_id,
            cell.row + 1
        ));
    }
    if cell.repeat >= experiment.repeats {
        return Some(format!(
            "is repeat {}, but the experiment has {} repeats",
            cell.repeat + 1,
            experiment.repeats
        ));
    }
    if run.model_id != cell.model_id {
        return Some(format!(
            "ran on {} but is tagged as {}",
            run.model_id, cell.model_id
        ));
    }
    None
}

/// The grid as CSV: one record per input row, with the inputs first, then
/// for each model its answer, pass, verdict, reason, votes, cost and
/// latency (in exact pairs: the model, then those seven). Formula-like
/// cells are defused with `'`, as in the history's CSV export.
///
/// - answer: the most frequent answer; `error: …` for a failed cell; empty
///   when not run or still running.
/// - pass: `pass` or `fail` for one judged run, `passed/judged` for several,
///   empty when none was judged.
/// - verdict and reason: for the answer shown, each model-graded check's
///   verdict (`pass`, `fail`, `unreadable`, `not graded`) and the judge's
///   reason, separated by `; ` when there are several; empty without a
///   model-graded check or an answer.
/// - votes: people's blind A/B votes on the cell's answers, `won 2, lost 1,
///   tied 0`; empty when none.
/// - cost: the shown runs' cost in dollars; `unknown` when a successful run
///   has none.
/// - latency ms: the median of the successful runs' latencies.
pub fn grid_csv(experiment: &Experiment, grid: &Grid) -> String {
    let mut csv = String::new();
    let mut header: Vec<String> = experiment.inputs.columns().to_vec();
    match experiment.pairing {
        Pairing::CrossProduct => {
            for model in &experiment.models {
                for field in FIELDS {
                    header.push(format!("{model} {field}"));
                }
            }
        }
        Pairing::ExactPairs => {
            header.push("model".to_owned());
            header.extend(FIELDS.map(str::to_owned));
        }
    }
    push_record(&mut csv, header.iter().map(|cell| defuse_formula(cell)));
    for (values, row) in experiment.inputs.rows().iter().zip(&grid.rows) {
        let mut record: Vec<String> = (values.iter())
            .map(|value| value.clone().unwrap_or_default())
            .collect();
        for cell in &row.cells {
            if experiment.pairing == Pairing::ExactPairs {
                record.push(
                    experiment
                        .models
                        .get(cell.model)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            record.extend(cell_fields(cell, &experiment.checks));
        }
        push_record(&mut csv, record.iter().map(|cell| defuse_formula(cell)));
    }
    csv
}

/// A cell's fields in the grid's CSV, in order.
const FIELDS: [&str; 7] = [
    "answer",
    "pass",
    "verdict",
    "reason",
    "votes",
    "cost",
    "latency ms",
];

/// A cell's fields, as written in the grid's CSV (see [`FIELDS`]).
fn cell_fields(cell: &GridCell, checks: &[Check]) -> [String; 7] {
    let answer = match cell.status {
        CellStatus::Answered => cell.answers[0].run.output.clone().unwrap_or_default(),
        CellStatus::Failed => {
            let error = cell.errors().next().map_or("failed", |(_, error)| error);
            format!("error: {error}")
        }
        CellStatus::NotRun | CellStatus::InFlight => String::new(),
    };
    let pass = match (cell.pass_rate.judged, cell.pass_rate.passed) {
        (0, _) => String::new(),
        (1, 1) => "pass".to_owned(),
        (1, _) => "fail".to_owned(),
        (judged, passed) => format!("{passed}/{judged}"),
    };
    let shown = || cell.runs.iter().flatten();
    let cost = if shown().next().is_none() {
        String::new()
    } else if shown().any(|run| run.status == RunStatus::Success && run.cost.is_none()) {
        "unknown".to_owned()
    } else {
        let total: Usd = shown().filter_map(|run| run.cost_usd()).sum();
        total.dollars().to_string()
    };
    let mut latencies: Vec<u64> = (shown())
        .filter(|run| run.status == RunStatus::Success)
        .filter_map(|run| run.duration_ms)
        .collect();
    let latency = percentile(&mut latencies, 50.0).map_or(String::new(), |ms| ms.to_string());
    let (verdict, reason) = verdicts(cell, checks);
    let mut tally = Tally::default();
    for run in shown() {
        for vote in votes_of(run) {
            tally.count(vote.vote);
        }
    }
    let votes = match tally.votes() {
        0 => String::new(),
        _ => format!(
            "won {}, lost {}, tied {}",
            tally.wins, tally.losses, tally.ties
        ),
    };
    [answer, pass, verdict, reason, votes, cost, latency]
}

/// The model-graded checks' verdicts on the answer a cell shows, and the
/// judges' reasons, each joined by `; `.
fn verdicts(cell: &GridCell, checks: &[Check]) -> (String, String) {
    let outcomes = (cell.answers.first())
        .and_then(|answer| answer.run.experiment_cell())
        .and_then(|tag| cell.checks.get(tag.repeat as usize));
    let (mut verdicts, mut reasons) = (Vec::new(), Vec::new());
    for (check, outcome) in checks.iter().zip(outcomes.into_iter().flatten()) {
        if !matches!(check, Check::Judge(_)) {
            continue;
        }
        let (verdict, reason) = match outcome {
            Outcome::Pass => ("pass", ""),
            Outcome::PassBecause(reason) => ("pass", reason.as_str()),
            Outcome::Fail(reason) => ("fail", reason.as_str()),
            Outcome::Unreadable(reason) => ("unreadable", reason.as_str()),
            Outcome::NotApplicable(reason) => ("not graded", reason.as_str()),
        };
        verdicts.push(verdict);
        reasons.push(reason);
    }
    (verdicts.join("; "), reasons.join("; "))
}
