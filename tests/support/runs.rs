//! The runs tests and benchmarks are made of: one builder over [`PromptRun`]
//! with the fields they vary, so each file says only what matters to it
//! (`benches/` include this file too).
#![allow(dead_code)] // each test or benchmark uses its part

use prompt_runs::model::{PromptRun, RunStatus, Timestamp};

/// A run `id` being built: pending, of model `gpt-4o`, prompt `prompt of <id>`,
/// started now, until the calls below say otherwise.
pub fn a_run(id: impl Into<String>) -> RunBuilder {
    let id = id.into();
    let prompt = format!("prompt of {id}");
    RunBuilder(PromptRun::pending(id, "gpt-4o", prompt))
}

/// See [`a_run`].
#[must_use]
pub struct RunBuilder(PromptRun);

impl RunBuilder {
    /// Of model `model`.
    pub fn model(mut self, model: &str) -> Self {
        self.0.model_id = model.to_owned();
        self
    }

    /// With the prompt `prompt`.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.0.prompt_snapshot = prompt.into();
        self
    }

    /// In status `status`.
    pub fn status(mut self, status: RunStatus) -> Self {
        self.0.status = status;
        self
    }

    /// Started `minute` minutes past 2024-05-01T12:00:00.000Z.
    pub fn started_minute(mut self, minute: u32) -> Self {
        self.0.started_at = Timestamp::parse(format!("2024-05-01T12:{minute:02}:00.000Z"));
        self
    }

    /// Started `millis` after the Unix epoch.
    pub fn started_ms(mut self, millis: i64) -> Self {
        self.0.started_at = Timestamp::from_unix_millis(millis);
        self
    }

    /// Succeeded with `output`.
    pub fn answered(mut self, output: impl Into<String>) -> Self {
        self.0.status = RunStatus::Success;
        self.0.output = Some(output.into());
        self
    }

    /// `tokens` in all.
    pub fn tokens(mut self, tokens: impl Into<Option<u64>>) -> Self {
        self.0.total_tokens = tokens.into();
        self
    }

    /// Costing `cost` dollars (`None`: no price known).
    pub fn cost(mut self, cost: impl Into<Option<f64>>) -> Self {
        self.0.cost = cost.into();
        self
    }

    /// Taking `duration` ms.
    pub fn duration(mut self, duration: impl Into<Option<u64>>) -> Self {
        self.0.duration_ms = duration.into();
        self
    }

    /// With `metadata`.
    pub fn metadata(mut self, metadata: serde_json::Map<String, serde_json::Value>) -> Self {
        self.0.metadata = Some(metadata);
        self
    }

    /// The run.
    pub fn build(self) -> PromptRun {
        self.0
    }
}
