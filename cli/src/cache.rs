//! The request cache: each answer kept on disk under a digest of what was
//! asked, so that running an experiment again sends only the requests that
//! changed and pays only for those.
//!
//! The key is a SHA-256 of the scope (which gateway answered), the model,
//! the sampling parameters, the rendered prompt, and the repeat: repeats of
//! one cell are asked separately on purpose (to see how answers vary), so
//! each keeps its own answer. An entry is one JSON file,
//! `<dir>/<2 hex digits>/<62 more>.json`, holding what the key was made of
//! (for a person looking) and the run that answered. Only answers are kept:
//! a failed request is sent again next time.
//!
//! A hit becomes a new run of its cell, marked `"cached": true` in its
//! metadata, with the answer, tokens, cost and timings of the run it was
//! kept from: the grid compares models by what their answers cost, though
//! nothing was paid for it this time (docs/command-line.md, "Cache").

use prompt_runs::api::wire::ExecuteParameters;
use prompt_runs::experiment::PlannedCell;
use prompt_runs::model::{
    PromptRun, RunStatus, Timestamp, COST_SOURCE_KEY, METRICS_KEY, PARAMETERS_KEY,
    SERVER_RUN_ID_KEY,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The metadata key marking a run answered from the cache.
pub const CACHED_KEY: &str = "cached";

/// The version of the key's recipe: a change to what goes into a key
/// changes this, so that no old entry answers a new question.
const KEY_VERSION: u32 = 1;

/// What a cache key is made of, as it is hashed and as its entry records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyParts {
    /// The version of the key's recipe (changed when what goes into a key changes).
    pub version: u32,
    /// Who answers: [`Gateway::cache_scope`](crate::gateway::Gateway::cache_scope).
    pub scope: String,
    /// The model.
    pub model: String,
    /// The sampling parameters sent (all absent: the server's defaults).
    pub parameters: ExecuteParameters,
    /// The prompt as sent, rendered from its row.
    pub prompt: String,
    /// Which repeat of its cell, from 0.
    pub repeat: u32,
}

impl KeyParts {
    /// The key of `cell` of an experiment with `parameters`, answered by `scope`.
    pub fn of(scope: &str, cell: &PlannedCell, parameters: &ExecuteParameters) -> KeyParts {
        KeyParts {
            version: KEY_VERSION,
            scope: scope.to_owned(),
            model: cell.model_id.to_string(),
            parameters: parameters.clone(),
            prompt: cell.prompt.to_string(),
            repeat: cell.repeat,
        }
    }

    /// The digest, as 64 hex digits.
    pub fn digest(&self) -> String {
        // JSON of a struct: its fields in their declared order, so the same
        // parts always make the same bytes.
        let bytes = serde_json::to_vec(self).expect("key parts always serialize");
        Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// One entry's file.
#[derive(Serialize, Deserialize)]
struct Entry {
    key: KeyParts,
    run: PromptRun,
}

/// A cache directory.
#[derive(Clone, Debug)]
pub struct RequestCache {
    dir: PathBuf,
}

impl RequestCache {
    /// The cache in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<RequestCache, String> {
        fs::create_dir_all(dir)
            .map_err(|error| format!("cannot use {} as the cache: {error}", dir.display()))?;
        Ok(RequestCache {
            dir: dir.to_owned(),
        })
    }

    /// Where the cache lives unless told: the platform's cache directory
    /// (`~/.cache/prompt-runs/requests` on Linux), else `.prompt-runs-cache`.
    pub fn default_dir() -> PathBuf {
        dirs::cache_dir().map_or_else(
            || PathBuf::from(".prompt-runs-cache"),
            |dir| dir.join("prompt-runs").join("requests"),
        )
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir
            .join(&digest[..2])
            .join(format!("{}.json", &digest[2..]))
    }

    /// The answer kept for `key`, if any. An entry that cannot be read, or
    /// whose key is not this one, counts as none (it is replaced when the
    /// request is answered again).
    pub fn get(&self, key: &KeyParts) -> Option<PromptRun> {
        let text = fs::read_to_string(self.path(&key.digest())).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        (entry.key == *key && entry.run.status == RunStatus::Success).then_some(entry.run)
    }

    /// Keeps `run`'s answer under `key`: written whole to a temporary file,
    /// then renamed, so that an interrupted write leaves no half entry.
    pub fn put(&self, key: &KeyParts, run: &PromptRun) -> io::Result<()> {
        let path = self.path(&key.digest());
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let entry = Entry {
            key: key.clone(),
            run: run.clone(),
        };
        let text = serde_json::to_string(&entry).expect("an entry always serializes");
        let partial = path.with_extension(format!("json.{}.partial", std::process::id()));
        fs::write(&partial, text)?;
        fs::rename(&partial, &path)
    }
}

/// The run a cache hit makes for `cell` of experiment `experiment_id`: a new
/// run of that cell (its own id, tagged as its cell, finished now) with the
/// kept run's answer, usage, cost and timings, marked [`CACHED_KEY`].
pub fn cached_run(cell: &PlannedCell, experiment_id: &str, kept: &PromptRun) -> PromptRun {
    let mut run = cell.pending_run(experiment_id);
    let now = Timestamp::now();
    run.status = RunStatus::Success;
    run.started_at = now.clone();
    run.completed_at = Some(now);
    run.duration_ms = kept.duration_ms;
    run.input_tokens = kept.input_tokens;
    run.output_tokens = kept.output_tokens;
    run.total_tokens = kept.total_tokens;
    run.cost = kept.cost;
    run.output = kept.output.clone();
    let metadata = run.metadata.get_or_insert_with(Default::default);
    if let Some(kept) = &kept.metadata {
        for key in [
            METRICS_KEY,
            COST_SOURCE_KEY,
            SERVER_RUN_ID_KEY,
            PARAMETERS_KEY,
        ] {
            if let Some(value) = kept.get(key) {
                metadata.insert(key.to_owned(), value.clone());
            }
        }
    }
    metadata.insert(CACHED_KEY.to_owned(), true.into());
    run
}

/// Whether `run` was answered from the cache.
pub fn is_cached(run: &PromptRun) -> bool {
    run.metadata
        .as_ref()
        .and_then(|metadata| metadata.get(CACHED_KEY))
        .is_some_and(|cached| cached == &serde_json::Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_runs::experiment::{example, plan};

    fn parts() -> KeyParts {
        let experiment = example();
        let cell = plan(&experiment, &[]).unwrap().cells[0].clone();
        KeyParts::of(
            "gateway http://127.0.0.1:8000",
            &cell,
            &experiment.parameters,
        )
    }

    #[test]
    fn a_key_changes_with_every_part_and_only_with_them() {
        let base = parts();
        assert_eq!(
            base.digest(),
            parts().digest(),
            "the same parts, the same key"
        );
        assert_eq!(base.digest().len(), 64);
        let changed = [
            KeyParts {
                scope: "gateway http://127.0.0.1:8001".into(),
                ..base.clone()
            },
            KeyParts {
                model: "offline-slow".into(),
                ..base.clone()
            },
            KeyParts {
                parameters: ExecuteParameters {
                    temperature: Some(0.5),
                    ..ExecuteParameters::default()
                },
                ..base.clone()
            },
            KeyParts {
                parameters: ExecuteParameters {
                    max_tokens: Some(64),
                    ..ExecuteParameters::default()
                },
                ..base.clone()
            },
            KeyParts {
                prompt: format!("{} ", base.prompt),
                ..base.clone()
            },
            KeyParts {
                repeat: 1,
                ..base.clone()
            },
            KeyParts {
                version: KEY_VERSION + 1,
                ..base.clone()
            },
        ];
        for parts in changed {
            assert_ne!(parts.digest(), base.digest(), "{parts:?}");
        }
    }

    #[test]
    fn an_answer_kept_is_found_by_its_key_only_and_a_broken_entry_is_none() {
        let dir =
            std::env::temp_dir().join(format!("prompt-runs-cache-test-{}", std::process::id()));
        let cache = RequestCache::open(&dir).unwrap();
        let key = parts();
        assert_eq!(cache.get(&key), None, "empty");
        let mut answered = PromptRun::pending("r1", "offline-echo", key.prompt.as_str());
        answered.status = RunStatus::Success;
        answered.output = Some("Paris".into());
        cache.put(&key, &answered).unwrap();
        assert_eq!(cache.get(&key).unwrap().output.as_deref(), Some("Paris"));
        let other = KeyParts {
            repeat: 2,
            ..key.clone()
        };
        assert_eq!(cache.get(&other), None, "another key misses");
        fs::write(cache.path(&key.digest()), "{not json").unwrap();
        assert_eq!(cache.get(&key), None, "a broken entry is a miss");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_hit_is_a_new_finished_run_of_its_cell_marked_cached() {
        let experiment = example();
        let cell = plan(&experiment, &[]).unwrap().cells[1].clone();
        let mut kept = PromptRun::pending("old", "offline-echo", &*cell.prompt);
        kept.status = RunStatus::Success;
        kept.output = Some("Tokyo".into());
        kept.cost = Some(0.002);
        kept.duration_ms = Some(120);
        let mut metadata = serde_json::Map::new();
        metadata.insert(SERVER_RUN_ID_KEY.into(), "run_1".into());
        metadata.insert("rating".into(), 1.into());
        kept.metadata = Some(metadata);
        let run = cached_run(&cell, &experiment.id, &kept);
        assert_ne!(run.id, "old");
        assert_eq!(run.status, RunStatus::Success);
        assert_eq!(
            (run.output.as_deref(), run.cost, run.duration_ms),
            (Some("Tokyo"), Some(0.002), Some(120))
        );
        let tag = run.experiment_cell().unwrap();
        assert_eq!(
            (tag.experiment_id, tag.row, tag.repeat),
            (experiment.id.as_str(), 1, 0)
        );
        assert!(is_cached(&run));
        let metadata = run.metadata.as_ref().unwrap();
        assert_eq!(metadata[SERVER_RUN_ID_KEY], "run_1");
        assert!(
            metadata.get("rating").is_none(),
            "a judgement is not an answer"
        );
        assert!(!is_cached(&kept));
    }
}
