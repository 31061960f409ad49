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
//! - A run's place in the trash is two instants, each only ever moved later:
//!   when it was last put in the trash (`trashedAt`) and last restored
//!   (`restoredAt`). It is in the trash while `trashedAt` is the later (a
//!   tie restores: the forgiving reading). Taking the later of each is the
//!   same in any order and any grouping, so every copy of the history ends
//!   with the same marks whichever uploads came first. A mark for an id the
//!   server does not hold as a run (unknown, or deleted) changes nothing.
//! - A deletion (emptying the trash, or its expiry) is a tombstone, kept for
//!   good: a later upload of that id is ignored, so a removed run never comes
//!   back from a browser that still held it. Deleting an unknown id records
//!   the tombstone anyway (the run may still be on its way from another
//!   browser).
//! - Deletions are applied before the runs of the same upload, and the runs
//!   before the trash marks, so a run uploaded and deleted at once ends
//!   deleted, and one uploaded and trashed at once ends in the trash.

use super::wire::{Tombstone, TrashMark};
use prompt_runs::model::{PromptRun, Timestamp};
use std::collections::{HashMap, HashSet};

/// What the server holds for one run id.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// The run, as last merged (boxed: a run is far larger than a
    /// tombstone), and its place in the trash.
    Run(Box<PromptRun>, Trash),
    /// Deleted, for good.
    Deleted(Tombstone),
}

/// Where a run stands with the trash: the latest of each mark, and who put
/// it there last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trash {
    /// When it was last put in the trash.
    pub trashed_at: Option<Timestamp>,
    /// When it was last restored from the trash.
    pub restored_at: Option<Timestamp>,
    /// Who put it there last (as the gateway knew them).
    pub trashed_by: Option<String>,
}

impl Trash {
    /// Whether the run is in the trash: put there later than restored.
    pub fn holds(&self) -> bool {
        match (&self.trashed_at, &self.restored_at) {
            (Some(trashed), Some(restored)) => millis(trashed) > millis(restored),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Takes in `mark`, put by `by`: each instant moves only later. Whether
    /// anything changed.
    pub fn take(&mut self, mark: &TrashMark, by: Option<&str>) -> bool {
        let mut changed = false;
        if later(&mark.trashed_at, &self.trashed_at) {
            self.trashed_at = mark.trashed_at.clone();
            self.trashed_by = by.map(str::to_owned);
            changed = true;
        }
        if later(&mark.restored_at, &self.restored_at) {
            self.restored_at = mark.restored_at.clone();
            changed = true;
        }
        changed
    }
}

/// An instant's place in time (one that is not an instant is the earliest).
fn millis(at: &Timestamp) -> i64 {
    at.unix_millis().unwrap_or(i64::MIN)
}

/// Whether `new` is an instant later than `held` (or than none).
fn later(new: &Option<Timestamp>, held: &Option<Timestamp>) -> bool {
    match (new, held) {
        (Some(new), Some(held)) => millis(new) > millis(held),
        (Some(_), None) => true,
        (None, _) => false,
    }
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

/// What one upload brings, to merge.
#[derive(Debug, Default)]
pub struct Incoming {
    /// Tombstones (the trash emptied, or expired).
    pub deleted: Vec<Tombstone>,
    /// Runs.
    pub runs: Vec<PromptRun>,
    /// Trash marks.
    pub trash: Vec<TrashMark>,
    /// Who sent it: recorded as who put a run in the trash.
    pub by: Option<String>,
}

/// Merges `incoming`'s deletions, then runs, then trash marks into `stored`
/// (the current state of the ids they name; ids absent from it are unknown
/// to the server).
pub fn plan(mut stored: HashMap<String, Stored>, incoming: Incoming) -> Plan {
    let Incoming {
        deleted,
        runs,
        trash,
        by,
    } = incoming;
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
    for mut run in runs {
        let held = match stored.get(&run.id) {
            Some(Stored::Run(held, _)) => Some(held.as_ref()),
            _ => None,
        };
        stamp(&mut run, held, by.as_deref());
        let marks = match stored.get(&run.id) {
            None => Trash::default(),
            Some(Stored::Run(held, marks)) if run.supersedes(held) => marks.clone(),
            Some(_) => {
                plan.unchanged += 1;
                continue;
            }
        };
        changed(&run.id, &mut plan);
        stored.insert(run.id.clone(), Stored::Run(Box::new(run), marks));
    }
    for mark in trash {
        let took = match stored.get_mut(&mark.id) {
            Some(Stored::Run(_, marks)) => marks.take(&mark, by.as_deref()),
            _ => false,
        };
        if took {
            changed(&mark.id, &mut plan);
        } else {
            plan.unchanged += 1;
        }
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

/// The run's metadata key naming who first stored it.
pub const AUTHOR: &str = "author";
/// The run's metadata key naming who gave it its current judgement.
pub const JUDGED_BY: &str = "judgedBy";

/// Writes into `run` who made it and who judged it, as the server knows
/// them, whatever the upload said: the author is whoever first stored it
/// (kept from `held`, else `by`); the judge is `by` when the judgement
/// changed from `held`'s, else `held`'s. No one in particular (`by` is
/// `None`: the shared token) is recorded as no one.
pub fn stamp(run: &mut PromptRun, held: Option<&PromptRun>, by: Option<&str>) {
    let of = |run: Option<&PromptRun>, key: &str| -> Option<serde_json::Value> {
        run?.metadata.as_ref()?.get(key).cloned()
    };
    let by = by.map(|name| serde_json::Value::String(name.to_owned()));
    let author = match held {
        Some(held) => of(Some(held), AUTHOR),
        None => by.clone(),
    };
    let judged = run.judged_at();
    let judged_by = match held {
        Some(held) if held.judged_at() == judged => of(Some(held), JUDGED_BY),
        _ if judged.is_some() => by,
        _ => None,
    };
    for (key, value) in [(AUTHOR, author), (JUDGED_BY, judged_by)] {
        match value {
            Some(value) => {
                run.metadata
                    .get_or_insert_with(Default::default)
                    .insert(key.to_owned(), value);
            }
            None => {
                if let Some(metadata) = &mut run.metadata {
                    metadata.remove(key);
                }
            }
        }
    }
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

    /// `plan` of deletions and runs, with no trash marks.
    fn merged(
        stored: HashMap<String, Stored>,
        deleted: Vec<Tombstone>,
        runs: Vec<PromptRun>,
    ) -> Plan {
        plan(
            stored,
            Incoming {
                deleted,
                runs,
                ..Incoming::default()
            },
        )
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
        let plan = merged(HashMap::new(), vec![], vec![running.clone(), done.clone()]);
        assert_eq!(
            plan.writes,
            [
                (
                    "a".to_owned(),
                    Stored::Run(Box::new(running), Trash::default())
                ),
                (
                    "b".to_owned(),
                    Stored::Run(Box::new(done), Trash::default())
                )
            ]
        );
        assert_eq!((plan.accepted, plan.unchanged), (2, 0));
    }

    #[test]
    fn a_later_state_replaces_an_earlier_one_and_never_the_reverse() {
        let running = run("a", RunStatus::Running, None);
        let done = run("a", RunStatus::Success, Some(2_000));
        let forward = merged(
            held(&[(
                "a",
                Stored::Run(Box::new(running.clone()), Trash::default()),
            )]),
            vec![],
            vec![done.clone()],
        );
        assert_eq!(
            forward.writes,
            [(
                "a".to_owned(),
                Stored::Run(Box::new(done.clone()), Trash::default())
            )]
        );
        let backward = merged(
            held(&[("a", Stored::Run(Box::new(done), Trash::default()))]),
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
        let later = merged(
            held(&[(
                "a",
                Stored::Run(Box::new(cancelled.clone()), Trash::default()),
            )]),
            vec![],
            vec![succeeded.clone()],
        );
        assert_eq!(later.accepted, 1);
        let earlier = merged(
            held(&[("a", Stored::Run(Box::new(succeeded), Trash::default()))]),
            vec![],
            vec![cancelled],
        );
        assert_eq!(earlier.unchanged, 1);
    }

    #[test]
    fn an_identical_copy_changes_nothing() {
        let done = run("a", RunStatus::Success, Some(2_000));
        let again = merged(
            held(&[("a", Stored::Run(Box::new(done.clone()), Trash::default()))]),
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
        let deleted = merged(
            held(&[("a", Stored::Run(Box::new(done.clone()), Trash::default()))]),
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
        let comeback = merged(
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
        let plan = merged(
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
        let plan = merged(
            HashMap::new(),
            vec![],
            vec![running.clone(), done.clone(), running],
        );
        assert_eq!(
            plan.writes,
            [(
                "a".to_owned(),
                Stored::Run(Box::new(done), Trash::default())
            )]
        );
        assert_eq!((plan.accepted, plan.unchanged), (2, 1));
    }

    fn mark(trashed_ms: Option<i64>, restored_ms: Option<i64>) -> TrashMark {
        TrashMark {
            id: "a".to_owned(),
            trashed_at: trashed_ms.map(Timestamp::from_unix_millis),
            restored_at: restored_ms.map(Timestamp::from_unix_millis),
        }
    }

    /// Every order of these marks, each its own upload, ends with the same
    /// marks: the later of each instant, whoever sent which when.
    #[test]
    fn trash_marks_merge_the_same_in_any_order() {
        let marks = [
            mark(Some(10), None),
            mark(None, Some(20)),
            mark(Some(30), None),
            mark(Some(5), Some(15)),
        ];
        let done = run("a", RunStatus::Success, Some(2_000));
        let mut ends = HashSet::new();
        for order in permutations(marks.len()) {
            let mut held = held(&[("a", Stored::Run(Box::new(done.clone()), Trash::default()))]);
            for index in order {
                let step = plan(
                    held.clone(),
                    Incoming {
                        trash: vec![marks[index].clone()],
                        by: Some(format!("person-{index}")),
                        ..Incoming::default()
                    },
                );
                for (id, state) in step.writes {
                    held.insert(id, state);
                }
            }
            let Some(Stored::Run(_, trash)) = held.remove("a") else {
                panic!("the run is kept")
            };
            assert!(trash.holds(), "trashed at 30, restored at 20: in the trash");
            assert_eq!(
                trash.trashed_by.as_deref(),
                Some("person-2"),
                "who trashed it at 30"
            );
            ends.insert(format!("{trash:?}"));
        }
        assert_eq!(ends.len(), 1, "one end whatever the order: {ends:?}");
    }

    #[test]
    fn a_restore_later_than_the_trash_takes_the_run_out_and_ties_restore() {
        let mut trash = Trash::default();
        assert!(!trash.holds());
        assert!(trash.take(&mark(Some(10), None), Some("ana")));
        assert!(trash.holds());
        assert!(trash.take(&mark(None, Some(10)), None));
        assert!(!trash.holds(), "a tie restores");
        assert!(
            !trash.take(&mark(Some(9), Some(9)), None),
            "older marks change nothing"
        );
        assert!(trash.take(&mark(Some(11), None), Some("bo")));
        assert!(trash.holds());
    }

    #[test]
    fn a_mark_for_a_run_the_server_does_not_hold_changes_nothing_and_a_tombstone_wins() {
        let unknown = plan(
            HashMap::new(),
            Incoming {
                trash: vec![mark(Some(10), None)],
                ..Incoming::default()
            },
        );
        assert_eq!((unknown.accepted, unknown.unchanged), (0, 1));
        let done = run("a", RunStatus::Success, Some(2_000));
        let emptied = plan(
            held(&[("a", Stored::Run(Box::new(done.clone()), Trash::default()))]),
            Incoming {
                deleted: vec![tombstone("a")],
                runs: vec![done],
                trash: vec![mark(None, Some(99_000))],
                by: None,
            },
        );
        assert_eq!(
            emptied.writes,
            [("a".to_owned(), Stored::Deleted(tombstone("a")))]
        );
    }

    /// Every order of `0..count`.
    fn permutations(count: usize) -> Vec<Vec<usize>> {
        if count == 0 {
            return vec![Vec::new()];
        }
        let mut all = Vec::new();
        for shorter in permutations(count - 1) {
            for at in 0..=shorter.len() {
                let mut order = shorter.clone();
                order.insert(at, count - 1);
                all.push(order);
            }
        }
        all
    }
}
