//! The run data model: what a prompt run is, how its status may move, and the
//! models it runs on.
//!
//! Every type here serializes to the same camelCase JSON as the TypeScript
//! version of this store (`PromptRun`, `Model`), so its exported history and its
//! backend's answers load unchanged. [`runs_json`] reads a history of runs
//! from such JSON (an export, the legacy array, damaged storage), one run at a
//! time.

mod judgement;
mod metrics;
mod model_info;
mod money;
mod percentile;
mod run;
pub mod runs_json;
mod status;
mod timestamp;
mod update;

pub use judgement::{Rating, JUDGED_AT_KEY, NOTE_KEY, RATING_KEY, STARRED_KEY};
pub use metrics::{CostSource, Figure, FigureSource, RunMetrics, COST_SOURCE_KEY, METRICS_KEY};
pub use model_info::{Model, Provider};
pub use money::Usd;
pub use percentile::{nearest_rank, percentile};
pub use run::{
    ExperimentCell, PromptRun, BATCH_ID_KEY, EXPERIMENT_KEY, PARAMETERS_KEY, SERVER_RUN_ID_KEY,
};
pub use status::RunStatus;
pub use timestamp::Timestamp;
pub use update::{InvalidTransition, PromptRunUpdate};
