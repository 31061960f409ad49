//! Experiments: a prompt template run over a table of inputs on several
//! models, with checks on the answers, a grid to compare them and a diff of
//! any two.
//!
//! Everything here is plain Rust without the DOM, so it is tested natively;
//! the components and the store's executor build on it:
//!
//! - [`template`]: `{{name}}` templates, parsed once and rendered per row.
//! - [`inputs`]: the input table, read from CSV or JSONL, edited, written as CSV.
//! - [`definition`]: the experiment's definition, and what keeps one from
//!   running.
//! - [`cell`]: one request of a plan: a row on a model, one repeat.
//! - [`plan`](mod@plan): the experiment's plan: its cells, request count and
//!   estimate.
//! - [`estimate`]: what the cells should cost and what that assumes, how
//!   they meet a server's rate limit, and the budget that reserves before
//!   sending.
//! - [`checks`]: checks on answers and pass rates.
//! - [`agreement`]: how often a judge agrees with people (Cohen's kappa).
//! - [`judge`]: model-graded checks: rubrics, judge requests, verdicts.
//! - [`grid`]: rows × models from the store's runs, repeats collapsed.
//! - [`win_rate`]: win rates of a blind A/B comparison, with Wilson intervals.
//! - [`ranking`]: a Bradley–Terry ranking of more than two contestants.
//! - [`votes`]: people's A/B votes, stored in the runs, and their standings.
//! - [`blind`]: the shuffled, unnamed pairs of a blind A/B comparison.
//! - [`judge_vote`]: a judge model's vote on such a pair, apart from people's.
//! - [`diff`]: a word-level diff of two answers.
//! - [`transfer`]: an experiment and its runs as one JSON file, and the grid as CSV.
//! - [`example`](mod@example): the example a first visit opens on.
//!
//! They import one another one way only, from the bottom up: what a check's
//! error, outcome and label are (private leaves), [`template`], [`inputs`];
//! then [`judge`], then [`checks`] (which hold model-graded ones); the
//! [`definition`], a [`cell`], the [`estimate`], the [`plan`](mod@plan), the
//! [`grid`]; the [`votes`] (on [`win_rate`] and [`ranking`]) and the
//! [`blind`] pairs, and a [`judge_vote`] on them; and [`transfer`] on top.

pub mod agreement;
pub mod blind;
pub mod cell;
mod check_error;
pub mod checks;
pub mod definition;
pub mod diff;
pub mod estimate;
pub mod example;
pub mod grid;
mod hash;
pub mod inputs;
pub mod judge;
pub mod judge_vote;
mod label;
mod outcome;
mod pattern;
pub mod plan;
pub mod ranking;
pub mod template;
pub mod transfer;
pub mod votes;
pub mod win_rate;

pub use agreement::Agreement;
pub use blind::{answer_pairs, blind_pairs, BlindPair, Choice};
pub use cell::PlannedCell;
pub use checks::{evaluate_all, passes, Check, CheckError, Grading, Outcome, PassRate, Pattern};
pub use definition::{
    Experiment, ExperimentError, InvalidExperiment, Pairing, EXPERIMENT_SCHEMA, MAX_REPEATS,
};
pub use diff::{Change, Span, WordDiff};
pub use estimate::{
    answering_time, AnswerLength, Budget, Confirmation, CostEstimate, ModelEstimate, Pace,
    ASSUMED_OUTPUT_TOKENS, RECENT_ANSWERS,
};
pub use example::{example, EXAMPLE_ID};
pub use grid::{
    row_values, Answer, CellFilter, CellStatus, CostTotal, Grid, GridCell, GridRow, ModelSummary,
    RowFilter,
};
pub use hash::content_hash;
pub use inputs::{InputError, InputFormat, InputTable, TableEditError};
pub use judge::{
    judge_tag, parse_verdict, JudgeCheck, JudgeRequest, JudgeTag, Judges, RubricError, Verdict,
    BUILT_IN_RUBRICS, JUDGE_KEY,
};
pub use judge_vote::{judge_votes, pairwise_request, parse_pairwise, JudgeVote};
pub use plan::{plan, plan_with_answers, Plan};
pub use ranking::{BradleyTerry, RankingError};
pub use template::{Part, RenderError, Template, TemplateError};
pub use transfer::{
    export_experiment, grid_csv, import_experiment, ExperimentImportError, ImportedExperiment,
    EXPERIMENT_FILE_KIND,
};
pub use votes::{cast_votes, votes_of, CastVote, Standings, StoredVote, PRIOR_TIES, VOTES_KEY};
pub use win_rate::{wilson, Tally, Vote, Z_95};
