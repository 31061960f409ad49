//! Partial updates of a run, as `update_run` applies them.

use super::{PromptRun, RunStatus, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A partial update of a [`PromptRun`]: every field optional, `None` meaning
/// "leave as it is". It has no `id` field, so it cannot change a run's id (and
/// JSON naming `id` is refused).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromptRunUpdate {
    /// New workspace id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// New prompt snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_snapshot: Option<String>,
    /// New context block ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_block_ids: Option<Vec<String>>,
    /// New model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// New status; must be a move forward along the lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    /// New start instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// New completion instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// New duration in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// New prompt token count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// New completion token count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// New total token count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// New cost in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// New output text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// New error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// New metadata object (replaces the old one whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Metadata keys to change, each set to its value, or removed when the
    /// value is `null`; every other key is kept. Applied to the metadata as
    /// the run holds it when the update lands (after `metadata`, if both are
    /// given), so two changes made from the same older copy of a run (a
    /// rating, then a star) do not undo each other, as whole replacements would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_changes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An update that would move a run's status backwards, or from one finished
/// status to another.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("run {id} cannot move from {from} to {to}: a status only moves forward along pending → running → success | error | cancelled")]
pub struct InvalidTransition {
    /// The run that was to be updated.
    pub id: String,
    /// Its current status.
    pub from: RunStatus,
    /// The status the update asked for.
    pub to: RunStatus,
}

/// A finished answer's token counts, as the server counted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// The prompt's tokens.
    pub input: u64,
    /// The answer's tokens.
    pub output: u64,
    /// Both, as the server totals them.
    pub total: u64,
}

/// The steps of a run's life, as the store records them: `pending` (a new
/// run) → [`running`](PromptRunUpdate::running) → text
/// [`streamed`](PromptRunUpdate::streamed) → [`succeeded`](PromptRunUpdate::succeeded),
/// [`failed`](PromptRunUpdate::failed) or [`cancelled`](PromptRunUpdate::cancelled).
impl PromptRunUpdate {
    /// An update that changes only the status.
    pub fn status(status: RunStatus) -> PromptRunUpdate {
        PromptRunUpdate {
            status: Some(status),
            ..PromptRunUpdate::default()
        }
    }

    /// Sent at `started_at`: the run turns `running`.
    pub fn running(started_at: Timestamp) -> PromptRunUpdate {
        PromptRunUpdate {
            started_at: Some(started_at),
            ..PromptRunUpdate::status(RunStatus::Running)
        }
    }

    /// The answer as far as it has streamed in (the whole text so far).
    pub fn streamed(output: String) -> PromptRunUpdate {
        PromptRunUpdate {
            output: Some(output),
            ..PromptRunUpdate::default()
        }
    }

    /// Answered at `completed_at`: `success`, with the whole answer, the
    /// time the server took, its token counts and its cost (`None`: unknown).
    pub fn succeeded(
        completed_at: Timestamp,
        output: String,
        duration_ms: u64,
        tokens: TokenCounts,
        cost: Option<f64>,
    ) -> PromptRunUpdate {
        PromptRunUpdate {
            completed_at: Some(completed_at),
            duration_ms: Some(duration_ms),
            input_tokens: Some(tokens.input),
            output_tokens: Some(tokens.output),
            total_tokens: Some(tokens.total),
            cost,
            output: Some(output),
            ..PromptRunUpdate::status(RunStatus::Success)
        }
    }

    /// Failed at `completed_at`, `duration_ms` after it started (when
    /// known), with `error` in words.
    pub fn failed(
        completed_at: Timestamp,
        duration_ms: Option<u64>,
        error: String,
    ) -> PromptRunUpdate {
        PromptRunUpdate {
            completed_at: Some(completed_at),
            duration_ms,
            error: Some(error),
            ..PromptRunUpdate::status(RunStatus::Error)
        }
    }

    /// Cancelled at `completed_at` (partial output is kept).
    pub fn cancelled(completed_at: Timestamp) -> PromptRunUpdate {
        PromptRunUpdate {
            completed_at: Some(completed_at),
            ..PromptRunUpdate::status(RunStatus::Cancelled)
        }
    }

    /// This update, also setting single metadata keys (see
    /// [`metadata_changes`](PromptRunUpdate::metadata_changes)): what it
    /// records then stays beside a judgement made meanwhile.
    pub fn with_metadata_changes(
        mut self,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> PromptRunUpdate {
        self.metadata_changes = Some(changes);
        self
    }

    /// `run` with this update applied, or the refused status move (and `run`
    /// left as it is).
    pub fn apply_to(self, run: &PromptRun) -> Result<PromptRun, InvalidTransition> {
        if let Some(to) = self.status {
            if !run.status.can_move_to(to) {
                return Err(InvalidTransition {
                    id: run.id.clone(),
                    from: run.status,
                    to,
                });
            }
        }
        let PromptRunUpdate {
            workspace_id,
            prompt_snapshot,
            context_block_ids,
            model_id,
            status,
            started_at,
            completed_at,
            duration_ms,
            input_tokens,
            output_tokens,
            total_tokens,
            cost,
            output,
            error,
            metadata,
            metadata_changes,
        } = self;
        let previous = run.clone();
        Ok(PromptRun {
            id: previous.id,
            workspace_id: workspace_id.unwrap_or(previous.workspace_id),
            prompt_snapshot: prompt_snapshot.unwrap_or(previous.prompt_snapshot),
            context_block_ids: context_block_ids.unwrap_or(previous.context_block_ids),
            model_id: model_id.unwrap_or(previous.model_id),
            status: status.unwrap_or(previous.status),
            started_at: started_at.unwrap_or(previous.started_at),
            completed_at: completed_at.or(previous.completed_at),
            duration_ms: duration_ms.or(previous.duration_ms),
            input_tokens: input_tokens.or(previous.input_tokens),
            output_tokens: output_tokens.or(previous.output_tokens),
            total_tokens: total_tokens.or(previous.total_tokens),
            cost: cost.or(previous.cost),
            output: output.or(previous.output),
            error: error.or(previous.error),
            metadata: changed_metadata(metadata.or(previous.metadata), metadata_changes),
        })
    }
}

/// `metadata` with `changes` applied (a `null` removes its key); an object
/// left empty is no metadata, so a run whose last key was removed writes the
/// same JSON as one that never had any.
///
/// Rebuilt with `insert` rather than edited with `remove`: the app already
/// holds `insert` for reading JSON, while `BTreeMap::remove` alone added
/// ~1.5 KB to its bundle.
fn changed_metadata(
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    changes: Option<serde_json::Map<String, serde_json::Value>>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let Some(changes) = changes else {
        return metadata;
    };
    let mut changed = serde_json::Map::new();
    for (key, value) in metadata.unwrap_or_default() {
        if !changes.contains_key(&key) {
            changed.insert(key, value);
        }
    }
    for (key, value) in changes {
        if !value.is_null() {
            changed.insert(key, value);
        }
    }
    (!changed.is_empty()).then_some(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_run_lives_through_its_steps() {
        let pending = PromptRun::pending("r1", "m", "prompt");
        let started = Timestamp::from_unix_millis(1_796_637_600_000);
        let running = PromptRunUpdate::running(started.clone())
            .apply_to(&pending)
            .unwrap();
        assert_eq!(running.status, RunStatus::Running);
        assert_eq!(running.started_at, started);
        let streamed = PromptRunUpdate::streamed("Par".into())
            .with_metadata_changes(
                json!({"metrics": {"ttftMs": 12}})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .apply_to(&running)
            .unwrap();
        assert_eq!(
            (streamed.status, streamed.output.as_deref()),
            (RunStatus::Running, Some("Par"))
        );
        let tokens = TokenCounts {
            input: 3,
            output: 2,
            total: 5,
        };
        let ended = Timestamp::from_unix_millis(1_796_637_601_500);
        let answered =
            PromptRunUpdate::succeeded(ended.clone(), "Paris".into(), 1_500, tokens, Some(0.25))
                .apply_to(&streamed)
                .unwrap();
        assert_eq!(answered.status, RunStatus::Success);
        assert_eq!(answered.completed_at, Some(ended.clone()));
        assert_eq!(answered.output.as_deref(), Some("Paris"));
        assert_eq!(answered.duration_ms, Some(1_500));
        assert_eq!(
            (
                answered.input_tokens,
                answered.output_tokens,
                answered.total_tokens
            ),
            (Some(3), Some(2), Some(5))
        );
        assert_eq!(answered.cost, Some(0.25));
        // What streaming recorded stays beside what the end recorded.
        assert_eq!(answered.metadata, streamed.metadata);

        let failed = PromptRunUpdate::failed(ended.clone(), Some(900), "HTTP 500: boom".into())
            .apply_to(&running)
            .unwrap();
        assert_eq!(failed.status, RunStatus::Error);
        assert_eq!(failed.error.as_deref(), Some("HTTP 500: boom"));
        assert_eq!(failed.duration_ms, Some(900));
        let cancelled = PromptRunUpdate::cancelled(ended.clone())
            .apply_to(&streamed)
            .unwrap();
        assert_eq!(
            (cancelled.status, cancelled.output.as_deref()),
            (RunStatus::Cancelled, Some("Par"))
        );
        // Each end is final: a cancelled run does not turn successful.
        assert!(
            PromptRunUpdate::succeeded(ended, "late".into(), 1, tokens, None)
                .apply_to(&cancelled)
                .is_err()
        );
    }

    #[test]
    fn applies_only_the_fields_it_names() {
        let run = PromptRun::pending("r1", "m", "prompt");
        let updated = PromptRunUpdate {
            status: Some(RunStatus::Running),
            output: Some("partial".into()),
            ..PromptRunUpdate::default()
        }
        .apply_to(&run)
        .unwrap();
        assert_eq!(updated.id, "r1");
        assert_eq!(updated.status, RunStatus::Running);
        assert_eq!(updated.output.as_deref(), Some("partial"));
        assert_eq!(updated.prompt_snapshot, "prompt");
        assert_eq!(updated.started_at, run.started_at);
    }

    #[test]
    fn refuses_to_move_a_finished_run_back() {
        let mut run = PromptRun::pending("r1", "m", "p");
        run.status = RunStatus::Success;
        let refused = PromptRunUpdate::status(RunStatus::Running)
            .apply_to(&run)
            .unwrap_err();
        assert_eq!(
            refused,
            InvalidTransition {
                id: "r1".into(),
                from: RunStatus::Success,
                to: RunStatus::Running
            }
        );
        assert!(refused
            .to_string()
            .contains("cannot move from success to running"));
    }

    #[test]
    fn metadata_changes_keep_other_keys_and_apply_to_a_finished_run() {
        let mut run = PromptRun::pending("r1", "m", "p");
        run.status = RunStatus::Error;
        run.metadata = Some(json!({"batchId": "b"}).as_object().unwrap().clone());
        let changes = |value: serde_json::Value| PromptRunUpdate {
            metadata_changes: Some(value.as_object().unwrap().clone()),
            ..PromptRunUpdate::default()
        };
        // Both made from the same copy: the second keeps what the first set.
        let rate = changes(json!({"rating": "down"}));
        let star = changes(json!({"starred": true}));
        let changed = star.apply_to(&rate.apply_to(&run).unwrap()).unwrap();
        assert_eq!(changed.status, RunStatus::Error);
        assert_eq!(
            serde_json::Value::Object(changed.metadata.clone().unwrap()),
            json!({"batchId": "b", "rating": "down", "starred": true})
        );
        let cleared = changes(json!({"rating": null, "starred": null, "batchId": null}))
            .apply_to(&changed)
            .unwrap();
        assert_eq!(cleared.metadata, None, "an emptied object is no metadata");

        let replaced_then_changed = PromptRunUpdate {
            metadata: Some(json!({"a": 1}).as_object().unwrap().clone()),
            metadata_changes: Some(json!({"b": 2}).as_object().unwrap().clone()),
            ..PromptRunUpdate::default()
        }
        .apply_to(&changed)
        .unwrap();
        assert_eq!(
            serde_json::Value::Object(replaced_then_changed.metadata.unwrap()),
            json!({"a": 1, "b": 2})
        );
        let update: PromptRunUpdate =
            serde_json::from_value(json!({"metadataChanges": {"note": "x"}})).unwrap();
        assert_eq!(update.metadata_changes.unwrap()["note"], json!("x"));
    }

    #[test]
    fn json_naming_an_id_is_refused() {
        let error =
            serde_json::from_value::<PromptRunUpdate>(json!({"id": "other", "status": "running"}))
                .unwrap_err()
                .to_string();
        assert!(error.contains("id"), "{error}");
        let update: PromptRunUpdate = serde_json::from_value(json!({"totalTokens": 5})).unwrap();
        assert_eq!(update.total_tokens, Some(5));
    }
}
