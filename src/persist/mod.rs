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

mod backend;
mod backup;
mod database;
mod history;
mod idb;
mod js_error;
pub mod layout;
mod restore;
pub mod runs_json;
mod storage_manager;
mod sync;
mod transfer;

mod browser;
mod local_storage;
mod lz16;

pub use backend::{MemoryStorage, StorageBackend, StorageError};
pub use backup::{backup_reminder, BACKUP_MAX_AGE_MILLIS, BACKUP_MAX_NEW_RUNS};
pub use browser::{persist_in_page, persist_to_local_storage};
pub use database::{BackupRecord, DatabaseManifest, DATABASE_VERSION};
pub use history::{
    persist_history, provide_history, use_history, ExportFormat, HistoryOptions,
    HistoryPersistence, HistoryPlace, HistoryStatus, SavedExperiments, SyncState, SyncTarget,
};
pub(crate) use js_error::describe as describe_js_error;
pub use layout::StorageKeys;
pub use local_storage::LocalStorage;
pub use storage_manager::{
    is_storage_persistent, request_persistent_storage, storage_use, StorageUse,
};
pub use sync::{PersistOptions, Persistence, Scheduler};
pub use transfer::{
    csv_header, csv_rows, export_csv, export_json, export_json_parts, import_json, ImportError,
};
