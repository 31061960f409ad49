//! An experiment's plan: the cells to run, how many requests that is, and
//! what it should cost.
//!
//! The plan is what the app shows before anything is sent. Its cells are
//! ordered repeat by repeat, row by row, model by model, so that a run
//! stopped early (by Cancel or the budget) has answered every model on the
//! first rows rather than every repeat of one model.

use super::cell::PlannedCell;
use super::definition::{Experiment, InvalidExperiment};
use super::estimate::CostEstimate;
use crate::model::Model;
use crate::text::estimate_tokens;
use std::sync::Arc;

/// What an experiment will send: every cell, and what it should cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The requests, repeat by repeat, row by row, model by model.
    pub cells: Vec<PlannedCell>,
    /// Their estimated cost.
    pub estimate: CostEstimate,
}

/// Plans `experiment`: checks it, renders every row's prompt, lists the
/// cells (rows × models × repeats, or pairs × repeats) and estimates their
/// cost with the prices in `prices` (the store's models, with any price
/// overrides applied), assuming answers `max_tokens` long, or else
/// [`ASSUMED_OUTPUT_TOKENS`](super::ASSUMED_OUTPUT_TOKENS). Refused with every problem found.
pub fn plan(experiment: &Experiment, prices: &[Model]) -> Result<Plan, InvalidExperiment> {
    plan_with_answers(experiment, prices, &|_| Vec::new())
}

/// [`plan`], with the answers each model gave before to assume its answer
/// length from when `max_tokens` is not set: `recent(model_id)` is the
/// output tokens of its latest successful answers, newest first (see
/// [`AnswerLength::of`](super::AnswerLength::of); the store's
/// [`recent_output_tokens`](crate::store::RunsStore::recent_output_tokens)).
pub fn plan_with_answers(
    experiment: &Experiment,
    prices: &[Model],
    recent: &dyn Fn(&str) -> Vec<u64>,
) -> Result<Plan, InvalidExperiment> {
    let prompts = experiment.prompts()?;
    let prompt_tokens: Vec<u64> = prompts
        .iter()
        .map(|prompt| estimate_tokens(prompt))
        .collect();
    let model_ids: Vec<Arc<str>> = experiment
        .models
        .iter()
        .map(|id| Arc::from(id.as_str()))
        .collect();
    let per_repeat: usize = (0..prompts.len())
        .map(|row| experiment.models_of_row(row).len())
        .sum();
    let mut cells = Vec::with_capacity(per_repeat * experiment.repeats as usize);
    for repeat in 0..experiment.repeats {
        for (row, prompt) in prompts.iter().enumerate() {
            for model in experiment.models_of_row(row) {
                cells.push(PlannedCell {
                    row,
                    model,
                    model_id: model_ids[model].clone(),
                    repeat,
                    prompt: prompt.clone(),
                    prompt_tokens: prompt_tokens[row],
                });
            }
        }
    }
    let estimate = CostEstimate::of(&cells, experiment, prices, recent);
    Ok(Plan { cells, estimate })
}

impl Plan {
    /// How many requests the plan sends.
    pub fn requests(&self) -> usize {
        self.cells.len()
    }
}
