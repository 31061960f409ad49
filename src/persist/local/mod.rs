//! The localStorage engine: the history kept in the browser's localStorage,
//! one key per run, for small embeds (about 8,000 runs fit) and as the
//! IndexedDB engine's fallback. The IndexedDB engine also uses its layout:
//! for the manifest that counts the stored runs, and for what a page closed
//! in the middle of a save leaves behind.
//!
//! ```text
//! page.rs         persist_to_local_storage, persist_in_page: the engine in a page
//!                 (a save on every change, flushed at pagehide, other tabs' `storage` events)
//! persistence.rs  Persistence, PersistOptions: restore on attach, coalesced saves,
//!                 another tab's change taken in
//! restore.rs      reading what is stored: this layout, the TypeScript store's legacy
//!                 array, unreadable data kept under backup keys
//! layout.rs       the keys, the versioned manifest, one run's compressed encoding
//! lz16.rs         a fast decoder of lz-string's UTF-16 format (what a stored run is in)
//! backend.rs      StorageBackend (a key–value store with localStorage's semantics),
//!                 MemoryStorage (the same in memory, for native tests), StorageError
//! local_storage.rs  LocalStorageBackend: the browser's localStorage as a StorageBackend
//! ```
//!
//! A save, from a change to storage: the store journals the id of every run
//! that changes; `page.rs`'s effect asks for a save
//! ([`Persistence::request_save`]), and any number of asks before the
//! debounce make one; [`Persistence::save_now`] then takes the journal and
//! writes each changed run whole under its key (or removes the key), then the
//! manifest, last, and only if every run was written.
//!
//! What it guarantees:
//! - **Restore**: runs left `pending`/`running` by a closed page come back
//!   `cancelled` with a reason; unreadable data is copied to a backup key that
//!   is never overwritten, readable runs are kept, and the store shows what
//!   happened; a newer schema is left untouched and nothing is saved over it.
//! - **A failed save** (a full quota) leaves storage as it was, keeps the runs
//!   in memory, retries them with the next save, and tells the person to
//!   export and remove old runs.
//! - **Other tabs**: their `storage` events merge into this store by id (the
//!   later state along the status flow wins); neither tab ever rewrites a run
//!   it did not change.

mod backend;
pub mod layout;
mod local_storage;
mod lz16;
mod page;
mod persistence;
mod restore;

pub use backend::{MemoryStorage, StorageBackend, StorageError};
pub use layout::StorageKeys;
pub use local_storage::LocalStorageBackend;
pub use page::{persist_in_page, persist_to_local_storage};
pub use persistence::{PersistOptions, Persistence, Scheduler};
pub(crate) use restore::restore_for_indexed_db;
