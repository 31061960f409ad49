//! Persistence of the runs store to the browser's localStorage, built so that
//! no run is ever lost:
//!
//! - **Layout** ([`layout`]): a versioned manifest plus one compressed key per
//!   run, so saves rewrite only what changed and tabs never overwrite each
//!   other's runs.
//! - **Restore**: runs left `pending`/`running` by a closed page come back
//!   `cancelled` with a reason; unreadable data is copied to a backup key that
//!   is never overwritten, readable runs are kept, and the store shows what
//!   happened; a newer schema is left untouched and nothing is saved over it.
//! - **Saving** ([`Persistence`]): changes are journaled by the store and
//!   written coalesced (one save per debounce, each changed run once); a
//!   full quota leaves storage intact, keeps the runs in memory, retries, and
//!   tells the user to export and remove old runs.
//! - **Other tabs**: their `storage` events merge into this store by id
//!   (the later state along the status flow wins).
//! - **Transfer** ([`export_json`], [`import_json`], [`export_csv`]).
//!
//! In the browser, [`persist_to_local_storage`] wires all of it up.
//!
//! All of it comes with the `persist` Cargo feature, except reading and
//! writing runs as files ([`runs_json`], [`export_json`], [`import_json`],
//! [`export_csv`]), which touch no storage and which experiments' import
//! uses too.

pub mod runs_json;
mod transfer;

pub use transfer::{
    csv_header, csv_rows, export_csv, export_json, export_json_parts, import_json, ImportError,
};

#[cfg(feature = "persist")]
mod backend;
#[cfg(feature = "persist")]
mod backup;
#[cfg(feature = "persist")]
mod database;
#[cfg(feature = "persist")]
mod history;
#[cfg(feature = "persist")]
mod idb;
#[cfg(feature = "persist")]
mod js_error;
#[cfg(feature = "persist")]
pub mod layout;
#[cfg(feature = "persist")]
mod restore;
#[cfg(feature = "persist")]
mod storage_manager;
#[cfg(feature = "persist")]
mod sync;

#[cfg(feature = "persist")]
mod browser;
#[cfg(feature = "persist")]
mod local_storage;
#[cfg(feature = "persist")]
mod lz16;

#[cfg(feature = "persist")]
pub use backend::{MemoryStorage, StorageBackend, StorageError};
#[cfg(feature = "persist")]
pub use backup::{backup_reminder, BACKUP_MAX_AGE_MILLIS, BACKUP_MAX_NEW_RUNS};
#[cfg(feature = "persist")]
pub use browser::{persist_in_page, persist_to_local_storage};
#[cfg(feature = "persist")]
pub use database::{BackupRecord, DatabaseManifest, DATABASE_VERSION};
#[cfg(all(feature = "persist", feature = "client"))]
pub use history::SyncTarget;
#[cfg(feature = "persist")]
pub use history::{
    persist_history, provide_history, use_history, ExportFormat, HistoryOptions,
    HistoryPersistence, HistoryPlace, HistoryStatus, SavedExperiments, SyncState,
};
// For the components' file pickers and downloads.
#[cfg(feature = "components")]
pub(crate) use js_error::describe as describe_js_error;
#[cfg(feature = "persist")]
pub use layout::StorageKeys;
#[cfg(feature = "persist")]
pub use local_storage::LocalStorage;
#[cfg(feature = "persist")]
pub use storage_manager::{
    is_storage_persistent, request_persistent_storage, storage_use, StorageUse,
};
#[cfg(feature = "persist")]
pub use sync::{PersistOptions, Persistence, Scheduler};
