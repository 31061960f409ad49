//! The history's IndexedDB database: its object stores, how a run is kept in
//! one, and the reads and writes persistence makes.
//!
//! ```text
//! database "<prefix>" (default "prompt-runs"), version 1
//!   runs      key "id"; value {id, startedAt: ms, modelId, status, run: "<the run's JSON>"}
//!             indexes: "newest" on [startedAt, id], "modelId", "status"
//!   meta      "manifest" → the history's manifest as JSON (active run, summary, last backup)
//!             "trash:<id>" → a removed run in the trash: {id, trashedAt, run: "<JSON>"}
//!   backups   "<ms>:<id>" → a record that could not be read, as it was
//!   outbox    key "id": runs changed here and not yet on the server (history sync):
//!             {id}, or with the change's mark: deletedAt, trashedAt or restoredAt
//!   experiments  key "id"; value {id, experiment: "<the experiment's JSON>"}
//! ```
//!
//! A run is kept as its JSON text (the same as an export) beside the few
//! fields that are indexed: reading one is one string and one parse, and
//! what is stored reads in the browser's developer tools.
//!
//! The trash lives in `meta` under `trash:` keys rather than in a store of
//! its own: a new store would need a version upgrade, which waits for every
//! other open tab to close its connection and which the head start in
//! `index.html` (opening version 1) would abort.

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

/// A run on its way to the server: its JSON as stored when read (also for
/// a run put in the trash, so that the server holds what it trashes), and
/// the change's mark, if any.
#[cfg(feature = "client")]
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Outgoing {
    pub(crate) id: String,
    /// `None` for a deletion for good.
    pub(crate) json: Option<String>,
    /// [`DELETED_AT`], [`TRASHED_AT`] or [`RESTORED_AT`], and its instant.
    pub(crate) mark: Option<(&'static str, String)>,
}

/// The mark of a deletion for good (the trash emptied).
pub(crate) const DELETED_AT: &str = "deletedAt";
/// The mark of a run put in the trash.
pub(crate) const TRASHED_AT: &str = "trashedAt";
/// The mark of a run restored from the trash.
pub(crate) const RESTORED_AT: &str = "restoredAt";
#[cfg(feature = "client")]
const MARKS: [&str; 3] = [DELETED_AT, TRASHED_AT, RESTORED_AT];
/// The meta keys of the trash start with this.
const TRASH: &str = "trash:";

/// An outbox entry (or a trash entry): `{id}`, and `{…, mark: at}`.
fn outgoing(id: &str, mark: Option<(&str, &Timestamp)>) -> js_sys::Object {
    let entry = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&entry, &"id".into(), &id.into());
    if let Some((mark, at)) = mark {
        let _ = js_sys::Reflect::set(&entry, &mark.into(), &at.as_str().into());
    }
    entry
}

/// A field of a stored object, as text.
fn text_field(value: &JsValue, name: &str) -> Option<String> {
    js_sys::Reflect::get(value, &name.into()).ok()?.as_string()
}

/// The mark an outbox entry carries.
#[cfg(feature = "client")]
fn mark_of(entry: &JsValue) -> Option<(&'static str, String)> {
    MARKS
        .into_iter()
        .find_map(|mark| Some((mark, text_field(entry, mark)?)))
}

fn trash_key(id: &str) -> JsValue {
    format!("{TRASH}{id}").into()
}

/// Every `trash:` key of `meta`.
fn trash_range() -> Result<JsValue, DbError> {
    IdbKeyRange::bound(&TRASH.into(), &"trash;".into())
        .map(Into::into)
        .map_err(idb::thrown)
}

/// A run in the trash, as the history's Trash shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrashedRun {
    /// The run as it was when it was removed.
    pub run: PromptRun,
    /// When it was put in the trash.
    pub trashed_at: Timestamp,
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
    /// error, a full quota included) nothing. Says whether the trash changed
    /// (runs removed went there, or runs put back came from there).
    pub(crate) async fn write(&self, save: &Save, durability: Durability) -> Result<bool, DbError> {
        let transaction = Transaction::write(&self.db, &[RUNS, META, OUTBOX], durability)?;
        let (runs, meta) = (transaction.store(RUNS)?, transaction.store(META)?);
        let outbox = transaction.store(OUTBOX)?;
        let now = Timestamp::now();
        // Runs removed go to the trash (for the server too): read before they go.
        let removed = match save.cleared {
            true => {
                js_sys::Array::from(&idb::request(&runs.get_all().map_err(idb::thrown)?).await?)
                    .to_vec()
            }
            false => {
                let mut removed = Vec::with_capacity(save.deletes.len());
                for id in &save.deletes {
                    removed.push(idb::request(&runs.get(&id.into()).map_err(idb::thrown)?).await?);
                }
                removed
            }
        };
        let trashed = !removed.is_empty();
        for record in removed {
            let (Some(id), Some(json)) = (text_field(&record, "id"), text_field(&record, "run"))
            else {
                continue;
            };
            let mark = Some((TRASHED_AT, &now));
            if save.outbox {
                outbox.put(&outgoing(&id, mark)).map_err(idb::thrown)?;
            }
            let entry = outgoing(&id, mark);
            let _ = js_sys::Reflect::set(&entry, &"run".into(), &json.into());
            meta.put_with_key(&entry, &trash_key(&id))
                .map_err(idb::thrown)?;
        }
        // A run put back that is in the trash is restored from it.
        let mut restored = HashSet::new();
        if !save.puts.is_empty() || !save.cold_puts.is_empty() {
            let keys = meta
                .get_all_keys_with_key(&trash_range()?)
                .map_err(idb::thrown)?;
            let in_trash: HashSet<String> = js_sys::Array::from(&idb::request(&keys).await?)
                .iter()
                .filter_map(|key| Some(key.as_string()?[TRASH.len()..].to_owned()))
                .collect();
            for run in save.puts.iter().chain(&save.cold_puts) {
                if in_trash.contains(&run.id) {
                    meta.delete(&trash_key(&run.id)).map_err(idb::thrown)?;
                    restored.insert(run.id.as_str());
                }
            }
        }
        for held in &save.cold_puts {
            let stored =
                idb::request(&runs.get(&held.id.as_str().into()).map_err(idb::thrown)?).await?;
            // Gone from storage (another tab removed it): nothing to update.
            if let Ok(stored) = decode(&stored) {
                runs.put(&record(&crate::store::warmed(held, stored)))
                    .map_err(idb::thrown)?;
            }
        }
        let written = queue_writes(&transaction, save, &restored, &now);
        if let Err(error) = written {
            transaction.abort();
            let _ = transaction.finish().await;
            return Err(error);
        }
        transaction.commit().await?;
        Ok(trashed || !restored.is_empty())
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
        let transaction = Transaction::read(&self.db, &[OUTBOX, RUNS, META])?;
        let outbox = transaction.store(OUTBOX)?;
        let entries = idb::request(
            &outbox
                .get_all_with_key_and_limit(&JsValue::UNDEFINED, limit as u32)
                .map_err(idb::thrown)?,
        )
        .await?;
        let (runs, meta) = (transaction.store(RUNS)?, transaction.store(META)?);
        let mut outgoing = Vec::new();
        for entry in js_sys::Array::from(&entries).iter() {
            let Some(id) = text_field(&entry, "id") else {
                continue;
            };
            let mark = mark_of(&entry);
            let json = match mark {
                Some((DELETED_AT, _)) => None,
                // The run goes with its mark: the server may not hold it yet.
                Some((TRASHED_AT, _)) => {
                    let held = meta.get(&trash_key(&id)).map_err(idb::thrown)?;
                    text_field(&idb::request(&held).await?, "run")
                }
                _ => {
                    let record = runs.get(&id.as_str().into()).map_err(idb::thrown)?;
                    match text_field(&idb::request(&record).await?, "run") {
                        Some(json) => Some(json),
                        // Gone since (its deletion will follow) or unreadable: nothing to send.
                        None => continue,
                    }
                }
            };
            outgoing.push(Outgoing { id, json, mark });
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
            let mut unchanged = mark_of(&entry) == item.mark;
            if let (Some(json), true) = (&item.json, unchanged) {
                if !matches!(item.mark, Some((TRASHED_AT, _))) {
                    let record = idb::request(&runs.get(&key).map_err(idb::thrown)?).await?;
                    unchanged = text_field(&record, "run").as_deref() == Some(json.as_str());
                }
            }
            if unchanged {
                outbox.delete(&key).map_err(idb::thrown)?;
            }
        }
        transaction.commit().await
    }

    #[cfg(feature = "client")]
    /// Takes in a page of the server's changes, and where the feed stands
    /// after it, in one transaction: a run replaces the stored copy if it
    /// supersedes it; a run in the server's trash goes to the trash here; a
    /// deletion for good removes the run (and any upload of it still
    /// waiting: the server keeps it deleted). A mark made here and not yet
    /// uploaded wins when it is later (the trash's rule: the later of
    /// `trashedAt` and `restoredAt`). Returns the runs that changed what is
    /// stored, the ids removed, and whether the trash changed.
    pub(crate) async fn apply_changes(
        &self,
        changes: Vec<crate::api::wire::SyncChange>,
        sync: &SyncMeta,
    ) -> Result<(Vec<PromptRun>, Vec<String>, bool), DbError> {
        let transaction = Transaction::write(&self.db, &[RUNS, OUTBOX, META], Durability::Default)?;
        let (runs, outbox) = (transaction.store(RUNS)?, transaction.store(OUTBOX)?);
        let meta = transaction.store(META)?;
        let (mut merged, mut deleted, mut trash_changed) = (Vec::new(), Vec::new(), false);
        for change in changes {
            let marks = change.trash.unwrap_or_default();
            let id = match (&change.run, &change.deleted) {
                (Some(run), _) => run.id.clone(),
                (None, Some(tombstone)) => tombstone.id.clone(),
                (None, None) => continue,
            };
            let key: JsValue = id.as_str().into();
            let in_trash = idb::request(&meta.get(&trash_key(&id)).map_err(idb::thrown)?).await?;
            let trashed_here = text_field(&in_trash, TRASHED_AT).map(Timestamp::parse);
            if let Some(run) = change.run {
                // In the trash here since after the server's restore: it
                // stays there (its mark is on its way).
                let restored_at = marks.restored_at.as_ref();
                if trashed_here
                    .as_ref()
                    .is_some_and(|here| restored_at.is_none_or(|at| here > at))
                {
                    continue;
                }
                if trashed_here.is_some() {
                    meta.delete(&trash_key(&id)).map_err(idb::thrown)?;
                    trash_changed = true;
                }
                let held = idb::request(&runs.get(&key).map_err(idb::thrown)?).await?;
                let keep_held = decode(&held).is_ok_and(|held| !run.supersedes(&held));
                if !keep_held || trashed_here.is_some() {
                    runs.put(&record(&run)).map_err(idb::thrown)?;
                    merged.push(run);
                }
                continue;
            }
            let waiting = idb::request(&outbox.get(&key).map_err(idb::thrown)?).await?;
            match (marks.trashed_at, marks.run) {
                (Some(trashed_at), Some(run)) => {
                    // Restored here since: it stays (its mark is on its way).
                    let restored_here = text_field(&waiting, RESTORED_AT).map(Timestamp::parse);
                    if restored_here.is_some_and(|here| here >= trashed_at) {
                        continue;
                    }
                    let at = trashed_here.map_or(trashed_at.clone(), |here| here.max(trashed_at));
                    let entry = outgoing(&id, Some((TRASHED_AT, &at)));
                    let json = serde_json::to_string(&run).expect("a run always serializes");
                    let _ = js_sys::Reflect::set(&entry, &"run".into(), &json.into());
                    meta.put_with_key(&entry, &trash_key(&id))
                        .map_err(idb::thrown)?;
                }
                _ => {
                    meta.delete(&trash_key(&id)).map_err(idb::thrown)?;
                }
            }
            trash_changed = true;
            runs.delete(&key).map_err(idb::thrown)?;
            if mark_of(&waiting).is_none_or(|(mark, _)| mark != TRASHED_AT) {
                outbox.delete(&key).map_err(idb::thrown)?;
            }
            deleted.push(id);
        }
        let text = serde_json::to_string(sync).expect("sync state always serializes");
        meta.put_with_key(&text.into(), &SYNC.into())
            .map_err(idb::thrown)?;
        transaction.commit().await?;
        Ok((merged, deleted, trash_changed))
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

    /// Every run in the trash, the latest removed first.
    pub(crate) async fn trash(&self) -> Result<Vec<TrashedRun>, DbError> {
        let transaction = Transaction::read(&self.db, &[META])?;
        let all = transaction.store(META)?.get_all_with_key(&trash_range()?);
        let values = idb::request(&all.map_err(idb::thrown)?).await?;
        transaction.finish().await?;
        let mut trash: Vec<TrashedRun> = Vec::new();
        for entry in js_sys::Array::from(&values).iter() {
            let read = || {
                Some(TrashedRun {
                    run: serde_json::from_str(&text_field(&entry, "run")?).ok()?,
                    trashed_at: Timestamp::parse(text_field(&entry, TRASHED_AT)?),
                })
            };
            // Each in its place: a sort would bring ~3 KB of code into the
            // first load for this one list.
            if let Some(trashed) = read() {
                let at = trash.partition_point(|held| held.trashed_at >= trashed.trashed_at);
                trash.insert(at, trashed);
            }
        }
        Ok(trash)
    }

    /// Empties the trash of runs `ids` (all of it with `None`): they are
    /// deleted for good, on the server too when `outbox`. Returns how many.
    pub(crate) async fn empty_trash(
        &self,
        ids: Option<&[String]>,
        outbox: bool,
    ) -> Result<usize, DbError> {
        let transaction = Transaction::write(&self.db, &[META, OUTBOX], Durability::Strict)?;
        let meta = transaction.store(META)?;
        let keys = meta
            .get_all_keys_with_key(&trash_range()?)
            .map_err(idb::thrown)?;
        let keys = js_sys::Array::from(&idb::request(&keys).await?);
        let now = Timestamp::now();
        let mut emptied = 0;
        for key in keys.iter() {
            let Some(id) = key.as_string().map(|key| key[TRASH.len()..].to_owned()) else {
                continue;
            };
            if ids.is_some_and(|ids| !ids.contains(&id)) {
                continue;
            }
            meta.delete(&key).map_err(idb::thrown)?;
            if outbox {
                transaction
                    .store(OUTBOX)?
                    .put(&outgoing(&id, Some((DELETED_AT, &now))))
                    .map_err(idb::thrown)?;
            }
            emptied += 1;
        }
        transaction.commit().await?;
        Ok(emptied)
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

fn queue_writes(
    transaction: &Transaction,
    save: &Save,
    restored: &HashSet<&str>,
    now: &Timestamp,
) -> Result<(), DbError> {
    // (Runs removed were put in the trash, and their marks in the outbox,
    // by `write`.)
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
        for run in save.puts.iter().chain(&save.cold_puts) {
            let mark = restored
                .contains(run.id.as_str())
                .then_some((RESTORED_AT, now));
            outbox.put(&outgoing(&run.id, mark)).map_err(idb::thrown)?;
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
