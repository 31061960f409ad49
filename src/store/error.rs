//! Why the store refused an action.

use crate::model::InvalidTransition;
use thiserror::Error;

/// An action the store refused; when one is returned, nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StoreError {
    /// A run with this id is already in the store.
    #[error("a run with id {0} already exists; nothing was overwritten")]
    DuplicateId(String),
    /// No run has this id.
    #[error("no run has id {0}")]
    UnknownId(String),
    /// The update would move a run's status backwards.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The store's reactive owner was disposed (e.g. its component unmounted).
    #[error("the runs store was disposed with the component that owned it")]
    Disposed,
}
