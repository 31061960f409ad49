//! Export and import of the whole history: JSON in the TypeScript store's
//! format (import merges by id), and CSV for spreadsheets.

use super::runs_json::{parse_runs, settle_interrupted};
use crate::model::PromptRun;
use crate::rfc4180::{defuse_formula, push_record};
use crate::store::{MergeReport, RunList, RunsStore};
use thiserror::Error;

/// Why an import changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ImportError {
    /// The file is not JSON, or holds no runs array.
    #[error("the file could not be imported: {0}")]
    NotRuns(String),
    /// Some runs in the file are invalid; none were imported.
    #[error("the file could not be imported, nothing was changed: {}", .0.join("; "))]
    InvalidRuns(Vec<String>),
}

/// The runs as a pretty-printed JSON array, the format the TypeScript store exports.
pub fn export_json(runs: &RunList) -> String {
    let runs: Vec<&PromptRun> = runs.iter().map(|run| &**run).collect();
    serde_json::to_string_pretty(&runs).expect("runs always serialize")
}

/// Reads a JSON export and merges it into `store` by id: new runs are added,
/// a run further along than the one held replaces it, the rest are skipped.
/// A file with any invalid run changes nothing. Runs saved while in flight
/// arrive as `cancelled` (they cannot be running in this page).
pub fn import_json(store: &RunsStore, text: &str) -> Result<MergeReport, ImportError> {
    let parsed = parse_runs(text).map_err(ImportError::NotRuns)?;
    if !parsed.problems.is_empty() {
        return Err(ImportError::InvalidRuns(parsed.problems));
    }
    let mut runs = parsed.runs;
    settle_interrupted(&mut runs);
    Ok(store.merge_runs(runs))
}

const CSV_COLUMNS: [&str; 16] = [
    "id",
    "workspaceId",
    "modelId",
    "status",
    "startedAt",
    "completedAt",
    "durationMs",
    "inputTokens",
    "outputTokens",
    "totalTokens",
    "cost",
    "promptSnapshot",
    "output",
    "error",
    "contextBlockIds",
    "metadata",
];

/// The runs as CSV, one row per run, columns named as the JSON fields.
///
/// Text that a spreadsheet would run as a formula (starting with `=`, `+`,
/// `-`, `@`, tab or carriage return) is prefixed with `'`: model output is
/// untrusted and must not execute when the file is opened.
pub fn export_csv(runs: &RunList) -> String {
    let mut csv = String::new();
    push_record(&mut csv, CSV_COLUMNS);
    for run in runs.iter() {
        let number = |value: Option<u64>| value.map(|n| n.to_string()).unwrap_or_default();
        let record = [
            run.id.clone(),
            run.workspace_id.clone(),
            run.model_id.clone(),
            run.status.as_str().to_owned(),
            run.started_at.to_string(),
            run.completed_at
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            number(run.duration_ms),
            number(run.input_tokens),
            number(run.output_tokens),
            number(run.total_tokens),
            run.cost.map(|cost| cost.to_string()).unwrap_or_default(),
            run.prompt_snapshot.clone(),
            run.output.clone().unwrap_or_default(),
            run.error.clone().unwrap_or_default(),
            run.context_block_ids.join(";"),
            run.metadata
                .as_ref()
                .map(|metadata| serde_json::Value::Object(metadata.clone()).to_string())
                .unwrap_or_default(),
        ];
        push_record(&mut csv, record.iter().map(|cell| defuse_formula(cell)));
    }
    csv
}
