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
    pub(crate) stored_runs: u64,
    pub(crate) newest: Chunk,
}

/// One save: what to drop, put and delete, and the manifest, written in one
/// transaction (whole or not at all).
#[derive(Debug, Default)]
pub(crate) struct Save {
    /// Drop every stored run first.
    pub(crate) cleared: bool,
    pub(crate) puts: Vec<Arc<PromptRun>>,
    pub(crate) deletes: Vec<String>,
    pub(crate) manifest: Option<DatabaseManifest>,
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

    /// The connection, e.g. to listen for `versionchange`.
    pub(crate) fn connection(&self) -> &IdbDatabase {
        &self.db
    }

    /// The manifest, the number of stored runs, and the newest `count` runs.
    pub(crate) async fn first_screen(&self, count: usize) -> Result<FirstScreen, DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS, META])?;
        let meta = transaction.store(META)?;
        let manifest = idb::request(&meta.get(&MANIFEST.into()).map_err(idb::thrown)?).await?;
        let runs = transaction.store(RUNS)?;
        let stored_runs = idb::request(&runs.count().map_err(idb::thrown)?)
            .await?
            .as_f64()
            .unwrap_or(0.0) as u64;
        let newest = read_chunk(&runs, None, count).await?;
        transaction.finish().await?;
        Ok(FirstScreen {
            manifest: manifest
                .as_string()
                .and_then(|text| serde_json::from_str(&text).ok()),
            stored_runs,
            newest,
        })
    }

    /// Up to `count` runs older than `after`, newest first.
    pub(crate) async fn older(&self, after: &OrderKey, count: usize) -> Result<Chunk, DbError> {
        let transaction = Transaction::read(&self.db, &[RUNS])?;
        let chunk = read_chunk(&transaction.store(RUNS)?, Some(after), count).await?;
        transaction.finish().await?;
        Ok(chunk)
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
        let transaction = Transaction::write(&self.db, &[RUNS, META], durability)?;
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

async fn read_chunk(
    runs: &web_sys::IdbObjectStore,
    after: Option<&OrderKey>,
    count: usize,
) -> Result<Chunk, DbError> {
    let index = runs.index(NEWEST).map_err(idb::thrown)?;
    let range = after
        .map(|OrderKey(key)| IdbKeyRange::upper_bound_with_open(key, true))
        .transpose()
        .map_err(idb::thrown)?;
    let values = idb::collect(&index, range.as_ref(), IdbCursorDirection::Prev, count).await?;
    let mut chunk = Chunk::default();
    if values.len() == count {
        chunk.next = values.last().map(order_key);
    }
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
    Ok(chunk)
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
