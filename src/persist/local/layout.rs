//! How runs are laid out in storage: the keys, the versioned manifest, and
//! the compressed encoding of each run.
//!
//! ```text
//! prompt-runs:v1                 manifest: {"schema":1,"activeRunId":…,"legacyImported":…}
//! prompt-runs:v1:run:<run id>    one run: "lz16:" + lz-string UTF-16 compressed JSON
//! prompt-runs                    legacy: the TypeScript store's plain JSON array (read once)
//! prompt-runs:backup:<ms>:<key>  original bytes of anything that could not be read
//! prompt-runs:v2:removed         ids of runs removed by a page closed before its save reached IndexedDB
//! prompt-runs:v2:cleared         present when that page had cleared the whole history
//! prompt-runs:v2:experiment:<id> an experiment edited in a page closed before its save reached IndexedDB
//! ```
//!
//! With the history in IndexedDB ([`persist_history`](crate::persist::persist_history)),
//! the manifest says so (`{"schema":2,"store":"indexedDB","runs":N}`): an
//! older build then leaves everything alone, and a database found empty
//! while the manifest counts runs means the browser deleted it. Run keys are
//! then only a way in: what an older build saved, or what a page closed in
//! the middle of a save wrote at the last moment; both move into the database.
//!
//! One key per run rather than one blob: a save rewrites only the runs that
//! changed (streaming a run does not rewrite 10,000 others), a quota error
//! leaves every stored key intact, a corrupt value loses one run rather than
//! the history, and two tabs never overwrite each other's runs because
//! neither ever rewrites a run it did not change.

use crate::model::PromptRun;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The layout version of a history kept in localStorage.
pub const SCHEMA_VERSION: u32 = 1;

/// The layout version of a history kept in IndexedDB, with only this
/// manifest (and, briefly, runs on their way in) in localStorage.
pub const INDEXED_DB_SCHEMA_VERSION: u32 = 2;

const COMPRESSED_TAG: &str = "lz16:";

/// The keys under one prefix (by default `prompt-runs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageKeys {
    prefix: String,
}

impl Default for StorageKeys {
    fn default() -> Self {
        StorageKeys::new("prompt-runs")
    }
}

impl StorageKeys {
    /// Keys under `prefix`; two apps on one origin use different prefixes.
    pub fn new(prefix: impl Into<String>) -> StorageKeys {
        StorageKeys {
            prefix: prefix.into(),
        }
    }

    /// The manifest: schema version, active run, legacy import done.
    pub fn manifest(&self) -> String {
        format!("{}:v{SCHEMA_VERSION}", self.prefix)
    }

    /// The key of run `id`.
    pub fn run(&self, id: &str) -> String {
        format!("{}{id}", self.run_prefix())
    }

    /// The run id a key names, if it is a run key.
    pub fn run_id<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(&self.run_prefix())
    }

    /// Runs removed in a page that was closed before its save reached
    /// IndexedDB: a JSON array of their ids.
    pub fn unsaved_removals(&self) -> String {
        format!("{}:v{INDEXED_DB_SCHEMA_VERSION}:removed", self.prefix)
    }

    /// Present when a page closed before its save reached IndexedDB had
    /// cleared the whole history (before the runs saved with it).
    pub fn unsaved_clear(&self) -> String {
        format!("{}:v{INDEXED_DB_SCHEMA_VERSION}:cleared", self.prefix)
    }

    /// An experiment edited in a page closed before its save reached
    /// IndexedDB: its JSON, moved in when the experiments are next read.
    pub fn unsaved_experiment(&self, id: &str) -> String {
        format!("{}{id}", self.unsaved_experiment_prefix())
    }

    /// The id of the experiment last opened in this browser, so that the
    /// Experiments page opens it again rather than the first.
    pub fn open_experiment(&self) -> String {
        format!(
            "{}:v{INDEXED_DB_SCHEMA_VERSION}:open-experiment",
            self.prefix
        )
    }

    /// The experiment id a key names, if it is an unsaved experiment's key.
    pub fn unsaved_experiment_id<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(&self.unsaved_experiment_prefix())
    }

    fn unsaved_experiment_prefix(&self) -> String {
        format!("{}:v{INDEXED_DB_SCHEMA_VERSION}:experiment:", self.prefix)
    }

    /// The prefix itself: also the name of the history's IndexedDB database.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where the TypeScript store kept its history: a plain JSON array of runs.
    pub fn legacy(&self) -> String {
        self.prefix.clone()
    }

    /// A backup key for `original`, made at `unix_millis`; `attempt` makes it unique.
    pub fn backup(&self, original: &str, unix_millis: i64, attempt: u32) -> String {
        match attempt {
            0 => format!("{}:backup:{unix_millis}:{original}", self.prefix),
            n => format!("{}:backup:{unix_millis}-{n}:{original}", self.prefix),
        }
    }

    /// True for keys this layout owns (so storage events of other apps are ignored).
    pub fn owns(&self, key: &str) -> bool {
        key == self.legacy() || key.starts_with(&format!("{}:", self.prefix))
    }

    fn run_prefix(&self) -> String {
        format!("{}:v{SCHEMA_VERSION}:run:", self.prefix)
    }
}

/// The manifest stored under [`StorageKeys::manifest`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Layout version; a larger one than [`SCHEMA_VERSION`] is never overwritten.
    pub schema: u32,
    /// The run the user was looking at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_run_id: Option<String>,
    /// Whether the legacy array was already merged (so runs the user removed
    /// since do not come back).
    #[serde(default)]
    pub legacy_imported: bool,
    /// Schema 2: where the runs are (`"indexedDB"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Schema 2: how many runs the database held at the last save, to tell
    /// a database the browser deleted from a history never made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<u64>,
}

/// Why a stored run could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The compressed text does not decompress.
    #[error("its compressed data is damaged")]
    Damaged,
    /// The JSON is invalid or not a run.
    #[error("it is not a valid run: {0}")]
    NotARun(String),
}

/// A run as stored: compressed JSON.
pub fn encode_run(run: &PromptRun) -> String {
    let json = serde_json::to_string(run).expect("a run always serializes");
    format!(
        "{COMPRESSED_TAG}{}",
        lz_str::compress_to_utf16(json.as_str())
    )
}

/// A stored run back; plain JSON (hand-written or older) is read too.
pub fn decode_run(stored: &str) -> Result<PromptRun, DecodeError> {
    let json = match stored.strip_prefix(COMPRESSED_TAG) {
        Some(compressed) => {
            super::lz16::decompress_utf16(compressed).ok_or(DecodeError::Damaged)?
        }
        None => stored.to_owned(),
    };
    serde_json::from_str(&json).map_err(|error| DecodeError::NotARun(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_documented_and_distinct() {
        let keys = StorageKeys::default();
        assert_eq!(keys.manifest(), "prompt-runs:v1");
        assert_eq!(keys.run("abc"), "prompt-runs:v1:run:abc");
        assert_eq!(keys.run_id("prompt-runs:v1:run:abc"), Some("abc"));
        assert_eq!(keys.run_id("prompt-runs:v1"), None);
        let spilled = keys.unsaved_experiment("exp-1");
        assert_eq!(spilled, "prompt-runs:v2:experiment:exp-1");
        assert_eq!(keys.unsaved_experiment_id(&spilled), Some("exp-1"));
        assert_eq!(keys.run_id(&spilled), None, "never taken for a run");
        assert_eq!(keys.unsaved_experiment_id(&keys.run("exp-1")), None);
        assert_eq!(keys.legacy(), "prompt-runs");
        assert_eq!(
            keys.backup("prompt-runs:v1", 5, 0),
            "prompt-runs:backup:5:prompt-runs:v1"
        );
        assert_ne!(keys.backup("k", 5, 0), keys.backup("k", 5, 1));
        assert!(keys.owns("prompt-runs") && keys.owns("prompt-runs:v1:run:x"));
        assert!(!keys.owns("prompt-runs-other") && !keys.owns("theme"));
    }

    #[test]
    fn a_run_round_trips_compressed_and_is_smaller() {
        let mut run = PromptRun::pending("r1", "gpt-4o", "Summarise the report");
        run.output = Some("The quick brown fox jumps over the lazy dog. ".repeat(25));
        let stored = encode_run(&run);
        assert!(stored.starts_with("lz16:"));
        assert_eq!(decode_run(&stored).unwrap(), run);
        let json_units = serde_json::to_string(&run).unwrap().encode_utf16().count();
        assert!(
            stored.encode_utf16().count() * 2 < json_units,
            "compression at least halves a repetitive run"
        );
    }

    #[test]
    fn plain_json_is_read_and_damage_is_reported() {
        let run = PromptRun::pending("r1", "m", "p");
        assert_eq!(
            decode_run(&serde_json::to_string(&run).unwrap()).unwrap(),
            run
        );
        assert!(matches!(
            decode_run("{\"id\": 3}"),
            Err(DecodeError::NotARun(_))
        ));
        let stored = encode_run(&run);
        let truncated: String = stored.chars().take(stored.chars().count() / 2).collect();
        assert!(decode_run(&truncated).is_err());
    }
}
