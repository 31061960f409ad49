//! Why a check cannot be defined as written: the one error of defining
//! checks, shared by the checks and the regular expression they compile, so
//! that neither reaches into the other.

use super::judge::RubricError;
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
