//! Export and import of the whole history: JSON in the TypeScript store's
//! format (import merges by id), and CSV for spreadsheets.

use crate::model::runs_json::{parse_runs, settle_interrupted};
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

/// The runs as a JSON array (one run per line), which the TypeScript store
/// and [`import_json`] read.
pub fn export_json(runs: &RunList) -> String {
    export_json_parts(runs).collect()
}

/// Runs per part of [`export_json_parts`].
const RUNS_PER_PART: usize = 1_000;

/// [`export_json`]'s text in parts of at most 1,000 runs, made one at a time:
/// a backup of 100,000 runs goes to the browser part by part (as a `Blob`)
/// instead of as one string of ~170 MB in the app's memory.
pub fn export_json_parts(runs: &RunList) -> impl Iterator<Item = String> + '_ {
    let parts = runs.len().div_ceil(RUNS_PER_PART);
    let empty = (parts == 0).then(|| "[]\n".to_owned());
    let mut runs = runs.iter();
    let filled = (0..parts).map(move |part| {
        let mut text = String::new();
        for (index, run) in runs.by_ref().take(RUNS_PER_PART).enumerate() {
            text.push_str(if part == 0 && index == 0 {
                "[\n"
            } else {
                ",\n"
            });
            text.push_str(&serde_json::to_string(&**run).expect("a run always serializes"));
        }
        if part + 1 == parts {
            text.push_str("\n]\n");
        }
        text
    });
    empty.into_iter().chain(filled)
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
    let mut csv = csv_header();
    csv.push_str(&csv_rows(runs.iter().map(|run| &**run)));
    csv
}

/// The CSV export's header line (see [`export_csv`]).
pub fn csv_header() -> String {
    let mut csv = String::new();
    push_record(&mut csv, CSV_COLUMNS);
    csv
}

/// The CSV export's lines for `runs` (see [`export_csv`]), without the
/// header: a large history is exported part by part.
pub fn csv_rows<'r>(runs: impl IntoIterator<Item = &'r PromptRun>) -> String {
    let mut csv = String::new();
    for run in runs {
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
            run.cost.map(crate::text::shortest).unwrap_or_default(),
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
