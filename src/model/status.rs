//! The lifecycle of a run: `pending → running → success | error | cancelled`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a run is in its lifecycle; serialized as the lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Created, request not sent yet.
    Pending,
    /// Request in flight.
    Running,
    /// Finished with output.
    Success,
    /// Finished with an error.
    Error,
    /// Stopped by the user (or by a tab closing) before it finished.
    Cancelled,
}

impl RunStatus {
    /// All five statuses, in lifecycle order.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Error,
        RunStatus::Cancelled,
    ];

    /// The lowercase name used in JSON and in the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Error => "error",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// This status's position in [`RunStatus::ALL`], for per-status arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// True for `success`, `error` and `cancelled`: nothing moves a finished run.
    pub fn is_finished(self) -> bool {
        self.stage() == 2
    }

    /// True for `pending` and `running`: the runs a cancel stops.
    pub fn is_in_flight(self) -> bool {
        !self.is_finished()
    }

    /// Whether a run in this status may move to `next`: staying put, or moving
    /// forward along `pending → running → finished`. A finished run never
    /// changes status, and never from one finished status to another.
    pub fn can_move_to(self, next: RunStatus) -> bool {
        self == next || next.stage() > self.stage()
    }

    fn stage(self) -> u8 {
        match self {
            RunStatus::Pending => 0,
            RunStatus::Running => 1,
            RunStatus::Success | RunStatus::Error | RunStatus::Cancelled => 2,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunStatus::*;

    #[test]
    fn serializes_as_lowercase_names() {
        for status in RunStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<RunStatus>(&json).unwrap(), status);
        }
        assert!(serde_json::from_str::<RunStatus>("\"Success\"").is_err());
    }

    #[test]
    fn moves_only_forward() {
        assert!(Pending.can_move_to(Running));
        assert!(Pending.can_move_to(Cancelled));
        assert!(Running.can_move_to(Success));
        assert!(Running.can_move_to(Error));
        assert!(Running.can_move_to(Running));
        assert!(!Running.can_move_to(Pending));
        for finished in [Success, Error, Cancelled] {
            assert!(finished.can_move_to(finished));
            for other in RunStatus::ALL.into_iter().filter(|s| *s != finished) {
                assert!(!finished.can_move_to(other), "{finished} -> {other}");
            }
        }
    }
}
