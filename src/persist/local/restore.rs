//! Loading the history from storage: the current layout, the legacy array,
//! and everything that can go wrong with either, without losing a byte.

use super::backend::{StorageBackend, StorageError};
use super::layout::{decode_run, Manifest, StorageKeys, INDEXED_DB_SCHEMA_VERSION, SCHEMA_VERSION};
use crate::model::runs_json::{parse_runs, settle_interrupted};
use crate::model::{PromptRun, Timestamp};
use std::collections::HashMap;

/// What was found in storage.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    /// Readable runs, the latest start first.
    pub runs: Vec<PromptRun>,
    /// The active run as saved.
    pub active_run_id: Option<String>,
    /// One sentence per thing that could not be read (kept under a backup key).
    pub problems: Vec<String>,
    /// Set when storage must not be written: why.
    pub read_only: Option<String>,
    /// Legacy runs were merged in and still have to be saved in this layout.
    pub legacy_merged: bool,
}

/// Reads the history under `keys`. Never writes except to keep unreadable
/// data under backup keys (and to remove a damaged run once its backup exists).
pub(crate) fn restore(backend: &dyn StorageBackend, keys: &StorageKeys) -> Restored {
    restore_with(backend, keys, false)
}

/// The runs under `keys` on their way into IndexedDB: as [`restore`], but a
/// manifest of the IndexedDB layout is no reason to stop (the run keys are
/// what a closed page left), and the legacy array is read unless merged.
pub(crate) fn restore_for_indexed_db(backend: &dyn StorageBackend, keys: &StorageKeys) -> Restored {
    restore_with(backend, keys, true)
}

fn restore_with(backend: &dyn StorageBackend, keys: &StorageKeys, moving: bool) -> Restored {
    let mut restored = Restored::default();
    if let Err(error) = read_into(backend, keys, &mut restored, moving) {
        restored.read_only = Some(format!(
            "Saved history could not be read ({error}); this page keeps runs in memory only and will not write to storage."
        ));
        restored.runs.clear();
    }
    restored
}

fn read_into(
    backend: &dyn StorageBackend,
    keys: &StorageKeys,
    restored: &mut Restored,
    moving: bool,
) -> Result<(), StorageError> {
    let manifest_key = keys.manifest();
    let manifest = match backend.get(&manifest_key)? {
        None => Manifest::default(),
        Some(text) => match read_manifest(&text) {
            Ok(manifest) if moving && manifest.schema == INDEXED_DB_SCHEMA_VERSION => manifest,
            Ok(manifest) if manifest.schema > SCHEMA_VERSION => {
                restored.read_only = Some(format!(
                    "Saved history was written by a newer version of prompt-runs (storage schema {}, this version knows {SCHEMA_VERSION}). It was left untouched and nothing will be saved; open the newer version to see it.",
                    manifest.schema
                ));
                return Ok(());
            }
            Ok(manifest) => manifest,
            Err(reason) => {
                let backup = back_up(backend, keys, &manifest_key, &text)?;
                restored.problems.push(format!("The saved settings were unreadable ({reason}); the original is kept under \"{backup}\"."));
                Manifest::default()
            }
        },
    };
    restored.active_run_id = manifest.active_run_id;

    let mut runs: HashMap<String, PromptRun> = HashMap::new();
    for key in backend.keys()? {
        let Some(id) = keys.run_id(&key) else {
            continue;
        };
        let Some(stored) = backend.get(&key)? else {
            continue;
        };
        match decode_run(&stored) {
            Ok(run) if run.id == id => {
                runs.insert(run.id.clone(), run);
            }
            outcome => {
                let reason = match outcome {
                    Ok(run) => format!("it holds run {} instead", run.id),
                    Err(error) => error.to_string(),
                };
                match back_up(backend, keys, &key, &stored) {
                    Ok(backup) => {
                        backend.remove(&key)?;
                        restored.problems.push(format!("Saved run {id} could not be read ({reason}); its data is kept under \"{backup}\"."));
                    }
                    Err(_) => restored.problems.push(format!(
                        "Saved run {id} could not be read ({reason}); storage is too full to back it up, so it was left where it is."
                    )),
                }
            }
        }
    }

    if !manifest.legacy_imported {
        if let Some(text) = backend.get(&keys.legacy())? {
            restored.legacy_merged = true;
            let parsed = parse_runs(&text);
            let (legacy_runs, problems) = match parsed {
                Ok(parsed) => (parsed.runs, parsed.problems),
                Err(reason) => (Vec::new(), vec![reason]),
            };
            if !problems.is_empty() {
                let kept_under =
                    back_up(backend, keys, &keys.legacy(), &text).unwrap_or_else(|_| keys.legacy());
                restored.problems.push(format!(
                    "Part of the older saved history could not be read ({}); the original is kept under \"{kept_under}\".",
                    problems.join("; ")
                ));
            }
            for run in legacy_runs {
                match runs.get(&run.id) {
                    Some(held) if !run.supersedes(held) => {}
                    _ => {
                        runs.insert(run.id.clone(), run);
                    }
                }
            }
        }
    }

    let mut runs: Vec<PromptRun> = runs.into_values().collect();
    settle_interrupted(&mut runs);
    // Ids are unique, so the order is total and an unstable sort gives the same (with less code).
    runs.sort_unstable_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    restored.runs = runs;
    Ok(())
}

fn read_manifest(text: &str) -> Result<Manifest, String> {
    serde_json::from_str::<Manifest>(text).map_err(|error| error.to_string())
}

/// Copies `value` to a backup key that did not exist before and returns it.
fn back_up(
    backend: &dyn StorageBackend,
    keys: &StorageKeys,
    key: &str,
    value: &str,
) -> Result<String, StorageError> {
    let now = Timestamp::now().unix_millis().unwrap_or_default();
    let mut attempt = 0;
    loop {
        let backup = keys.backup(key, now, attempt);
        if backend.get(&backup)?.is_none() {
            backend.set(&backup, value)?;
            return Ok(backup);
        }
        attempt += 1;
    }
}
