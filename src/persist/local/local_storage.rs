//! The browser's localStorage as a [`StorageBackend`]: [`LocalStorageBackend`].

use super::backend::{StorageBackend, StorageError};
use crate::persist::js_error::describe;
use wasm_bindgen::{JsCast, JsValue};

/// A `window.localStorage` (or any `Storage` object, e.g. another frame's).
#[derive(Clone, Debug)]
pub struct LocalStorageBackend {
    storage: web_sys::Storage,
}

impl LocalStorageBackend {
    /// This page's localStorage, or why it cannot be used.
    pub fn new() -> Result<LocalStorageBackend, StorageError> {
        let window =
            web_sys::window().ok_or_else(|| StorageError::Unavailable("no window".into()))?;
        match window.local_storage() {
            Ok(Some(storage)) => Ok(LocalStorageBackend { storage }),
            Ok(None) => Err(StorageError::Unavailable(
                "this browser has no localStorage".into(),
            )),
            Err(error) => Err(StorageError::Unavailable(describe(&error))),
        }
    }

    /// A backend over `storage`.
    pub fn from_storage(storage: web_sys::Storage) -> LocalStorageBackend {
        LocalStorageBackend { storage }
    }

    /// The underlying `Storage` object.
    pub fn storage(&self) -> &web_sys::Storage {
        &self.storage
    }
}

/// Chromium and Safari name the quota error `QuotaExceededError`; Firefox
/// used `NS_ERROR_DOM_QUOTA_REACHED`.
fn classify(error: JsValue) -> StorageError {
    match error.dyn_ref::<web_sys::DomException>() {
        Some(exception)
            if matches!(
                exception.name().as_str(),
                "QuotaExceededError" | "NS_ERROR_DOM_QUOTA_REACHED"
            ) =>
        {
            StorageError::QuotaExceeded
        }
        _ => StorageError::Unavailable(describe(&error)),
    }
}

impl StorageBackend for LocalStorageBackend {
    fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.storage.get_item(key).map_err(classify)
    }

    fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.storage.set_item(key, value).map_err(classify)
    }

    fn remove(&self, key: &str) -> Result<(), StorageError> {
        self.storage.remove_item(key).map_err(classify)
    }

    fn keys(&self) -> Result<Vec<String>, StorageError> {
        let length = self.storage.length().map_err(classify)?;
        let mut keys = Vec::with_capacity(length as usize);
        for index in 0..length {
            if let Some(key) = self.storage.key(index).map_err(classify)? {
                keys.push(key);
            }
        }
        Ok(keys)
    }
}
