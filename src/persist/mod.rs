//! Keeping the runs store in the browser, built so that no run is ever lost.
//! Two storage engines, and what both use:
//!
//! - **IndexedDB** (`indexed/`): the app's store. [`persist_history`] keeps
//!   the whole history in a database, shows the newest runs first and loads
//!   the rest in the background, saves one transaction per coalesced change,
//!   follows other tabs, and can keep the history on a server too (with the
//!   `client` feature: `HistoryPersistence::sync_with`). It uses the localStorage engine's
//!   layout for its manifest, for what a closing page leaves behind, and as
//!   its fallback when IndexedDB cannot be used.
//! - **localStorage** (`local/`): for small embeds, and the fallback.
//!   [`persist_to_local_storage`] keeps every run under a key of its own
//!   ([`layout`]), restores what a closed page left, and follows other
//!   tabs' `storage` events; about 8,000 runs fit.
//! - **Shared**: the whole history out to a file and back ([`export_json`],
//!   [`import_json`], [`export_csv`]), what the browser says about this
//!   site's storage ([`storage_use`]), and the wording of browser errors.
//!
//! Both engines come with the `persist` Cargo feature. Reading and writing
//! runs as files does not (it touches no storage); its parser is the file
//! format [`crate::model::runs_json`].

mod transfer;

pub use transfer::{
    csv_header, csv_rows, export_csv, export_json, export_json_parts, import_json, ImportError,
};

#[cfg(feature = "persist")]
mod indexed;
#[cfg(feature = "persist")]
mod js_error;
#[cfg(feature = "persist")]
mod local;
#[cfg(feature = "persist")]
mod storage_manager;

#[cfg(all(feature = "persist", feature = "client"))]
pub use indexed::SyncTarget;
#[cfg(feature = "persist")]
pub use indexed::{
    backup_reminder, persist_history, provide_history, use_history, BackupRecord, DatabaseManifest,
    DbError, ExperimentsError, ExportFormat, HistoryOptions, HistoryPersistence, HistoryPlace,
    HistoryStatus, SavedExperiments, SyncState, BACKUP_MAX_AGE_MILLIS, BACKUP_MAX_NEW_RUNS,
    DATABASE_VERSION,
};
// For the components' file pickers and downloads.
#[cfg(feature = "components")]
pub(crate) use js_error::describe as describe_js_error;
#[cfg(feature = "persist")]
pub use local::{
    layout, persist_in_page, persist_to_local_storage, LocalStorageBackend, MemoryStorage,
    PersistOptions, Persistence, Scheduler, StorageBackend, StorageError, StorageKeys,
};
#[cfg(feature = "persist")]
pub use storage_manager::{
    is_storage_persistent, request_persistent_storage, storage_use, StorageUse,
};
