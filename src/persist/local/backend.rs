//! Where persisted runs are kept: a small key–value interface with the
//! browser's localStorage and an in-memory map behind it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use thiserror::Error;

/// Why storage refused a read or a write. A refused write changes nothing:
/// the key keeps its previous value.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StorageError {
    /// The origin's storage quota is used up.
    #[error("browser storage is full")]
    QuotaExceeded,
    /// Storage cannot be used at all (disabled, blocked by privacy settings…).
    #[error("browser storage is unavailable: {0}")]
    Unavailable(String),
}

/// A string key–value store with localStorage's semantics: each `set` or
/// `remove` is atomic for its key.
pub trait StorageBackend {
    /// The value under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<String>, StorageError>;
    /// Stores `value` under `key`, or leaves the key as it was on error.
    fn set(&self, key: &str, value: &str) -> Result<(), StorageError>;
    /// Removes `key` (no error if absent).
    fn remove(&self, key: &str) -> Result<(), StorageError>;
    /// Every key currently stored.
    fn keys(&self) -> Result<Vec<String>, StorageError>;
}

/// An in-memory [`StorageBackend`], shared by its clones (two stores given
/// clones behave like two tabs of one origin). It can enforce a quota, counted
/// as localStorage counts it (UTF-16 code units of keys and values), and it
/// counts writes, so tests can check that persistence coalesces them.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    shared: Rc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    entries: RefCell<BTreeMap<String, String>>,
    quota_code_units: Cell<Option<usize>>,
    writes: Cell<usize>,
}

impl MemoryStorage {
    /// An empty store without a quota.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// Limits the total size of keys and values to `code_units` UTF-16 code units.
    pub fn set_quota(&self, code_units: Option<usize>) {
        self.shared.quota_code_units.set(code_units);
    }

    /// How many `set` and `remove` calls have changed (or tried to change) storage.
    pub fn writes(&self) -> usize {
        self.shared.writes.get()
    }

    /// Size of everything stored, in UTF-16 code units.
    pub fn used_code_units(&self) -> usize {
        self.shared
            .entries
            .borrow()
            .iter()
            .map(|(key, value)| code_units(key) + code_units(value))
            .sum()
    }
}

fn code_units(text: &str) -> usize {
    text.encode_utf16().count()
}

impl StorageBackend for MemoryStorage {
    fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        Ok(self.shared.entries.borrow().get(key).cloned())
    }

    fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.shared.writes.set(self.shared.writes.get() + 1);
        if let Some(quota) = self.shared.quota_code_units.get() {
            let replaced = self
                .shared
                .entries
                .borrow()
                .get(key)
                .map_or(0, |old| code_units(key) + code_units(old));
            if self.used_code_units() - replaced + code_units(key) + code_units(value) > quota {
                return Err(StorageError::QuotaExceeded);
            }
        }
        self.shared
            .entries
            .borrow_mut()
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<(), StorageError> {
        self.shared.writes.set(self.shared.writes.get() + 1);
        self.shared.entries.borrow_mut().remove(key);
        Ok(())
    }

    fn keys(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.shared.entries.borrow().keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_over_quota_is_refused_and_changes_nothing() {
        let storage = MemoryStorage::new();
        storage.set("k", "small").unwrap();
        storage.set_quota(Some(10));
        assert_eq!(
            storage.set("k", "far too large a value"),
            Err(StorageError::QuotaExceeded)
        );
        assert_eq!(storage.get("k").unwrap().as_deref(), Some("small"));
        storage.set("k", "fits").unwrap();
        assert_eq!(storage.writes(), 3);
    }

    #[test]
    fn clones_share_their_entries() {
        let one_tab = MemoryStorage::new();
        let other_tab = one_tab.clone();
        one_tab.set("k", "v").unwrap();
        assert_eq!(other_tab.keys().unwrap(), ["k"]);
    }
}
