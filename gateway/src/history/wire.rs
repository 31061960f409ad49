//! The sync API's JSON, as the contract fixes it (docs/sync.md): an upload
//! of runs, deletions and trash marks, read and checked whole before
//! anything is written; its outcome; and a page of the changes feed. Run
//! fields are the crate's [`PromptRun`] (camelCase).

pub use prompt_runs::api::wire::Tombstone;
use prompt_runs::api::wire::SYNC_BATCH_MAX;
use prompt_runs::model::{PromptRun, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Most items (runs and deletions together) one upload may carry.
pub const MAX_UPLOAD_ITEMS: usize = SYNC_BATCH_MAX;
/// Changes a page of the feed holds unless the client asks for fewer.
pub const DEFAULT_PAGE: usize = 500;
/// Most changes one page of the feed may hold.
pub const MAX_PAGE: usize = SYNC_BATCH_MAX;

/// An upload, checked: every run is a valid [`PromptRun`], every deletion
/// names an id and an instant, and there are at most [`MAX_UPLOAD_ITEMS`].
#[derive(Debug, Default)]
pub struct Upload {
    /// Runs to merge, in the order sent.
    pub runs: Vec<PromptRun>,
    /// Runs to delete.
    pub deleted: Vec<Tombstone>,
    /// Runs put in the trash, or restored from it.
    pub trash: Vec<TrashMark>,
}

/// A run put in the trash (`trashedAt`) or restored from it
/// (`restoredAt`), or both: each instant is the latest this client knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashMark {
    /// The run's id.
    pub id: String,
    /// When it was last put in the trash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<Timestamp>,
    /// When it was last restored from the trash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_at: Option<Timestamp>,
}

/// Why an upload's body was refused, before anything was written.
#[derive(Debug, PartialEq)]
pub enum UploadRefusal {
    /// Not JSON at all (400).
    Malformed(String),
    /// More than [`MAX_UPLOAD_ITEMS`] items (413).
    TooMany(usize),
    /// JSON, but not an upload: the item and the problem (422).
    Invalid(String),
}

impl Upload {
    /// Reads an upload's body: `{"runs": [PromptRun], "deleted": [{"id",
    /// "deletedAt"}], "trash": [{"id", "trashedAt"?, "restoredAt"?}]}`, any
    /// list may be left out. A refusal names the first bad item (`runs[3]:
    /// missing field `modelId``).
    pub fn parse(body: &[u8]) -> Result<Upload, UploadRefusal> {
        // Syntax first, so that broken JSON is always a 400, whatever it holds.
        let json: Value = serde_json::from_slice(body)
            .map_err(|error| UploadRefusal::Malformed(format!("malformed JSON: {error}")))?;
        let Value::Object(mut fields) = json else {
            return Err(UploadRefusal::Invalid(
                "the body must be an object: {\"runs\": [...], \"deleted\": [...]}".to_owned(),
            ));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|key| !["runs", "deleted", "trash"].contains(&key.as_str()))
        {
            return Err(UploadRefusal::Invalid(format!(
                "unknown field `{unknown}`: an upload has `runs`, `deleted` and `trash`"
            )));
        }
        let runs = list(fields.remove("runs"), "runs")?;
        let deleted = list(fields.remove("deleted"), "deleted")?;
        let trash = list(fields.remove("trash"), "trash")?;
        let items = runs.len() + deleted.len() + trash.len();
        if items > MAX_UPLOAD_ITEMS {
            return Err(UploadRefusal::TooMany(items));
        }
        let runs = runs
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let run: PromptRun = serde_json::from_value(item)
                    .map_err(|error| UploadRefusal::Invalid(format!("runs[{index}]: {error}")))?;
                check_id(&run.id, "runs", index)?;
                Ok(run)
            })
            .collect::<Result<_, _>>()?;
        let deleted = deleted
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let tombstone: Tombstone = serde_json::from_value(item).map_err(|error| {
                    UploadRefusal::Invalid(format!("deleted[{index}]: {error}"))
                })?;
                check_id(&tombstone.id, "deleted", index)?;
                check_instant(&tombstone.deleted_at, "deleted", index, "deletedAt")?;
                Ok(tombstone)
            })
            .collect::<Result<_, _>>()?;
        let trash = trash
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let mark: TrashMark = serde_json::from_value(item)
                    .map_err(|error| UploadRefusal::Invalid(format!("trash[{index}]: {error}")))?;
                check_id(&mark.id, "trash", index)?;
                if mark.trashed_at.is_none() && mark.restored_at.is_none() {
                    return Err(UploadRefusal::Invalid(format!(
                        "trash[{index}]: give trashedAt, restoredAt or both"
                    )));
                }
                for (instant, name) in [
                    (&mark.trashed_at, "trashedAt"),
                    (&mark.restored_at, "restoredAt"),
                ] {
                    if let Some(instant) = instant {
                        check_instant(instant, "trash", index, name)?;
                    }
                }
                Ok(mark)
            })
            .collect::<Result<_, _>>()?;
        Ok(Upload {
            runs,
            deleted,
            trash,
        })
    }

    /// Every id the upload names, each once.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .deleted
            .iter()
            .map(|tombstone| tombstone.id.as_str())
            .chain(self.runs.iter().map(|run| run.id.as_str()))
            .chain(self.trash.iter().map(|mark| mark.id.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The items of the list field `name` (absent: none).
fn list(field: Option<Value>, name: &str) -> Result<Vec<Value>, UploadRefusal> {
    match field {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(UploadRefusal::Invalid(format!("`{name}` must be an array"))),
    }
}

/// An id is what a run is merged and deleted by: it must say something.
fn check_id(id: &str, list: &str, index: usize) -> Result<(), UploadRefusal> {
    if id.is_empty() {
        return Err(UploadRefusal::Invalid(format!(
            "{list}[{index}]: id is empty"
        )));
    }
    Ok(())
}

/// An instant must be one: RFC 3339.
fn check_instant(
    instant: &Timestamp,
    list: &str,
    index: usize,
    name: &str,
) -> Result<(), UploadRefusal> {
    if instant.unix_millis().is_none() {
        return Err(UploadRefusal::Invalid(format!(
            "{list}[{index}]: {name} {:?} is not an RFC 3339 instant, e.g. 2024-05-01T12:00:00.000Z",
            instant.as_str()
        )));
    }
    Ok(())
}

/// What an upload did: 200's body.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct UploadOutcome {
    /// Items that changed what the server holds.
    pub accepted: usize,
    /// Items that changed nothing (an older or identical copy, a run
    /// already deleted, a deletion already recorded).
    pub unchanged: usize,
    /// The workspace's position in its changes feed once this upload was
    /// committed. Not a `since` for the feed: changes that others committed
    /// before it may not have been read yet.
    pub cursor: String,
}

/// One entry of the changes feed: the current state of one id.
///
/// - a run: `{"run": …}`, with `"trash"` (its marks) once it was ever put
///   in the trash and restored;
/// - a run in the trash: `{"deleted": {"id", "deletedAt": trashedAt},
///   "trash": {"trashedAt", "restoredAt"?, "trashedBy"?, "run": …}}`: a
///   browser that knows no trash reads a deletion, and hides it; one that
///   does reads the trash;
/// - a deletion for good: `{"deleted": …}`.
#[derive(Debug, Default, Serialize)]
pub struct Change {
    /// The run as the server holds it (its stored JSON, passed through), when
    /// it is not in the trash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<Box<RawValue>>,
    /// Deleted: for good, or (with `trash`) in the trash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Tombstone>,
    /// Its place in the trash, when it was ever put there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trash: Option<TrashState>,
}

/// A run's place in the trash, in the changes feed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashState {
    /// When it was last put in the trash.
    pub trashed_at: Timestamp,
    /// When it was last restored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_at: Option<Timestamp>,
    /// Who put it there last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trashed_by: Option<String>,
    /// The run, while it is in the trash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<Box<RawValue>>,
}

/// A page of the changes feed: 200's body.
#[derive(Debug, Serialize)]
pub struct ChangesPage {
    /// In the order they were committed; an id at most once.
    pub changes: Vec<Change>,
    /// Where the next page starts (`since`).
    pub cursor: String,
    /// Whether more changes follow already.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: &str) -> UploadRefusal {
        Upload::parse(body.as_bytes()).expect_err(body)
    }

    #[test]
    fn runs_and_deletions_are_read_either_may_be_left_out() {
        let upload = Upload::parse(
            br#"{"runs": [{"id": "r1", "modelId": "m", "status": "success", "startedAt": "2024-05-01T12:00:00.000Z"}],
                 "deleted": [{"id": "r0", "deletedAt": "2024-05-01T12:00:01.000Z"}]}"#,
        )
        .unwrap();
        assert_eq!(upload.runs[0].id, "r1");
        assert_eq!(upload.deleted[0].id, "r0");
        assert_eq!(upload.ids(), ["r0", "r1"]);
        assert!(Upload::parse(b"{}").unwrap().runs.is_empty());
    }

    #[test]
    fn the_first_bad_item_is_named() {
        let body = r#"{"runs": [{"id": "ok", "modelId": "m", "status": "success", "startedAt": "x"},
                                {"id": "r2", "status": "success", "startedAt": "x"}]}"#;
        assert_eq!(
            refusal(body),
            UploadRefusal::Invalid("runs[1]: missing field `modelId`".to_owned())
        );
        let body =
            r#"{"runs": [{"id": "", "modelId": "m", "status": "success", "startedAt": "x"}]}"#;
        assert_eq!(
            refusal(body),
            UploadRefusal::Invalid("runs[0]: id is empty".to_owned())
        );
        let body = r#"{"runs": [{"id": "a", "modelId": "m", "status": "done", "startedAt": "x"}]}"#;
        assert!(
            matches!(refusal(body), UploadRefusal::Invalid(detail) if detail.starts_with("runs[0]: unknown variant `done`"))
        );
        let body = r#"{"deleted": [{"id": "a", "deletedAt": "yesterday"}]}"#;
        assert!(
            matches!(refusal(body), UploadRefusal::Invalid(detail) if detail.starts_with("deleted[0]: deletedAt \"yesterday\" is not an RFC 3339 instant"))
        );
        let body = r#"{"deleted": [{"id": "a"}]}"#;
        assert!(
            matches!(refusal(body), UploadRefusal::Invalid(detail) if detail.contains("missing field `deletedAt`"))
        );
    }

    #[test]
    fn not_an_upload_is_refused_saying_what_one_is() {
        assert!(matches!(refusal("{oops"), UploadRefusal::Malformed(_)));
        assert!(
            matches!(refusal("[]"), UploadRefusal::Invalid(detail) if detail.contains("must be an object"))
        );
        assert!(
            matches!(refusal(r#"{"runs": {}}"#), UploadRefusal::Invalid(detail) if detail == "`runs` must be an array")
        );
        assert!(
            matches!(refusal(r#"{"delete": []}"#), UploadRefusal::Invalid(detail) if detail.starts_with("unknown field `delete`"))
        );
    }

    #[test]
    fn more_than_a_thousand_items_are_refused_with_their_count() {
        let deleted: Vec<Value> = (0..1_001)
            .map(|n| serde_json::json!({"id": n.to_string(), "deletedAt": "2024-05-01T12:00:00Z"}))
            .collect();
        let body = serde_json::json!({"deleted": deleted}).to_string();
        assert_eq!(refusal(&body), UploadRefusal::TooMany(1_001));
    }
}
