//! The sync merge rule, in one place: what an upload changes in a
//! workspace's stored runs. Pure (no database), so that every case is
//! tested in microseconds; [`super::History::upload`] reads the stored
//! states, asks [`plan`], and writes what it says in the same transaction.
//!
//! - A run replaces the stored copy only if it [`PromptRun::supersedes`] it
//!   (the crate's rule, shared with the browser's tabs: the later state along
//!   `pending → running → success | error | cancelled` wins, ties by
//!   `completedAt`). Runs still in flight are stored as uploaded: another
//!   browser may be running them.
//! - A deletion is a tombstone, kept for good: a later upload of that id is
//!   ignored, so a removed run never comes back from a browser that still
//!   held it. Deleting an unknown id records the tombstone anyway (the run
//!   may still be on its way from another browser).
//! - Deletions are applied before the runs of the same upload, so a run
//!   uploaded and deleted at once ends deleted, whatever the order.

use super::wire::Tombstone;
use prompt_runs::model::PromptRun;
use std::collections::{HashMap, HashSet};

/// What the server holds for one run id.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// The run, as last merged (boxed: a run is far larger than a tombstone).
    Run(Box<PromptRun>),
    /// Deleted, for good.
    Deleted(Tombstone),
}

/// What one upload changes: the new state of each id it changed, in the
/// order they first changed, and how many of its items changed something.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Each changed id with its new state, once, in order of first change.
    pub writes: Vec<(String, Stored)>,
    /// Items (runs and deletions) that changed what is stored.
    pub accepted: usize,
    /// Items that changed nothing: an older or identical copy, a run
    /// already deleted, a deletion already recorded.
    pub unchanged: usize,
}

/// Merges `deleted` and then `runs` into `stored` (the current state of the
/// ids they name; ids absent from it are unknown to the server).
pub fn plan(
    mut stored: HashMap<String, Stored>,
    deleted: Vec<Tombstone>,
    runs: Vec<PromptRun>,
) -> Plan {
    let mut plan = Plan::default();
    // Ids in the order they first changed, each once.
    let mut order: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut changed = |id: &str, plan: &mut Plan| {
        plan.accepted += 1;
        if seen.insert(id.to_owned()) {
            order.push(id.to_owned());
        }
    };
    for tombstone in deleted {
        if let Some(Stored::Deleted(_)) = stored.get(&tombstone.id) {
            plan.unchanged += 1;
            continue;
        }
        changed(&tombstone.id, &mut plan);
        stored.insert(tombstone.id.clone(), Stored::Deleted(tombstone));
    }
    for run in runs {
        let replaces = match stored.get(&run.id) {
            None => true,
            Some(Stored::Deleted(_)) => false,
            Some(Stored::Run(held)) => run.supersedes(held),
        };
        if !replaces {
            plan.unchanged += 1;
            continue;
        }
        changed(&run.id, &mut plan);
        stored.insert(run.id.clone(), Stored::Run(Box::new(run)));
    }
    plan.writes = order
        .into_iter()
        .map(|id| {
            let state = stored.remove(&id).expect("a changed id has a state");
            (id, state)
        })
        .collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_runs::model::{RunStatus, Timestamp};

    fn run(id: &str, status: RunStatus, completed_ms: Option<i64>) -> PromptRun {
        let mut run = PromptRun::pending(id, "offline-echo", "hello");
        run.started_at = Timestamp::from_unix_millis(1_000);
        run.status = status;
        run.completed_at = completed_ms.map(Timestamp::from_unix_millis);
        run
    }

    fn tombstone(id: &str) -> Tombstone {
        Tombstone {
            id: id.to_owned(),
            deleted_at: Timestamp::from_unix_millis(9_000),
        }
    }

    fn held(states: &[(&str, Stored)]) -> HashMap<String, Stored> {
        states
            .iter()
            .map(|(id, state)| (id.to_string(), state.clone()))
            .collect()
    }

    #[test]
    fn unknown_runs_are_stored_as_uploaded_in_flight_or_not() {
        let running = run("a", RunStatus::Running, None);
        let done = run("b", RunStatus::Success, Some(2_000));
        let plan = plan(HashMap::new(), vec![], vec![running.clone(), done.clone()]);
        assert_eq!(
            plan.writes,
            [
                ("a".to_owned(), Stored::Run(Box::new(running))),
                ("b".to_owned(), Stored::Run(Box::new(done)))
            ]
        );
        assert_eq!((plan.accepted, plan.unchanged), (2, 0));
    }

    #[test]
    fn a_later_state_replaces_an_earlier_one_and_never_the_reverse() {
        let running = run("a", RunStatus::Running, None);
        let done = run("a", RunStatus::Success, Some(2_000));
        let forward = plan(
            held(&[("a", Stored::Run(Box::new(running.clone())))]),
            vec![],
            vec![done.clone()],
        );
        assert_eq!(
            forward.writes,
            [("a".to_owned(), Stored::Run(Box::new(done.clone())))]
        );
        let backward = plan(
            held(&[("a", Stored::Run(Box::new(done)))]),
            vec![],
            vec![running],
        );
        assert_eq!(
            backward,
            Plan {
                unchanged: 1,
                ..Plan::default()
            }
        );
    }

    #[test]
    fn among_finished_copies_the_one_completed_later_wins() {
        let cancelled = run("a", RunStatus::Cancelled, Some(2_000));
        let succeeded = run("a", RunStatus::Success, Some(3_000));
        let later = plan(
            held(&[("a", Stored::Run(Box::new(cancelled.clone())))]),
            vec![],
            vec![succeeded.clone()],
        );
        assert_eq!(later.accepted, 1);
        let earlier = plan(
            held(&[("a", Stored::Run(Box::new(succeeded)))]),
            vec![],
            vec![cancelled],
        );
        assert_eq!(earlier.unchanged, 1);
    }

    #[test]
    fn an_identical_copy_changes_nothing() {
        let done = run("a", RunStatus::Success, Some(2_000));
        let again = plan(
            held(&[("a", Stored::Run(Box::new(done.clone())))]),
            vec![],
            vec![done],
        );
        assert_eq!(
            again,
            Plan {
                unchanged: 1,
                ..Plan::default()
            }
        );
    }

    #[test]
    fn a_deleted_run_stays_deleted_and_unknown_ids_get_a_tombstone() {
        let done = run("a", RunStatus::Success, Some(2_000));
        let deleted = plan(
            held(&[("a", Stored::Run(Box::new(done.clone())))]),
            vec![tombstone("a"), tombstone("never-seen")],
            vec![],
        );
        assert_eq!(
            deleted.writes,
            [
                ("a".to_owned(), Stored::Deleted(tombstone("a"))),
                (
                    "never-seen".to_owned(),
                    Stored::Deleted(tombstone("never-seen"))
                )
            ]
        );
        let mut newer = done;
        newer.completed_at = Some(Timestamp::from_unix_millis(5_000));
        let comeback = plan(
            held(&[("a", Stored::Deleted(tombstone("a")))]),
            vec![tombstone("a")],
            vec![newer],
        );
        assert_eq!(
            comeback,
            Plan {
                unchanged: 2,
                ..Plan::default()
            },
            "neither the run nor a second deletion changes a tombstone"
        );
    }

    #[test]
    fn a_run_uploaded_and_deleted_at_once_ends_deleted() {
        let plan = plan(
            HashMap::new(),
            vec![tombstone("a")],
            vec![run("a", RunStatus::Success, Some(2_000))],
        );
        assert_eq!(
            plan.writes,
            [("a".to_owned(), Stored::Deleted(tombstone("a")))]
        );
        assert_eq!((plan.accepted, plan.unchanged), (1, 1));
    }

    #[test]
    fn copies_of_one_id_in_one_upload_merge_in_turn_and_write_once() {
        let running = run("a", RunStatus::Running, None);
        let done = run("a", RunStatus::Error, Some(2_000));
        let plan = plan(
            HashMap::new(),
            vec![],
            vec![running.clone(), done.clone(), running],
        );
        assert_eq!(plan.writes, [("a".to_owned(), Stored::Run(Box::new(done)))]);
        assert_eq!((plan.accepted, plan.unchanged), (2, 1));
    }
}
