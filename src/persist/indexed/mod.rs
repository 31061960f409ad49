//! The IndexedDB engine: the app's store. The whole history in one database,
//! the newest runs shown at once and the rest loaded in the background,
//! saved one transaction per coalesced change, followed across tabs, and
//! kept on a server too when asked. [`persist_history`] attaches it.
//!
//! ```text
//! history/              HistoryPersistence: the history attached to the database
//!   mod.rs              persist_history (the effects and page events), HistoryOptions,
//!                       HistoryPlace, HistoryStatus, the attachment and what it holds
//!   open.rs             opening: the database, what moves in from localStorage, the first
//!                       screen, older runs in chunks, the fallback to localStorage
//!   head_start.rs       taking over the first read that index.html began while the wasm loaded
//!   save.rs             saving: rounds, one transaction per step, the copy kept in
//!                       localStorage when the page closes mid-save
//!   save_state.rs       the save's phases and what each round writes (plain data, tested natively)
//!   tabs.rs             other tabs: each save announced on a BroadcastChannel, theirs read
//!                       back; versionchange closes and reopens the database
//!   export.rs           the whole history out to a file, and search, read from the database
//!   experiments.rs      experiment definitions, kept beside the runs
//!   server.rs           the server sync (with the `client` feature): the outbox uploaded,
//!                       the server's changes feed merged in
//!   sync_state.rs       SyncState: how the history stands with the server
//! database.rs           RunDatabase: the object stores, a run's record, every read and write
//! idb.rs                IndexedDB, awaited: each request a future, transactions, DbError
//! backup_reminder.rs    when to remind a person to back up
//! ```
//!
//! A save, from a change to the database: the store journals the id of every
//! run that changes; `persist_history`'s effect asks for a save, which waits
//! for the debounce (any number of asks make one); the save takes the
//! journal and the runs whose last save failed (`save_state.rs` decides what
//! the round holds, the clear marker included), reads those runs from the
//! store, and writes them with the manifest in one read-write transaction
//! (a large save in steps of 2,000 runs, the manifest with the last). Once
//! committed, other tabs are told which runs changed, the server sync is
//! woken, and the localStorage manifest counts the stored runs; a failed step
//! puts what it did not write back for the next round, and the save is tried
//! again. Whatever is not committed when the page closes is copied to
//! localStorage (the localStorage engine's layout) and moved in on the next start.

mod backup_reminder;
mod database;
mod history;
mod idb;

pub use backup_reminder::{backup_reminder, BACKUP_MAX_AGE_MILLIS, BACKUP_MAX_NEW_RUNS};
pub use database::{BackupRecord, DatabaseManifest, DATABASE_VERSION};
#[cfg(feature = "client")]
pub use history::SyncTarget;
pub use history::{
    persist_history, provide_history, use_history, ExperimentsError, ExportFormat, HistoryOptions,
    HistoryPersistence, HistoryPlace, HistoryStatus, SavedExperiments, SyncState,
};
pub use idb::DbError;
