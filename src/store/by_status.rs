//! Runs grouped by status, with every status present.

use super::RunList;
use crate::model::RunStatus;

/// The runs of each of the five statuses, most recent first; a status with no
/// runs has an empty list, never a missing one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunsByStatus {
    groups: [RunList; 5],
}

impl RunsByStatus {
    /// The runs with `status`.
    pub fn get(&self, status: RunStatus) -> &RunList {
        &self.groups[status.index()]
    }

    /// Every status with its runs, in lifecycle order.
    pub fn iter(&self) -> impl Iterator<Item = (RunStatus, &RunList)> {
        RunStatus::ALL.into_iter().zip(self.groups.iter())
    }

    /// How many runs have `status`.
    pub fn count(&self, status: RunStatus) -> usize {
        self.get(status).len()
    }

    /// True when no group changed since `other` was cloned from the same source.
    pub fn is_same_as(&self, other: &RunsByStatus) -> bool {
        self.groups
            .iter()
            .zip(&other.groups)
            .all(|(a, b)| a.is_same_as(b))
    }

    pub(crate) fn group_mut(&mut self, status: RunStatus) -> &mut RunList {
        &mut self.groups[status.index()]
    }
}
