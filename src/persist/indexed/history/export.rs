//! The whole history out to a file from storage: what a backup of a large
//! history needs, since cold runs hold only the start of their text in
//! memory (see [`RunsStore::is_run_cold`]).

use super::HistoryPersistence;
use crate::model::PromptRun;
use crate::persist::{csv_header, csv_rows, export_csv, export_json_parts};

/// Stored runs read per step of an export.
const EXPORT_STEP: usize = 1_000;

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// A JSON array, one run per line (what [`export_json`](crate::persist::export_json) writes).
    Json,
    /// CSV (what [`export_csv`](crate::persist::export_csv) writes).
    Csv,
}

impl HistoryPersistence {
    /// The whole history as the parts of a file, read from storage once every
    /// change is saved: a history of 100,000 runs is exported without holding
    /// every answer in memory, and without waiting for older runs to load.
    /// Falls back to the store's runs when the history is not in IndexedDB.
    pub async fn export(&self, format: ExportFormat) -> Result<Vec<String>, String> {
        let inner = &self.inner;
        let generation = inner.state.borrow().generation;
        let Some(db) = self.current_db(generation) else {
            let runs = inner.store.runs_untracked();
            return Ok(match format {
                ExportFormat::Json => export_json_parts(&runs).collect(),
                ExportFormat::Csv => vec![export_csv(&runs)],
            });
        };
        self.clone().save().await;
        for _ in 0..500 {
            if self.is_saved() {
                break;
            }
            gloo_timers::future::TimeoutFuture::new(20).await;
        }
        if !self.is_saved() {
            return Err(
                "some runs could not be saved first; the export would miss them".to_owned(),
            );
        }
        let mut parts = match format {
            ExportFormat::Json => vec!["[".to_owned()],
            ExportFormat::Csv => vec![csv_header()],
        };
        let (mut after, mut first) = (None, true);
        loop {
            let (texts, next) = db
                .texts(after.as_ref(), EXPORT_STEP)
                .await
                .map_err(|error| error.to_string())?;
            let part = match format {
                ExportFormat::Json => {
                    let mut part = String::new();
                    for text in &texts {
                        part.push_str(if first { "\n" } else { ",\n" });
                        part.push_str(text);
                        first = false;
                    }
                    part
                }
                ExportFormat::Csv => {
                    let runs: Vec<PromptRun> = texts
                        .iter()
                        .filter_map(|text| serde_json::from_str(text).ok())
                        .collect();
                    csv_rows(&runs)
                }
            };
            parts.push(part);
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if format == ExportFormat::Json {
            parts.push(if first { "]\n" } else { "\n]\n" }.to_owned());
        }
        Ok(parts)
    }
}

impl HistoryPersistence {
    /// The ids of the stored runs whose text contains `needle` (ignoring
    /// case): how a search reaches cold runs, whose text is in storage. It
    /// looks at each run's whole JSON, so it also finds the needle in a
    /// run's other fields (its model, its metadata).
    pub async fn search_stored(
        &self,
        needle: &str,
    ) -> Result<std::collections::HashSet<String>, String> {
        let generation = self.inner.state.borrow().generation;
        let db = self
            .current_db(generation)
            .ok_or("the history is not in storage")?;
        let needle: String = js_sys::JsString::from(needle.trim()).to_lower_case().into();
        let (mut found, mut after) = (std::collections::HashSet::new(), None);
        loop {
            let (ids, next) = db
                .matching_ids(&needle, after.as_ref(), EXPORT_STEP)
                .await
                .map_err(|error| error.to_string())?;
            found.extend(ids);
            match next {
                Some(next) => after = Some(next),
                None => return Ok(found),
            }
        }
    }
}
