//! Experiments: a prompt template run over a table of inputs on several
//! models, with checks on the answers, a grid to compare them and a diff of
//! any two.
//!
//! Everything here is plain Rust without the DOM, so it is tested natively;
//! the components and the store's executor build on it:
//!
//! - [`template`]: `{{name}}` templates, parsed once and rendered per row.
//! - [`inputs`]: the input table, read from CSV or JSONL, edited, written as CSV.
//! - [`plan`](mod@plan): the experiment's definition and its plan: cells, request
//!   count.
//! - [`estimate`]: what the cells should cost and what that assumes, how
//!   they meet a server's rate limit, and the budget that reserves before
//!   sending.
//! - [`checks`]: checks on answers and pass rates.
//! - [`grid`]: rows × models from the store's runs, repeats collapsed.
//! - [`diff`]: a word-level diff of two answers.
//! - [`transfer`]: an experiment and its runs as one JSON file, and the grid as CSV.
//! - [`example`](mod@example): the example a first visit opens on.

pub mod checks;
pub mod diff;
pub mod estimate;
pub mod example;
pub mod grid;
pub mod inputs;
mod pattern;
pub mod plan;
pub mod template;
pub mod transfer;

pub use checks::{evaluate_all, passes, Check, CheckError, Outcome, PassRate, Pattern};
pub use diff::{Change, Span, WordDiff};
pub use estimate::{
    answering_time, AnswerLength, Budget, Confirmation, CostEstimate, ModelEstimate, Pace,
    ASSUMED_OUTPUT_TOKENS, RECENT_ANSWERS,
};
pub use example::{example, EXAMPLE_ID};
pub use grid::{Answer, CellStatus, CostTotal, Grid, GridCell, GridRow, ModelSummary};
pub use inputs::{InputError, InputFormat, InputTable, TableEditError};
pub use plan::{
    plan, plan_with_answers, Experiment, ExperimentError, InvalidExperiment, Pairing, Plan,
    PlannedCell, EXPERIMENT_SCHEMA, MAX_REPEATS,
};
pub use template::{Part, RenderError, Template, TemplateError};
pub use transfer::{
    export_experiment, grid_csv, import_experiment, ExperimentImportError, ImportedExperiment,
    EXPERIMENT_FILE_KIND,
};
