//! What a person thinks of a run: thumbs up or down, a note, a star.
//!
//! Judgements live in the run's `metadata` under the keys below, so a run's
//! JSON keeps its shape both ways: older builds and the TypeScript store carry
//! them along as any other metadata, and runs without them read as unjudged.
//! A cleared judgement removes its key rather than writing `null` or `false`.
//!
//! | Key | Value |
//! | --- | --- |
//! | [`RATING_KEY`] `"rating"` | `"up"` or `"down"` |
//! | [`NOTE_KEY`] `"note"` | a non-empty string |
//! | [`STARRED_KEY`] `"starred"` | `true` |
//! | [`JUDGED_AT_KEY`] `"judgedAt"` | when a judgement last changed (ISO 8601), kept when one is cleared |
//!
//! A blind A/B vote is a judgement too, under `"votes"`, written by
//! [`experiment::votes`](crate::experiment::votes) into both runs it compares.
//!
//! `judgedAt` is what lets copies of a run merge without losing a rating:
//! two copies of a finished run differ only by their judgements, and
//! [`PromptRun::supersedes`] prefers the one judged later, so an old export
//! or a stale tab cannot undo a newer rating, note or star.
//! A change is a [`PromptRunUpdate`] of `metadataChanges` naming only its
//! key, which the store's `update_run` applies to a run in any status,
//! finished or not, keeping every other key: a rating and a star made from
//! the same older copy of a run both stay.
//!
//! ```
//! use prompt_runs::model::{PromptRun, PromptRunUpdate, Rating};
//! let run = PromptRun::pending("r", "m", "p");
//! let rated = PromptRunUpdate::rate(Some(Rating::Up)).apply_to(&run).unwrap();
//! let starred = PromptRunUpdate::star(true).apply_to(&rated).unwrap();
//! assert_eq!((starred.rating(), starred.is_starred()), (Some(Rating::Up), true));
//! // In a component: store.update_run(&run.id, PromptRunUpdate::star(true))
//! ```

use super::{PromptRun, PromptRunUpdate, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `metadata` key of a run's thumbs up or down: `"up"` or `"down"`.
pub const RATING_KEY: &str = "rating";

/// The `metadata` key of a person's note on a run: a non-empty string.
pub const NOTE_KEY: &str = "note";

/// The `metadata` key that stars a run: `true` (absent when not starred).
pub const STARRED_KEY: &str = "starred";

/// The `metadata` key of when a judgement of the run last changed: an
/// ISO 8601 instant, set by every judgement update (clearing one included).
pub const JUDGED_AT_KEY: &str = "judgedAt";

/// Thumbs up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    /// A good answer.
    Up,
    /// A bad answer.
    Down,
}

impl Rating {
    /// `"up"` or `"down"`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Up => "up",
            Rating::Down => "down",
        }
    }
}

impl PromptRun {
    /// The run's thumbs up or down, if any (a value other than `"up"` or
    /// `"down"` reads as none).
    pub fn rating(&self) -> Option<Rating> {
        match self.metadata_entry(RATING_KEY)?.as_str()? {
            "up" => Some(Rating::Up),
            "down" => Some(Rating::Down),
            _ => None,
        }
    }

    /// The note a person wrote on the run, if any.
    pub fn note(&self) -> Option<&str> {
        self.metadata_entry(NOTE_KEY)?
            .as_str()
            .filter(|note| !note.is_empty())
    }

    /// Whether the run is starred.
    pub fn is_starred(&self) -> bool {
        self.metadata_entry(STARRED_KEY) == Some(&Value::Bool(true))
    }

    /// When a judgement of the run last changed, if one ever did in a build
    /// that records it.
    pub fn judged_at(&self) -> Option<Timestamp> {
        self.metadata_entry(JUDGED_AT_KEY)?
            .as_str()
            .map(Timestamp::parse)
    }

    fn metadata_entry(&self, key: &str) -> Option<&Value> {
        self.metadata.as_ref()?.get(key)
    }
}

impl PromptRunUpdate {
    /// The update that gives a run this rating, or clears it with `None`.
    pub fn rate(rating: Option<Rating>) -> PromptRunUpdate {
        metadata_change(RATING_KEY, rating.map(|r| r.as_str().into()))
    }

    /// The update that sets a run's note; an empty or blank note clears it.
    /// The note is kept as typed (not trimmed).
    pub fn annotate(note: &str) -> PromptRunUpdate {
        metadata_change(NOTE_KEY, (!note.trim().is_empty()).then(|| note.into()))
    }

    /// The update that stars a run, or unstars it.
    pub fn star(starred: bool) -> PromptRunUpdate {
        metadata_change(STARRED_KEY, starred.then_some(Value::Bool(true)))
    }
}

/// An update setting `key` to `value`, or removing it for `None`, and
/// `judgedAt` to now.
fn metadata_change(key: &str, value: Option<Value>) -> PromptRunUpdate {
    let mut changes = serde_json::Map::new();
    changes.insert(key.to_owned(), value.unwrap_or(Value::Null));
    changes.insert(
        JUDGED_AT_KEY.to_owned(),
        Timestamp::now().as_str().to_owned().into(),
    );
    PromptRunUpdate::default().with_metadata_changes(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunStatus;
    use serde_json::json;

    fn finished_run() -> PromptRun {
        let mut run = PromptRun::pending("r", "m", "p");
        run.status = RunStatus::Success;
        run.output = Some("answer".into());
        run
    }

    #[test]
    fn judgements_are_set_read_and_cleared_keeping_other_metadata() {
        let mut run = finished_run();
        run.metadata = Some(json!({"batchId": "b1"}).as_object().unwrap().clone());
        let rated = PromptRunUpdate::rate(Some(Rating::Down))
            .apply_to(&run)
            .unwrap();
        let noted = PromptRunUpdate::annotate("wrong capital\n")
            .apply_to(&rated)
            .unwrap();
        let starred = PromptRunUpdate::star(true).apply_to(&noted).unwrap();
        assert_eq!(starred.rating(), Some(Rating::Down));
        assert_eq!(starred.note(), Some("wrong capital\n"));
        assert!(starred.is_starred());
        assert_eq!(starred.batch_id(), Some("b1"));
        let judged_at = starred.judged_at().expect("judging records when");
        assert_eq!(
            serde_json::to_value(&starred).unwrap()["metadata"],
            json!({"batchId": "b1", "rating": "down", "note": "wrong capital\n", "starred": true, "judgedAt": judged_at.as_str()})
        );

        let mut cleared = starred;
        for update in [
            PromptRunUpdate::rate(None),
            PromptRunUpdate::annotate("  "),
            PromptRunUpdate::star(false),
        ] {
            cleared = update.apply_to(&cleared).unwrap();
        }
        assert!(cleared.judged_at().is_some(), "clearing is a judgement too");
        cleared.metadata.as_mut().unwrap().remove(JUDGED_AT_KEY);
        assert_eq!(cleared, run, "clearing every judgement restores the rest");
    }

    #[test]
    fn a_run_without_metadata_gets_it_and_keeps_when_it_was_judged() {
        let run = finished_run();
        let starred = PromptRunUpdate::star(true).apply_to(&run).unwrap();
        let metadata = starred.metadata.clone().unwrap();
        assert_eq!(metadata["starred"], json!(true));
        assert_eq!(metadata.keys().collect::<Vec<_>>(), ["judgedAt", "starred"]);
        let unstarred = PromptRunUpdate::star(false).apply_to(&starred).unwrap();
        assert_eq!(
            unstarred.metadata.unwrap().keys().collect::<Vec<_>>(),
            ["judgedAt"],
            "only when it was judged is left"
        );
    }

    #[test]
    fn values_written_by_something_else_read_as_no_judgement() {
        let mut run = finished_run();
        run.metadata = Some(
            json!({"rating": "sideways", "note": 5, "starred": "yes"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(run.rating(), None);
        assert_eq!(run.note(), None);
        assert!(!run.is_starred());
        run.metadata = Some(
            json!({"rating": "up", "note": ""})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert_eq!(run.rating(), Some(Rating::Up));
        assert_eq!(run.note(), None);
    }

    #[test]
    fn ratings_serialize_as_stored() {
        assert_eq!(serde_json::to_value(Rating::Up).unwrap(), json!("up"));
        assert_eq!(
            serde_json::from_value::<Rating>(json!("down")).unwrap(),
            Rating::Down
        );
    }
}
