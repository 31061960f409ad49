//! One execution of a prompt on a model, as kept in the history.

use super::{RunStatus, Timestamp, Usd};
use serde::{Deserialize, Deserializer, Serialize};

/// The `metadata` key that ties together the runs of one multi-model
/// execution (see [`PromptRun::batch_id`]).
pub const BATCH_ID_KEY: &str = "batchId";

/// The `metadata` key holding the id the server gave a run (its `run_id`),
/// when that differs from the run's own: a run keeps the id it was created
/// with for its whole life, so that links, the active run and stored keys
/// never change under a person's eyes (see [`PromptRun::server_run_id`]).
pub const SERVER_RUN_ID_KEY: &str = "serverRunId";

/// The `metadata` key holding the sampling parameters a run was executed
/// with, as they were sent: `{"temperature": 0.5, "max_tokens": 256}`. Absent
/// when the server's defaults applied.
pub const PARAMETERS_KEY: &str = "parameters";

/// The `metadata` key that places a run in an experiment's grid:
/// `{"id": "exp-1", "row": 0, "model": "gpt-4o", "repeat": 0}`, with the row
/// and repeat counted from 0 (see [`PromptRun::experiment_cell`]).
pub const EXPERIMENT_KEY: &str = "experiment";

/// Which cell of an experiment a run is, read from its `metadata.experiment`
/// (see [`EXPERIMENT_KEY`]). Borrowed from the run, so building a grid from
/// thousands of runs copies no strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExperimentCell<'a> {
    /// The experiment's id.
    pub experiment_id: &'a str,
    /// The input row, counted from 0.
    pub row: usize,
    /// The model the cell runs on.
    pub model_id: &'a str,
    /// Which repeat of the cell, counted from 0.
    pub repeat: u32,
}

impl ExperimentCell<'_> {
    /// The JSON stored under [`EXPERIMENT_KEY`].
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.experiment_id,
            "row": self.row,
            "model": self.model_id,
            "repeat": self.repeat,
        })
    }
}

/// One execution of a prompt on a model.
///
/// Serializes exactly as the TypeScript store's `PromptRun`: camelCase names,
/// absent optionals omitted. On input, `null` counts as absent, and
/// `workspaceId`, `promptSnapshot` and `contextBlockIds` (missing from older
/// exports) default to empty. Usage that was never reported stays `None`;
/// it is never turned into 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptRun {
    /// Unique id of the run.
    pub id: String,
    /// Workspace the run belongs to; empty when unknown.
    #[serde(default, deserialize_with = "null_as_default")]
    pub workspace_id: String,
    /// The prompt text exactly as it was run.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prompt_snapshot: String,
    /// Ids of the context blocks sent with the prompt.
    #[serde(default, deserialize_with = "null_as_default")]
    pub context_block_ids: Vec<String>,
    /// Id of the model the prompt ran on.
    pub model_id: String,
    /// Where the run is in its lifecycle.
    pub status: RunStatus,
    /// When the request was sent (or the run created).
    pub started_at: Timestamp,
    /// When the run finished, successfully or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// Wall time of the run in whole milliseconds (fractions on input are rounded).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_millis"
    )]
    pub duration_ms: Option<u64>,
    /// Prompt tokens, as reported by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Completion tokens, as reported by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// All tokens, as reported by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// Cost in US dollars, when a price was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// The model's answer (untrusted text: render it as text, never as HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// What went wrong, for runs that failed or were cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Any JSON object the caller attached, kept as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl PromptRun {
    /// A new `pending` run of `prompt` on `model_id`, started now.
    pub fn pending(
        id: impl Into<String>,
        model_id: impl Into<String>,
        prompt: impl Into<String>,
    ) -> PromptRun {
        PromptRun {
            id: id.into(),
            workspace_id: String::new(),
            prompt_snapshot: prompt.into(),
            context_block_ids: Vec::new(),
            model_id: model_id.into(),
            status: RunStatus::Pending,
            started_at: Timestamp::now(),
            completed_at: None,
            duration_ms: None,
            input_tokens: None,
            output_tokens: None,
            total_tokens: None,
            cost: None,
            output: None,
            error: None,
            metadata: None,
        }
    }

    /// A fresh id for a run created in this page, before the server names it:
    /// `local-<ms since epoch, hex>-<random, hex>`.
    pub fn new_local_id() -> String {
        let millis = Timestamp::now().unix_millis().unwrap_or_default();
        format!("local-{millis:x}-{:08x}", random_u32())
    }

    /// Whether this copy of a run should replace `other`, a copy of the same
    /// run from elsewhere (another tab, an imported file): the later state along
    /// the status flow wins; at the same stage, the copy completed later wins,
    /// and an unfinished run takes the newest copy. Completed at the same
    /// instant (copies of one finished run, judged differently), the copy
    /// judged later wins (see [`PromptRun::judged_at`]), so an old export or
    /// a stale tab cannot undo a newer rating. Identical copies never replace
    /// each other.
    pub fn supersedes(&self, other: &PromptRun) -> bool {
        if self == other {
            return false;
        }
        if self.status != other.status {
            if other.status.can_move_to(self.status) {
                return true;
            }
            if self.status.can_move_to(other.status) {
                return false;
            }
        }
        if self.completed_at != other.completed_at {
            return self.completed_at > other.completed_at;
        }
        let (mine, theirs) = (self.judged_at(), other.judged_at());
        if mine != theirs {
            return mine > theirs;
        }
        true
    }

    /// The batch this run was executed in with other models (its
    /// `metadata.batchId`), if any.
    pub fn batch_id(&self) -> Option<&str> {
        self.metadata.as_ref()?.get(BATCH_ID_KEY)?.as_str()
    }

    /// The id the server knows this run by (its `metadata.serverRunId`), if
    /// it answered with one.
    pub fn server_run_id(&self) -> Option<&str> {
        self.metadata.as_ref()?.get(SERVER_RUN_ID_KEY)?.as_str()
    }

    /// The `max_tokens` the run was executed with (its
    /// `metadata.parameters.max_tokens`), when one was set.
    pub fn max_tokens(&self) -> Option<u64> {
        self.metadata
            .as_ref()?
            .get(PARAMETERS_KEY)?
            .get("max_tokens")?
            .as_u64()
    }

    /// The experiment cell this run was executed for (its
    /// `metadata.experiment`), if any; `None` also when that entry is not an
    /// object with a string `id` and `model` and whole-number `row` and `repeat`.
    pub fn experiment_cell(&self) -> Option<ExperimentCell<'_>> {
        let cell = self.metadata.as_ref()?.get(EXPERIMENT_KEY)?.as_object()?;
        Some(ExperimentCell {
            experiment_id: cell.get("id")?.as_str()?,
            row: usize::try_from(cell.get("row")?.as_u64()?).ok()?,
            model_id: cell.get("model")?.as_str()?,
            repeat: u32::try_from(cell.get("repeat")?.as_u64()?).ok()?,
        })
    }

    /// The cost as an exact amount, when known.
    pub fn cost_usd(&self) -> Option<Usd> {
        self.cost.map(Usd::from_dollars)
    }
}

fn random_u32() -> u32 {
    #[cfg(target_arch = "wasm32")]
    {
        (js_sys::Math::random() * f64::from(u32::MAX)) as u32
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
        hasher.finish() as u32
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn whole_millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let millis = Option::<f64>::deserialize(deserializer)?;
    match millis {
        Some(ms) if !(0.0..=u64::MAX as f64).contains(&ms) => {
            Err(serde::de::Error::custom(format!(
                "durationMs must be a non-negative number of milliseconds, got {}",
                crate::text::shortest(ms)
            )))
        }
        Some(ms) => Ok(Some(ms.round() as u64)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn full_run_json() -> Value {
        json!({
            "id": "run-1",
            "workspaceId": "ws-1",
            "promptSnapshot": "Summarise: {{text}}",
            "contextBlockIds": ["block-a", "block-b"],
            "modelId": "claude-3-5-sonnet",
            "status": "success",
            "startedAt": "2024-05-01T12:00:00.000Z",
            "completedAt": "2024-05-01T12:00:01.523Z",
            "durationMs": 1523,
            "inputTokens": 120,
            "outputTokens": 80,
            "totalTokens": 200,
            "cost": 0.00123,
            "output": "A summary.",
            "metadata": {"temperature": 0.7, "tags": ["a", {"nested": null}]}
        })
    }

    #[test]
    fn an_exported_array_round_trips_to_equal_json() {
        let exported = json!([
            full_run_json(),
            {
                "id": "run-2",
                "workspaceId": "ws-1",
                "promptSnapshot": "Hi",
                "contextBlockIds": [],
                "modelId": "gpt-4o",
                "status": "error",
                "startedAt": "2024-05-01T12:05:00.000Z",
                "completedAt": "2024-05-01T12:05:00.100Z",
                "error": "HTTP 500: upstream failed"
            },
            {
                "id": "run-3",
                "workspaceId": "",
                "promptSnapshot": "",
                "contextBlockIds": [],
                "modelId": "gpt-4o",
                "status": "pending",
                "startedAt": "2024-05-01T12:06:00.000Z"
            }
        ]);
        let runs: Vec<PromptRun> = serde_json::from_value(exported.clone()).unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].total_tokens, Some(200));
        assert_eq!(
            runs[0].metadata.as_ref().unwrap()["temperature"],
            json!(0.7)
        );
        assert_eq!(serde_json::to_value(&runs).unwrap(), exported);
    }

    #[test]
    fn field_names_are_camel_case() {
        let run: PromptRun = serde_json::from_value(full_run_json()).unwrap();
        let written = serde_json::to_value(&run).unwrap();
        let names: Vec<&str> = written
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for name in [
            "workspaceId",
            "promptSnapshot",
            "contextBlockIds",
            "modelId",
            "startedAt",
            "completedAt",
            "durationMs",
            "inputTokens",
            "outputTokens",
            "totalTokens",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains('_')), "{names:?}");
    }

    #[test]
    fn older_exports_without_workspace_prompt_or_blocks_load_with_empty_defaults() {
        let run: PromptRun = serde_json::from_value(json!({
            "id": "old", "modelId": "m", "status": "success", "startedAt": "2023-01-01T00:00:00.000Z"
        }))
        .unwrap();
        assert_eq!(run.workspace_id, "");
        assert_eq!(run.prompt_snapshot, "");
        assert!(run.context_block_ids.is_empty());
    }

    #[test]
    fn null_is_accepted_and_absent_optionals_are_omitted() {
        let run: PromptRun = serde_json::from_value(json!({
            "id": "r", "workspaceId": null, "modelId": "m", "status": "running",
            "startedAt": "2024-01-01T00:00:00.000Z", "completedAt": null, "durationMs": null,
            "totalTokens": null, "cost": null, "output": null, "error": null, "metadata": null
        }))
        .unwrap();
        assert_eq!(run.completed_at, None);
        assert_eq!(run.total_tokens, None);
        let written = serde_json::to_value(&run).unwrap();
        let object = written.as_object().unwrap();
        for omitted in [
            "completedAt",
            "durationMs",
            "totalTokens",
            "cost",
            "output",
            "error",
            "metadata",
        ] {
            assert!(!object.contains_key(omitted), "{omitted} should be omitted");
        }
    }

    #[test]
    fn the_later_state_along_the_status_flow_supersedes() {
        let running = PromptRun {
            status: RunStatus::Running,
            ..PromptRun::pending("r", "m", "p")
        };
        let mut done = PromptRun {
            status: RunStatus::Success,
            ..running.clone()
        };
        done.completed_at = Some(Timestamp::parse("2024-01-01T00:00:05.000Z"));
        assert!(done.supersedes(&running));
        assert!(!running.supersedes(&done));
        assert!(
            !done.supersedes(&done.clone()),
            "identical copies change nothing"
        );

        let mut streamed_more = running.clone();
        streamed_more.output = Some("more text".into());
        assert!(
            streamed_more.supersedes(&running),
            "an unfinished run takes the newest copy"
        );

        let mut cancelled_earlier = PromptRun {
            status: RunStatus::Cancelled,
            ..running.clone()
        };
        cancelled_earlier.completed_at = Some(Timestamp::parse("2024-01-01T00:00:01.000Z"));
        assert!(
            done.supersedes(&cancelled_earlier),
            "finished differently: the later completion wins"
        );
        assert!(!cancelled_earlier.supersedes(&done));
    }

    #[test]
    fn the_copy_judged_later_supersedes_at_the_same_completion() {
        use crate::model::{PromptRunUpdate, Rating};
        let mut done = PromptRun::pending("r", "m", "p");
        done.status = RunStatus::Success;
        done.completed_at = Some(Timestamp::parse("2024-01-01T00:00:05.000Z"));
        let judged = |run: &PromptRun, update: PromptRunUpdate, at: &str| {
            let mut judged = update.apply_to(run).unwrap();
            let metadata = judged.metadata.as_mut().unwrap();
            metadata.insert("judgedAt".into(), at.into());
            judged
        };
        let up = judged(
            &done,
            PromptRunUpdate::rate(Some(Rating::Up)),
            "2024-02-01T00:00:00.000Z",
        );
        let down = judged(
            &up,
            PromptRunUpdate::rate(Some(Rating::Down)),
            "2024-03-01T00:00:00.000Z",
        );
        assert!(down.supersedes(&up), "the newer rating wins");
        assert!(!up.supersedes(&down), "an old export does not undo it");
        assert!(up.supersedes(&done), "a judged copy beats one never judged");
        assert!(
            !done.supersedes(&up),
            "an unjudged stale copy loses the rating to no one"
        );
        let cleared = judged(
            &down,
            PromptRunUpdate::rate(None),
            "2024-04-01T00:00:00.000Z",
        );
        assert!(cleared.supersedes(&down), "clearing is a judgement too");
        assert!(!down.supersedes(&cleared));

        let mut finished_later = up.clone();
        finished_later.completed_at = Some(Timestamp::parse("2024-01-01T00:00:06.000Z"));
        assert!(
            finished_later.supersedes(&down),
            "completion still comes first: a later completion is a later state"
        );
        let mut differently = done.clone();
        differently.output = Some("other".into());
        assert!(
            differently.supersedes(&done) && done.supersedes(&differently),
            "without judgements, as before: the incoming copy"
        );
    }

    #[test]
    fn local_ids_are_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..1_000).map(|_| PromptRun::new_local_id()).collect();
        assert_eq!(ids.len(), 1_000);
        assert!(ids.iter().all(|id| id.starts_with("local-")));
    }

    #[test]
    fn the_experiment_cell_round_trips_through_metadata() {
        let cell = ExperimentCell {
            experiment_id: "exp-1",
            row: 41,
            model_id: "gpt-4o",
            repeat: 2,
        };
        let mut run = PromptRun::pending("r", "gpt-4o", "p");
        assert_eq!(run.experiment_cell(), None);
        let mut metadata = serde_json::Map::new();
        metadata.insert(EXPERIMENT_KEY.to_owned(), cell.to_json());
        run.metadata = Some(metadata);
        assert_eq!(run.experiment_cell(), Some(cell));
        assert_eq!(
            run.metadata.as_ref().unwrap()[EXPERIMENT_KEY],
            json!({"id": "exp-1", "row": 41, "model": "gpt-4o", "repeat": 2})
        );
        for malformed in [
            json!("exp-1"),
            json!({"id": "exp-1", "row": -1, "model": "m", "repeat": 0}),
            json!({"id": "exp-1", "row": 1.5, "model": "m", "repeat": 0}),
            json!({"id": 7, "row": 0, "model": "m", "repeat": 0}),
            json!({"id": "exp-1", "row": 0, "repeat": 0}),
        ] {
            run.metadata
                .as_mut()
                .unwrap()
                .insert(EXPERIMENT_KEY.to_owned(), malformed.clone());
            assert_eq!(run.experiment_cell(), None, "{malformed}");
        }
    }

    #[test]
    fn unknown_usage_stays_unknown() {
        let run = PromptRun::pending("r", "m", "p");
        assert_eq!(run.total_tokens, None);
        let written = serde_json::to_value(&run).unwrap();
        assert!(written.get("totalTokens").is_none());
    }

    #[test]
    fn fractional_durations_from_performance_now_are_rounded_not_refused() {
        let run: PromptRun = serde_json::from_value(json!({
            "id": "r", "modelId": "m", "status": "success",
            "startedAt": "2024-01-01T00:00:00.000Z", "durationMs": 1523.6
        }))
        .unwrap();
        assert_eq!(run.duration_ms, Some(1524));
    }

    #[test]
    fn wrong_types_are_refused_with_the_field_named() {
        let error = serde_json::from_value::<PromptRun>(json!({
            "id": "r", "modelId": "m", "status": "done", "startedAt": "2024-01-01T00:00:00.000Z"
        }))
        .unwrap_err()
        .to_string();
        assert!(error.contains("done"), "{error}");
        let error = serde_json::from_value::<PromptRun>(json!({
            "id": "r", "modelId": "m", "status": "success", "startedAt": "2024-01-01T00:00:00.000Z",
            "durationMs": -5
        }))
        .unwrap_err()
        .to_string();
        assert!(error.contains("durationMs"), "{error}");
    }
}
