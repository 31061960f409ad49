//! `prompt-runs`: experiments run headless, from a terminal or a CI pipeline.
//!
//! `prompt-runs eval EXPERIMENT.json` reads an experiment file (the app's
//! export, `docs/experiment-file.md`), plans it, prints the plan and holds
//! it to its budget before anything is sent, runs it against a gateway (or
//! straight against the providers of a gateway's providers file) with
//! the store's own runner (pacing on 429/503, budget reservations: the same
//! code as the app's Experiments page), and writes the results as the
//! experiment file the app imports, the grid as CSV and a JUnit report. Its
//! exit status gates a pipeline: 0 when the checks pass, 1 when they fail, 2
//! when the evaluation could not be made.
//!
//! What it is not: a second runner. The cells are sent by
//! [`RunsStore::run_experiment`](prompt_runs::store::RunsStore::run_experiment)
//! through a [`PromptExecutor`](prompt_runs::api::PromptExecutor) of this
//! crate's ([`gateway::Gateway`]); straight to providers, that client talks
//! to the gateway's own code started in this process
//! ([`providers::InProcessGateway`]), not to a second set of adapters.
//!
//! - [`args`]: the command line.
//! - [`gateway`]: the gateway, as the store's executor and as the source of
//!   prices and limits.
//! - [`providers`]: `--providers`, the gateway in this process.
//! - [`cache`]: answers kept on disk, so that a re-run pays only for what changed.
//! - [`plan_text`]: the plan and the confirmation, as printed.
//! - [`progress`]: a progress bar on a terminal, plain lines elsewhere.
//! - [`verdict`]: each run and each row × model judged, and the exit status.
//! - [`junit`]: the JUnit XML report.
//! - [`eval`](mod@eval): the `eval` command, from the file to the exit status.

#![deny(missing_docs)]

pub mod args;
pub mod cache;
pub mod eval;
pub mod gateway;
pub mod junit;
pub mod plan_text;
pub mod progress;
pub mod providers;
pub mod verdict;

pub use eval::eval;
pub use verdict::ExitStatus;
