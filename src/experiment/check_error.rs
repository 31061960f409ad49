//! Why a check cannot be defined as written: the errors of defining checks,
//! a model-graded one's included, shared by the checks, the judge and the
//! regular expression they compile, so that none reaches into another.

use super::template::TemplateError;
use crate::model::Usd;
use thiserror::Error;

/// Why a check cannot be defined as written.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CheckError {
    /// A regular expression that does not compile.
    #[error("the regular expression /{pattern}/ is not valid: {message}")]
    InvalidRegex {
        /// The expression.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A text check with nothing to look for.
    #[error("the check needs some text to look for")]
    EmptyText,
    /// A JSON key check with no path.
    #[error("the check needs a key path, like user.name or /user/name")]
    EmptyPath,
    /// A negative cost limit.
    #[error("a cost limit cannot be negative ({0})")]
    NegativeCost(Usd),
    /// A model-graded check that could never grade.
    #[error("{0}")]
    Rubric(RubricError),
}

/// Why a judge check cannot be defined as written.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RubricError {
    /// No judge model.
    #[error("the check needs a judge model")]
    NoJudge,
    /// A threshold outside 0–1 (or not a number).
    #[error("the pass threshold must be from 0 to 1, not {0}")]
    Threshold(String),
    /// A rubric without `{{output}}`: the judge would not see the answer.
    #[error("the rubric must show the judge the answer: put {{{{output}}}} in it")]
    NoOutput,
    /// A rubric that does not parse.
    #[error("the rubric: {0}")]
    Template(TemplateError),
    /// A rubric variable the inputs do not have.
    #[error("the rubric: {0}")]
    Variable(String),
}
