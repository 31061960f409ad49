//! An experiment's definition: a template run over the rows of an input
//! table on some models, each cell repeated, with checks on the answers and
//! a budget; and every problem that keeps one from running.

use super::check_error::{CheckError, RubricError};
use super::checks::Check;
use super::inputs::InputTable;
use super::template::{RenderError, Template, TemplateError};
use crate::api::wire::ExecuteParameters;
use crate::model::Usd;
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;
use thiserror::Error;

/// The version of the experiment JSON this build writes and reads.
pub const EXPERIMENT_SCHEMA: u32 = 1;

/// The most repeats of one cell an experiment may ask for.
pub const MAX_REPEATS: u32 = 10;

/// How rows and models are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Pairing {
    /// Every row on every model.
    #[default]
    CrossProduct,
    /// Row i on model i only; needs as many models as rows.
    ExactPairs,
}

/// An experiment: a template run over the rows of an input table on some
/// models, each cell repeated, with checks on the answers.
///
/// Serialized as camelCase JSON with a `schema` version; `parameters` keeps
/// the wire names of an execute request (`max_tokens`, `top_p`), as a run's
/// `metadata.parameters` does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Experiment {
    /// The JSON version, [`EXPERIMENT_SCHEMA`]; a newer one is refused on reading.
    #[serde(deserialize_with = "known_schema")]
    pub schema: u32,
    /// Unique id; its runs carry it in `metadata.experiment.id`.
    pub id: String,
    /// Name shown to people.
    #[serde(default)]
    pub name: String,
    /// The prompt template (see [`Template`]).
    pub template: String,
    /// The input table whose rows fill the template.
    pub inputs: InputTable,
    /// The models to run on, in the grid's column order.
    pub models: Vec<String>,
    /// Sampling parameters sent with every request.
    #[serde(default)]
    pub parameters: ExecuteParameters,
    /// How many times each cell runs, 1 to [`MAX_REPEATS`].
    pub repeats: u32,
    /// How rows and models combine.
    #[serde(default)]
    pub pairing: Pairing,
    /// The most the experiment may spend, in dollars; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Usd>,
    /// Checks applied to every answer.
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// One problem that keeps an experiment from running.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ExperimentError {
    /// No id.
    #[error("the experiment has no id")]
    NoId,
    /// An empty template.
    #[error(
        "the template is empty: write the prompt, with {{{{column}}}} where a column's value goes"
    )]
    EmptyTemplate,
    /// A template that does not parse.
    #[error("{0}")]
    Template(TemplateError),
    /// A variable the inputs lack, or a row without a value for one.
    #[error("{0}")]
    Render(RenderError),
    /// An input table with no rows.
    #[error("the inputs have no rows: add one, or import a CSV or JSONL file")]
    NoRows,
    /// No model chosen.
    #[error("choose at least one model")]
    NoModels,
    /// An empty model id.
    #[error("model {0} has an empty id")]
    EmptyModel(usize),
    /// A model listed twice in a cross product.
    #[error("the model {0} is listed twice")]
    DuplicateModel(String),
    /// Repeats out of range.
    #[error("repeats must be from 1 to {MAX_REPEATS}, not {0}")]
    Repeats(u32),
    /// Exact pairs with a different number of rows and models.
    #[error("exact pairs run row i on model i, so they need as many models as rows: there are {rows} rows and {models} models")]
    PairsMismatch {
        /// How many rows.
        rows: usize,
        /// How many models.
        models: usize,
    },
    /// A check that cannot mean anything as written.
    #[error("check {number}: {error}")]
    Check {
        /// The check's position, from 1.
        number: usize,
        /// What is wrong with it.
        error: CheckError,
    },
    /// A budget of zero or less.
    #[error("the budget must be more than $0 (it is {0}); leave it empty for no budget")]
    Budget(Usd),
}

/// Everything that keeps an experiment from running (never empty).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("the experiment cannot run: {}", summary(.0))]
pub struct InvalidExperiment(pub Vec<ExperimentError>);

/// The first few problems, and how many more there are.
fn summary(problems: &[ExperimentError]) -> String {
    const SHOWN: usize = 5;
    let mut text = (problems.iter().take(SHOWN))
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > SHOWN {
        text += &format!("; and {} more", problems.len() - SHOWN);
    }
    text
}

fn known_schema<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let schema = u32::deserialize(deserializer)?;
    if schema > EXPERIMENT_SCHEMA {
        return Err(serde::de::Error::custom(format!(
            "this experiment was saved by a newer version of the app (schema {schema}; this one reads {EXPERIMENT_SCHEMA}): update the app to open it"
        )));
    }
    Ok(schema)
}

impl Experiment {
    /// A new, empty experiment (one repeat, cross product, no budget) for the
    /// editor to fill in.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Experiment {
        Experiment {
            schema: EXPERIMENT_SCHEMA,
            id: id.into(),
            name: name.into(),
            template: String::new(),
            inputs: InputTable::default(),
            models: Vec::new(),
            parameters: ExecuteParameters::default(),
            repeats: 1,
            pairing: Pairing::CrossProduct,
            budget: None,
            checks: Vec::new(),
        }
    }

    /// Every problem that keeps the experiment from running, or none.
    pub fn validate(&self) -> Result<(), InvalidExperiment> {
        self.prompts().map(|_| ())
    }

    /// The model each row runs on: all of them in a cross product, model i
    /// for row i in exact pairs (as positions in [`Experiment::models`]).
    pub fn models_of_row(&self, row: usize) -> std::ops::Range<usize> {
        match self.pairing {
            Pairing::CrossProduct => 0..self.models.len(),
            Pairing::ExactPairs => row.min(self.models.len())..(row + 1).min(self.models.len()),
        }
    }

    /// The position in [`Experiment::models`] of `model_id` among the models
    /// row `row` runs on, if it runs on it (in exact pairs a model id may
    /// appear more than once, each time for its own row).
    pub fn model_position(&self, row: usize, model_id: &str) -> Option<usize> {
        self.models_of_row(row)
            .find(|&model| self.models[model] == model_id)
    }

    /// Each row's rendered prompt, after checking everything else.
    pub(super) fn prompts(&self) -> Result<Vec<Arc<str>>, InvalidExperiment> {
        let mut problems = Vec::new();
        if self.id.trim().is_empty() {
            problems.push(ExperimentError::NoId);
        }
        let template = if self.template.trim().is_empty() {
            problems.push(ExperimentError::EmptyTemplate);
            None
        } else {
            Template::parse(&self.template)
                .map_err(|error| problems.push(ExperimentError::Template(error)))
                .ok()
        };
        let rows = self.inputs.rows().len();
        if rows == 0 {
            problems.push(ExperimentError::NoRows);
        }
        if self.models.is_empty() {
            problems.push(ExperimentError::NoModels);
        }
        for (index, model) in self.models.iter().enumerate() {
            if model.trim().is_empty() {
                problems.push(ExperimentError::EmptyModel(index + 1));
            } else if self.pairing == Pairing::CrossProduct && self.models[..index].contains(model)
            {
                problems.push(ExperimentError::DuplicateModel(model.clone()));
            }
        }
        if !(1..=MAX_REPEATS).contains(&self.repeats) {
            problems.push(ExperimentError::Repeats(self.repeats));
        }
        if self.pairing == Pairing::ExactPairs && rows != self.models.len() {
            problems.push(ExperimentError::PairsMismatch {
                rows,
                models: self.models.len(),
            });
        }
        for (index, check) in self.checks.iter().enumerate() {
            // A rubric is checked against the inputs as the template is.
            let prepared = |check: &Check| match check {
                Check::Judge(judge) => (judge.prepare(&self.inputs).map(|_| ()))
                    .map_err(|error| CheckError::Rubric(RubricError::Variable(error.to_string()))),
                _ => Ok(()),
            };
            if let Err(error) = check.validate().and_then(|()| prepared(check)) {
                problems.push(ExperimentError::Check {
                    number: index + 1,
                    error,
                });
            }
        }
        if let Some(budget) = self.budget.filter(|budget| *budget <= Usd::ZERO) {
            problems.push(ExperimentError::Budget(budget));
        }
        let mut prompts = Vec::with_capacity(rows);
        if let Some(template) = &template {
            match template.bind(self.inputs.columns()) {
                Err(error) => problems.push(ExperimentError::Render(error)),
                Ok(bound) => {
                    for (row, values) in self.inputs.rows().iter().enumerate() {
                        match bound.render(values, row) {
                            Ok(prompt) => prompts.push(Arc::from(prompt)),
                            Err(error) => problems.push(ExperimentError::Render(error)),
                        }
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(prompts)
        } else {
            Err(InvalidExperiment(problems))
        }
    }
}
