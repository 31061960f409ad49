//! One request of an experiment's plan: a row on a model, one repeat of it;
//! the tag its run carries, the request it sends and the run it starts as.

use crate::api::wire::{ExecuteParameters, ExecuteRequest};
use crate::model::{ExperimentCell, PromptRun, EXPERIMENT_KEY};
use std::sync::Arc;

/// One request of a plan: a row on a model, one repeat of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedCell {
    /// The input row, from 0.
    pub row: usize,
    /// The model's position in [`Experiment::models`](super::Experiment::models).
    pub model: usize,
    /// The model's id.
    pub model_id: Arc<str>,
    /// Which repeat, from 0.
    pub repeat: u32,
    /// The prompt, rendered from the row (shared by the row's cells).
    pub prompt: Arc<str>,
    /// The prompt's estimated token count (see [`estimate_tokens`](crate::text::estimate_tokens)).
    pub prompt_tokens: u64,
}

impl PlannedCell {
    /// The tag its run carries in `metadata.experiment` (see
    /// [`EXPERIMENT_KEY`]).
    pub fn tag<'a>(&'a self, experiment_id: &'a str) -> ExperimentCell<'a> {
        ExperimentCell {
            experiment_id,
            row: self.row,
            model_id: &self.model_id,
            repeat: self.repeat,
        }
    }

    /// The request that asks for this cell's answer, with `parameters`
    /// (none sent when they are all the server's defaults).
    pub fn request(&self, parameters: &ExecuteParameters) -> ExecuteRequest {
        ExecuteRequest {
            prompt: self.prompt.to_string(),
            model_id: self.model_id.to_string(),
            context_blocks: Vec::new(),
            parameters: (*parameters != ExecuteParameters::default()).then(|| parameters.clone()),
            workspace_id: None,
        }
    }

    /// A new `pending` run of this cell (a fresh local id, its prompt and
    /// model, and its tag in `metadata.experiment`), for the executor to add
    /// and send.
    pub fn pending_run(&self, experiment_id: &str) -> PromptRun {
        let mut run = PromptRun::pending(PromptRun::new_local_id(), &*self.model_id, &*self.prompt);
        let mut metadata = serde_json::Map::new();
        metadata.insert(EXPERIMENT_KEY.to_owned(), self.tag(experiment_id).to_json());
        run.metadata = Some(metadata);
        run
    }
}
