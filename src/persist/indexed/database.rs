//! The history's IndexedDB database: its object stores, how a run is kept in
//! one, and the reads and writes persistence makes.
//!
//! ```text
//! database "<prefix>" (default "prompt-runs"), version 1
//!   runs      key "id"; value {id, startedAt: ms, modelId, status, run: "<the run's JSON>"}
//!             indexes: "newest" on [startedAt, id], "modelId", "status"
//!   meta      "manifest" → the history's manifest as JSON (active run, summary, last backup)
//!   backups   "<ms>:<id>" → a record that could not be read, as it was
//!   outbox    key "id": runs changed here and not yet on the server (history sync)
//!   experiments  key "id"; value {id, experiment: "<the experiment's JSON>"}
//! ```
//!
//! A run is kept as its JSON text (the same as an export) beside the few
//! fields that are indexed: reading one is one string and one parse, and
//! what is stored reads in the browser's developer tools.

use super::idb::{self, DbError, Durability, Transaction};
use crate::experiment::Experiment;
use crate::model::{PromptRun, Timestamp};
use crate::store::HistorySummary;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbCursorDirection, IdbDatabase, IdbFactory, IdbKeyRange};

/// The database version this build creates and reads.
pub const DATABASE_VERSION: u32 = 1;

const RUNS: &str = "runs";
const META: &str = "meta";
const BACKUPS: &str = "backups";
/// Runs changed here and not yet uploaded, when the history syncs with a server.
pub(crate) const OUTBOX: &str = "outbox";
/// Experiment definitions (their inputs included), keyed by experiment id.
pub(crate) const EXPERIMENTS: &str = "experiments";
/// The index that orders runs newest first (read backwards).
const NEWEST: &str = "newest";
const MANIFEST: &str = "manifest";
/// The meta key of [`SyncMeta`].
#[cfg(feature = "client")]
const SYNC: &str = "sync";

/// What the database keeps beside the runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DatabaseManifest {
    /// The run the user was looking at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_run_id: Option<String>,
    /// Counts and totals of every stored run, as of the last save: what the
    /// first screen shows before the older runs are loaded. `None` when they
    /// were not known (saved while a history of unknown totals was loading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<HistorySummary>,
    /// The last backup made from this browser, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<BackupRecord>,
}

/// When the last backup was made and how big the history was then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    /// Milliseconds since the Unix epoch.
    pub at_unix_millis: i64,
    /// Runs in the history when it was made.
    pub runs: u64,
}

/// Where the history syncs (server and workspace) and how far the changes
/// feed was read: meta key `sync`. Another server or workspace starts over.
#[cfg(feature = "client")]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SyncMeta {
    pub(crate) server: String,
    pub(crate) workspace: String,
    pub(crate) cursor: String,
}

/// A run on its way to the server: its JSON as stored when read, or its deletion.
#[cfg(feature = "client")]
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Outgoing {
    pub(crate) id: String,
    /// `None` for a deletion.
    pub(crate) json: Option<String>,
    pub(crate) deleted_at: Option<String>,
}

/// An outbox entry: `{id}`, or `{id, deletedAt}` for a deletion.
fn outgoing(id: &str, deleted_at: Option<&Timestamp>) -> JsValue {
    let entry = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&entry, &"id".into(), &id.into());
    if let Some(at) = deleted_at {
        let _ = js_sys::Reflect::set(&entry, &"deletedAt".into(), &at.as_str().into());
    }
    entry.into()
}

/// Where a run sits in the newest-first order: `[startedAt ms, id]`.
#[derive(Clone, Debug)]
pub(crate) struct OrderKey(JsValue);

/// A stored record that could not be read.
#[derive(Debug)]
pub(crate) struct Unreadable {
    key: JsValue,
    value: JsValue,
    /// Its id, or its key as text.
    pub(crate) id: String,
    /// Why it could not be read.
    pub(crate) reason: String,
}

/// Runs read in one go, in newest-first order.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub(crate) runs: Vec<PromptRun>,
    pub(crate) unreadable: Vec<Unreadable>,
    /// Where the next older chunk starts; `None` once no older run is left.
    pub(crate) next: Option<OrderKey>,
}

/// What the first screen needs, read in one transaction.
#[derive(Debug, Default)]
pub(crate) struct FirstScreen {
    pub(crate) manifest: Option<DatabaseManifest>,
    /// How many runs are stored, when they had to be counted (see
    /// [`RunDatabase::first_screen`]).
    pub(crate) counted: Option<u64>,
    pub(crate) newest: Chunk,
}

/// One save: what to drop, put and delete, and the manifest, written in one
/// transaction (whole or not at all).
#[derive(Debug, Default)]
pub(crate) struct Save {
    /// Drop every stored run first.
    pub(crate) cleared: bool,
    pub(crate) puts: Vec<Arc<PromptRun>>,
    /// Cold runs that changed (see [`RunsStore::is_run_cold`](crate::store::RunsStore::is_run_cold)):
    /// written with their text from the stored copy.
    pub(crate) cold_puts: Vec<Arc<PromptRun>>,
    pub(crate) deletes: Vec<String>,
    pub(crate) manifest: Option<DatabaseManifest>,
    /// The history syncs with a server: what this save changes goes to the
    /// outbox too, in the same transaction.
    pub(crate) outbox: bool,
}

/// An open history database.
pub(crate) struct RunDatabase {
    db: IdbDatabase,
}

impl RunDatabase {
    /// Opens (creating or upgrading) database `name`; also says whether it
    /// had to be created.
    pub(crate) async fn open(
        factory: &IdbFactory,
        name: &str,
    ) -> Result<(RunDatabase, bool), DbError> {
        let opened = idb::open(factory, name, DATABASE_VERSION, upgrade).await?;
        Ok((RunDatabase { db: opened.db }, opened.created))
    }

    /// A connection opened elsewhere at [`DATABASE_VERSION`] (the head
    /// start in `index.html`): opening at that version means its stores are
    /// this build's.
    pub(crate) fn from_connection(db: IdbDatabase) -> RunDatabase {
        RunDatabase { db }
    }

    /// The connection, e.g. to listen for `versionchange`.
    pub(crate) fn connection(&self) -> &IdbDatabase {
        &self.db
    }

    /// The manifest and the newest `count` runs, in one transaction; the
    /// runs are counted only when the manifest cannot say how many there are
    /// (it has no summary, or `must_count`): Chromium counts by walking every
    /// record, which takes most of a second at 100,000 runs.
    pub(crate) async fn first_screen(
        &self,
        count: usize,
        must_count: bool,
    ) -> Result<FirstScreen, DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS, META])?;
        let meta = transaction.store(META)?;
        let manifest = idb::request(&meta.get(&MANIFEST.into()).map_err(idb::thrown)?).await?;
        let manifest = parse_manifest(&manifest);
        let runs = transaction.store(RUNS)?;
        let newest = read_chunk(&runs, None, count).await?;
        let counted = match must_count
            || manifest
                .as_ref()
                .is_none_or(|manifest| manifest.summary.is_none())
        {
            true => Some(
                idb::request(&runs.count().map_err(idb::thrown)?)
                    .await?
                    .as_f64()
                    .unwrap_or(0.0) as u64,
            ),
            false => None,
        };
        transaction.finish().await?;
        Ok(FirstScreen {
            manifest,
            counted,
            newest,
        })
    }

    /// The first screen from what was read elsewhere in one read-only
    /// transaction (the head start in `index.html`): the manifest record and
    /// the newest `count` records, newest first. `None` when the manifest has
    /// no summary: then the runs must be counted ([`RunDatabase::first_screen`]).
    pub(crate) fn first_screen_from(
        manifest: &JsValue,
        records: Vec<JsValue>,
        count: usize,
    ) -> Option<FirstScreen> {
        let manifest = parse_manifest(manifest).filter(|manifest| manifest.summary.is_some())?;
        let next = next_page(&records, count);
        Some(FirstScreen {
            manifest: Some(manifest),
            counted: None,
            newest: chunk_of(records, next),
        })
    }

    /// Up to `count` runs older than `after`, newest first.
    pub(crate) async fn older(&self, after: &OrderKey, count: usize) -> Result<Chunk, DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS])?;
        let chunk = read_chunk(&transaction.store(RUNS)?, Some(after), count).await?;
        transaction.finish().await?;
        Ok(chunk)
    }

    /// Up to `count` stored runs older than `after` (from the newest when
    /// `None`), newest first, as their stored JSON text: an export's parts,
    /// with no run parsed on the way.
    pub(crate) async fn texts(
        &self,
        after: Option<&OrderKey>,
        count: usize,
    ) -> Result<(Vec<String>, Option<OrderKey>), DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS])?;
        let (values, next) = newest_records(&transaction.store(RUNS)?, after, count).await?;
        transaction.finish().await?;
        let texts = values
            .iter()
            .filter_map(|value| js_sys::Reflect::get(value, &"run".into()).ok()?.as_string())
            .collect();
        Ok((texts, next))
    }

    /// The ids of up to `count` stored runs older than `after` whose JSON
    /// text contains `needle_lowercase` ignoring case (with where the next
    /// step starts): searched in the browser's strings, nothing copied here
    /// but the ids found.
    pub(crate) async fn matching_ids(
        &self,
        needle_lowercase: &str,
        after: Option<&OrderKey>,
        count: usize,
    ) -> Result<(Vec<String>, Option<OrderKey>), DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS])?;
        let (values, next) = newest_records(&transaction.store(RUNS)?, after, count).await?;
        transaction.finish().await?;
        let field = |value: &JsValue, name: &str| js_sys::Reflect::get(value, &name.into()).ok();
        let found = values
            .iter()
            .filter(|value| {
                field(value, "run")
                    .and_then(|text| text.dyn_into::<js_sys::JsString>().ok())
                    .is_some_and(|text| text.to_lower_case().includes(needle_lowercase, 0))
            })
            .filter_map(|value| field(value, "id")?.as_string())
            .collect();
        Ok((found, next))
    }

    /// The stored copies of runs `ids` (`None` for those not stored, an
    /// error for those unreadable), e.g. to take in what another tab saved.
    pub(crate) async fn get(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, Option<Result<PromptRun, String>>)>, DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS])?;
        let runs = transaction.store(RUNS)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let value = idb::request(&runs.get(&id.into()).map_err(idb::thrown)?).await?;
            let run = (!value.is_undefined()).then(|| decode(&value));
            found.push((id.clone(), run));
        }
        transaction.finish().await?;
        Ok(found)
    }

    /// Every stored run's id.
    pub(crate) async fn ids(&self) -> Result<HashSet<String>, DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS])?;
        let runs = transaction.store(RUNS)?;
        let keys = idb::request(&runs.get_all_keys().map_err(idb::thrown)?).await?;
        transaction.finish().await?;
        Ok(keys
            .dyn_into::<js_sys::Array>()
            .map(|keys| keys.iter().filter_map(|key| key.as_string()).collect())
            .unwrap_or_default())
    }

    /// Writes `save` in one read-write transaction: all of it, or (on any
    /// error, a full quota included) nothing.
    pub(crate) async fn write(&self, save: &Save, durability: Durability) -> Result<(), DbError> {
        let transaction = Transaction::write(&self.db, &[RUNS, META, OUTBOX], durability)?;
        if save.cleared && save.outbox {
            // Every stored run is deleted for the server too: their ids are
            // read before they go.
            let runs = transaction.store(RUNS)?;
            let ids = idb::request(&runs.get_all_keys().map_err(idb::thrown)?).await?;
            let outbox = transaction.store(OUTBOX)?;
            let now = Timestamp::now();
            for id in js_sys::Array::from(&ids)
                .iter()
                .filter_map(|id| id.as_string())
            {
                outbox
                    .put(&outgoing(&id, Some(&now)))
                    .map_err(idb::thrown)?;
            }
        }
        let runs = transaction.store(RUNS)?;
        for held in &save.cold_puts {
            let stored =
                idb::request(&runs.get(&held.id.as_str().into()).map_err(idb::thrown)?).await?;
            // Gone from storage (another tab removed it): nothing to update.
            if let Ok(stored) = decode(&stored) {
                runs.put(&record(&crate::store::warmed(held, stored)))
                    .map_err(idb::thrown)?;
            }
        }
        let written = queue_writes(&transaction, save);
        if let Err(error) = written {
            transaction.abort();
            let _ = transaction.finish().await;
            return Err(error);
        }
        transaction.commit().await
    }

    /// Merges `runs` from elsewhere (older storage, a page closed before its
    /// save) by id, keeping the stored copy where it is as new or newer, and
    /// deletes `removed` (every other run too when `cleared`): one transaction.
    pub(crate) async fn merge(
        &self,
        runs: &[PromptRun],
        removed: &[String],
        cleared: bool,
        durability: Durability,
    ) -> Result<(), DbError> {
        let transaction = Transaction::write(&self.db, &[RUNS], durability)?;
        let store = transaction.store(RUNS)?;
        if cleared {
            idb::request(&store.clear().map_err(idb::thrown)?).await?;
        }
        for id in removed {
            idb::request(&store.delete(&id.into()).map_err(idb::thrown)?).await?;
        }
        for run in runs {
            let held =
                idb::request(&store.get(&run.id.as_str().into()).map_err(idb::thrown)?).await?;
            let keep_held = decode(&held).is_ok_and(|held| !run.supersedes(&held));
            if !keep_held {
                store.put(&record(run)).map_err(idb::thrown)?;
            }
        }
        transaction.commit().await
    }

    /// Moves unreadable records to the `backups` store (never overwritten)
    /// and out of `runs`; returns the backup key of each.
    pub(crate) async fn back_up(&self, unreadable: &[Unreadable]) -> Result<Vec<String>, DbError> {
        let transaction = Transaction::write(&self.db, &[RUNS, BACKUPS], Durability::Strict)?;
        let (runs, backups) = (transaction.store(RUNS)?, transaction.store(BACKUPS)?);
        let now = Timestamp::now().unix_millis().unwrap_or_default();
        let mut keys = Vec::with_capacity(unreadable.len());
        for record in unreadable {
            let key = format!("{now}:{}", record.id);
            // `add` refuses an existing key, so an older backup is never replaced.
            idb::request(
                &backups
                    .add_with_key(&record.value, &key.as_str().into())
                    .map_err(idb::thrown)?,
            )
            .await?;
            runs.delete(&record.key).map_err(idb::thrown)?;
            keys.push(key);
        }
        transaction.commit().await?;
        Ok(keys)
    }

    #[cfg(feature = "client")]
    /// Puts every stored run in the outbox (the history starts syncing with
    /// a server, or with another one), `step` ids per transaction; returns
    /// how many.
    pub(crate) async fn enqueue_all(&self, step: usize) -> Result<usize, DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS])?;
        let runs = transaction.store(RUNS)?;
        let ids = idb::request(&runs.get_all_keys().map_err(idb::thrown)?).await?;
        transaction.finish().await?;
        let ids: Vec<String> = js_sys::Array::from(&ids)
            .iter()
            .filter_map(|id| id.as_string())
            .collect();
        for part in ids.chunks(step.max(1)) {
            let transaction = Transaction::write(&self.db, &[OUTBOX], Durability::Default)?;
            let outbox = transaction.store(OUTBOX)?;
            for id in part {
                outbox.put(&outgoing(id, None)).map_err(idb::thrown)?;
            }
            transaction.commit().await?;
            gloo_timers::future::TimeoutFuture::new(0).await;
        }
        Ok(ids.len())
    }

    #[cfg(feature = "client")]
    /// How many runs wait in the outbox.
    pub(crate) async fn outbox_len(&self) -> Result<u64, DbError> {
        let transaction = Transaction::read(&self.db, &[OUTBOX])?;
        let count = idb::request(&transaction.store(OUTBOX)?.count().map_err(idb::thrown)?).await?;
        transaction.finish().await?;
        Ok(count.as_f64().unwrap_or(0.0) as u64)
    }

    #[cfg(feature = "client")]
    /// Up to `limit` runs from the outbox, each as the JSON text stored now
    /// (or its deletion): what one upload sends.
    pub(crate) async fn outgoing(&self, limit: usize) -> Result<Vec<Outgoing>, DbError> {
        let transaction = Transaction::read(&self.db, &[OUTBOX, RUNS])?;
        let outbox = transaction.store(OUTBOX)?;
        let entries = idb::request(
            &outbox
                .get_all_with_key_and_limit(&JsValue::UNDEFINED, limit as u32)
                .map_err(idb::thrown)?,
        )
        .await?;
        let runs = transaction.store(RUNS)?;
        let mut outgoing = Vec::new();
        for entry in js_sys::Array::from(&entries).iter() {
            let field = |name: &str| {
                js_sys::Reflect::get(&entry, &name.into())
                    .ok()
                    .and_then(|value| value.as_string())
            };
            let Some(id) = field("id") else { continue };
            let deleted_at = field("deletedAt");
            let json = match deleted_at {
                Some(_) => None,
                None => {
                    let record =
                        idb::request(&runs.get(&id.as_str().into()).map_err(idb::thrown)?).await?;
                    match js_sys::Reflect::get(&record, &"run".into())
                        .ok()
                        .and_then(|json| json.as_string())
                    {
                        Some(json) => Some(json),
                        // Gone since (its deletion will follow) or unreadable: nothing to send.
                        None => continue,
                    }
                }
            };
            outgoing.push(Outgoing {
                id,
                json,
                deleted_at,
            });
        }
        transaction.finish().await?;
        Ok(outgoing)
    }

    #[cfg(feature = "client")]
    /// The server has `sent`: each leaves the outbox unless it changed here
    /// meanwhile (then it waits for the next upload).
    pub(crate) async fn acknowledge(&self, sent: &[Outgoing]) -> Result<(), DbError> {
        let transaction = Transaction::write(&self.db, &[OUTBOX, RUNS], Durability::Default)?;
        let (outbox, runs) = (transaction.store(OUTBOX)?, transaction.store(RUNS)?);
        for item in sent {
            let key: JsValue = item.id.as_str().into();
            let entry = idb::request(&outbox.get(&key).map_err(idb::thrown)?).await?;
            let still_deleted = js_sys::Reflect::get(&entry, &"deletedAt".into())
                .ok()
                .and_then(|at| at.as_string());
            let unchanged = match &item.json {
                None => still_deleted.is_some(),
                Some(json) => {
                    let record = idb::request(&runs.get(&key).map_err(idb::thrown)?).await?;
                    still_deleted.is_none()
                        && js_sys::Reflect::get(&record, &"run".into())
                            .ok()
                            .and_then(|now| now.as_string())
                            .as_deref()
                            == Some(json.as_str())
                }
            };
            if unchanged {
                outbox.delete(&key).map_err(idb::thrown)?;
            }
        }
        transaction.commit().await
    }

    #[cfg(feature = "client")]
    /// Takes in a page of the server's changes, and where the feed stands
    /// after it, in one transaction: a run replaces the stored copy if it
    /// supersedes it; a deletion removes the run (and any upload of it still
    /// waiting: the server keeps it deleted). Returns the runs that changed
    /// what is stored and the ids deleted.
    pub(crate) async fn apply_changes(
        &self,
        changes: Vec<crate::api::wire::SyncChange>,
        sync: &SyncMeta,
    ) -> Result<(Vec<PromptRun>, Vec<String>), DbError> {
        let transaction = Transaction::write(&self.db, &[RUNS, OUTBOX, META], Durability::Default)?;
        let (runs, outbox) = (transaction.store(RUNS)?, transaction.store(OUTBOX)?);
        let (mut merged, mut deleted) = (Vec::new(), Vec::new());
        for change in changes {
            if let Some(run) = change.run {
                let held =
                    idb::request(&runs.get(&run.id.as_str().into()).map_err(idb::thrown)?).await?;
                let keep_held = decode(&held).is_ok_and(|held| !run.supersedes(&held));
                if !keep_held {
                    runs.put(&record(&run)).map_err(idb::thrown)?;
                    merged.push(run);
                }
            } else if let Some(tombstone) = change.deleted {
                let key: JsValue = tombstone.id.as_str().into();
                runs.delete(&key).map_err(idb::thrown)?;
                outbox.delete(&key).map_err(idb::thrown)?;
                deleted.push(tombstone.id);
            }
        }
        let text = serde_json::to_string(sync).expect("sync state always serializes");
        transaction
            .store(META)?
            .put_with_key(&text.into(), &SYNC.into())
            .map_err(idb::thrown)?;
        transaction.commit().await?;
        Ok((merged, deleted))
    }

    #[cfg(feature = "client")]
    /// Where the history syncs and how far it got, as last stored.
    pub(crate) async fn sync_meta(&self) -> Result<Option<SyncMeta>, DbError> {
        let transaction = Transaction::read(&self.db, &[META])?;
        let text = idb::request(
            &transaction
                .store(META)?
                .get(&SYNC.into())
                .map_err(idb::thrown)?,
        )
        .await?;
        transaction.finish().await?;
        Ok(text
            .as_string()
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    #[cfg(feature = "client")]
    /// Stores where the history syncs and how far it got.
    pub(crate) async fn set_sync_meta(&self, sync: &SyncMeta) -> Result<(), DbError> {
        let transaction = Transaction::write(&self.db, &[META], Durability::Default)?;
        let text = serde_json::to_string(sync).expect("sync state always serializes");
        transaction
            .store(META)?
            .put_with_key(&text.into(), &SYNC.into())
            .map_err(idb::thrown)?;
        transaction.commit().await
    }

    /// Every stored experiment definition, in id order: each read, or (for
    /// one that cannot be, e.g. saved by a newer version) its id and why.
    /// Unreadable ones stay stored as they are.
    pub(crate) async fn experiments(
        &self,
    ) -> Result<Vec<Result<Experiment, (String, String)>>, DbError> {
        let transaction = Transaction::read(&self.db, &[EXPERIMENTS])?;
        let store = transaction.store(EXPERIMENTS)?;
        let values = idb::request(&store.get_all().map_err(idb::thrown)?).await?;
        transaction.finish().await?;
        let values: js_sys::Array = values.dyn_into().unwrap_or_default();
        Ok(values
            .iter()
            .map(|value| decode_experiment(&value))
            .collect())
    }

    /// Saves `experiment` (its definition, inputs included), replacing the
    /// stored one with its id.
    pub(crate) async fn put_experiment(&self, experiment: &Experiment) -> Result<(), DbError> {
        let transaction = Transaction::write(&self.db, &[EXPERIMENTS], Durability::Default)?;
        let json = serde_json::to_string(experiment).expect("an experiment always serializes");
        let record = js_sys::Object::new();
        for (field, value) in [("id", experiment.id.as_str()), ("experiment", &json)] {
            let _ = js_sys::Reflect::set(&record, &field.into(), &value.into());
        }
        transaction
            .store(EXPERIMENTS)?
            .put(&record)
            .map_err(idb::thrown)?;
        transaction.commit().await
    }

    /// Deletes the experiment `id`'s definition (its runs are the history's).
    pub(crate) async fn delete_experiment(&self, id: &str) -> Result<(), DbError> {
        let transaction = Transaction::write(&self.db, &[EXPERIMENTS], Durability::Default)?;
        transaction
            .store(EXPERIMENTS)?
            .delete(&id.into())
            .map_err(idb::thrown)?;
        transaction.commit().await
    }

    /// Closes the connection (another tab's upgrade is waiting for it).
    pub(crate) fn close(&self) {
        self.db.close();
    }
}

fn queue_writes(transaction: &Transaction, save: &Save) -> Result<(), DbError> {
    let runs = transaction.store(RUNS)?;
    if save.cleared {
        runs.clear().map_err(idb::thrown)?;
    }
    for id in &save.deletes {
        runs.delete(&id.into()).map_err(idb::thrown)?;
    }
    // Requests run in the order they are made; only the transaction's end
    // is awaited, as one event per put would cost more than the puts.
    for run in &save.puts {
        runs.put(&record(run)).map_err(idb::thrown)?;
    }
    if save.outbox {
        let outbox = transaction.store(OUTBOX)?;
        let now = Timestamp::now();
        for id in &save.deletes {
            outbox.put(&outgoing(id, Some(&now))).map_err(idb::thrown)?;
        }
        for run in save.puts.iter().chain(&save.cold_puts) {
            outbox.put(&outgoing(&run.id, None)).map_err(idb::thrown)?;
        }
    }
    if let Some(manifest) = &save.manifest {
        let text = serde_json::to_string(manifest).expect("a manifest always serializes");
        transaction
            .store(META)?
            .put_with_key(&text.into(), &MANIFEST.into())
            .map_err(idb::thrown)?;
    }
    Ok(())
}

fn upgrade(db: &IdbDatabase, old_version: u32) -> Result<(), JsValue> {
    if old_version < 1 {
        let parameters = web_sys::IdbObjectStoreParameters::new();
        parameters.set_key_path(&"id".into());
        let runs = db.create_object_store_with_optional_parameters(RUNS, &parameters)?;
        let newest: js_sys::Array = ["startedAt", "id"]
            .iter()
            .map(|field| JsValue::from_str(field))
            .collect();
        runs.create_index_with_str_sequence(NEWEST, &newest)?;
        runs.create_index_with_str("modelId", "modelId")?;
        runs.create_index_with_str("status", "status")?;
        db.create_object_store(META)?;
        db.create_object_store(BACKUPS)?;
        db.create_object_store_with_optional_parameters(OUTBOX, &parameters)?;
        db.create_object_store_with_optional_parameters(EXPERIMENTS, &parameters)?;
    }
    Ok(())
}

/// Up to `count` records of `runs` older than `after` (from the newest when
/// `None`), newest first, and where the next page starts (`None` once these
/// are the last).
async fn newest_records(
    runs: &web_sys::IdbObjectStore,
    after: Option<&OrderKey>,
    count: usize,
) -> Result<(Vec<JsValue>, Option<OrderKey>), DbError> {
    let index = runs.index(NEWEST).map_err(idb::thrown)?;
    let range = after
        .map(|OrderKey(key)| IdbKeyRange::upper_bound_with_open(key, true))
        .transpose()
        .map_err(idb::thrown)?;
    let values = idb::collect(&index, range.as_ref(), IdbCursorDirection::Prev, count).await?;
    let next = next_page(&values, count);
    Ok((values, next))
}

async fn read_chunk(
    runs: &web_sys::IdbObjectStore,
    after: Option<&OrderKey>,
    count: usize,
) -> Result<Chunk, DbError> {
    let (values, next) = newest_records(runs, after, count).await?;
    Ok(chunk_of(values, next))
}

/// Decodes records read newest first; those that cannot be read are set
/// aside with why, to be backed up.
fn chunk_of(values: Vec<JsValue>, next: Option<OrderKey>) -> Chunk {
    let mut chunk = Chunk {
        next,
        ..Chunk::default()
    };
    for value in values {
        match decode(&value) {
            Ok(run) => chunk.runs.push(run),
            Err(reason) => {
                let key = js_sys::Reflect::get(&value, &"id".into()).unwrap_or(JsValue::UNDEFINED);
                let id = key.as_string().unwrap_or_else(|| idb::describe(&key));
                chunk.unreadable.push(Unreadable {
                    key,
                    value,
                    id,
                    reason,
                });
            }
        }
    }
    chunk
}

/// Where the page after `values` starts, read `count` at most: `None` when
/// fewer came, so these were the last.
fn next_page(values: &[JsValue], count: usize) -> Option<OrderKey> {
    (values.len() == count)
        .then(|| values.last().map(order_key))
        .flatten()
}

/// The manifest record's JSON; `None` when there is none or it cannot be read
/// (then the runs are counted instead of trusting it).
fn parse_manifest(record: &JsValue) -> Option<DatabaseManifest> {
    record
        .as_string()
        .and_then(|text| serde_json::from_str(&text).ok())
}

fn order_key(value: &JsValue) -> OrderKey {
    let field =
        |name: &str| js_sys::Reflect::get(value, &name.into()).unwrap_or(JsValue::UNDEFINED);
    OrderKey(js_sys::Array::of2(&field("startedAt"), &field("id")).into())
}

/// Where a run sorts: its start in ms, or before every real instant when its
/// start is not a valid timestamp (as [`Timestamp`] sorts it).
fn started_at_key(run: &PromptRun) -> f64 {
    run.started_at
        .unix_millis()
        .map_or(f64::NEG_INFINITY, |millis| millis as f64)
}

/// A run as stored.
pub(crate) fn record(run: &PromptRun) -> JsValue {
    let record = js_sys::Object::new();
    let json = serde_json::to_string(run).expect("a run always serializes");
    for (field, value) in [
        ("id", JsValue::from_str(&run.id)),
        ("startedAt", JsValue::from_f64(started_at_key(run))),
        ("modelId", JsValue::from_str(&run.model_id)),
        ("status", JsValue::from_str(run.status.as_str())),
        ("run", JsValue::from_str(&json)),
    ] {
        let _ = js_sys::Reflect::set(&record, &field.into(), &value);
    }
    record.into()
}

/// A stored experiment record back as an experiment, or its id and why it
/// cannot be one.
fn decode_experiment(value: &JsValue) -> Result<Experiment, (String, String)> {
    let field = |name: &str| js_sys::Reflect::get(value, &name.into()).ok();
    let id = field("id")
        .and_then(|id| id.as_string())
        .unwrap_or_else(|| idb::describe(value));
    let json = field("experiment")
        .and_then(|json| json.as_string())
        .ok_or_else(|| (id.clone(), "it holds no experiment".to_owned()))?;
    serde_json::from_str(&json).map_err(|error| (id, error.to_string()))
}

/// A stored record back as a run, or why it cannot be one.
pub(crate) fn decode(value: &JsValue) -> Result<PromptRun, String> {
    let field = |name: &str| js_sys::Reflect::get(value, &name.into()).ok();
    let json = field("run")
        .and_then(|json| json.as_string())
        .ok_or_else(|| "it holds no run".to_owned())?;
    let run: PromptRun =
        serde_json::from_str(&json).map_err(|error| format!("it is not a valid run: {error}"))?;
    match field("id").and_then(|id| id.as_string()) {
        Some(id) if id == run.id => Ok(run),
        _ => Err(format!("it holds run {} under another key", run.id)),
    }
}
