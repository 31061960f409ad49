//! What the browser says about this site's storage: how much is used of how
//! much, and whether it is kept under disk pressure (`navigator.storage`).

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// This site's storage as the browser counts it (every kind: IndexedDB,
/// localStorage, caches), from `navigator.storage.estimate()`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StorageUse {
    /// Bytes used.
    pub used_bytes: f64,
    /// Bytes the browser lets this site use.
    pub quota_bytes: f64,
}

impl StorageUse {
    /// Used as a share (0–1) of the quota.
    pub fn share(&self) -> f64 {
        if self.quota_bytes > 0.0 {
            self.used_bytes / self.quota_bytes
        } else {
            1.0
        }
    }

    /// From this share on, the app warns (and says what to do).
    pub const WARN_AT: f64 = 0.8;
}

fn storage_manager() -> Option<web_sys::StorageManager> {
    let navigator = web_sys::window()?.navigator();
    // Absent outside secure contexts: read it as a property to tell.
    let manager = js_sys::Reflect::get(&navigator, &"storage".into()).ok()?;
    manager.dyn_into().ok()
}

/// How much storage this site uses, of how much; `None` when the browser
/// does not say.
pub async fn storage_use() -> Option<StorageUse> {
    let estimate = JsFuture::from(storage_manager()?.estimate().ok()?)
        .await
        .ok()?;
    let estimate: web_sys::StorageEstimate = estimate.unchecked_into();
    Some(StorageUse {
        used_bytes: estimate.get_usage()?,
        quota_bytes: estimate.get_quota()?,
    })
}

/// Whether the browser keeps this site's storage under disk pressure
/// instead of clearing it; `None` when it does not say.
pub async fn is_storage_persistent() -> Option<bool> {
    let persisted = JsFuture::from(storage_manager()?.persisted().ok()?)
        .await
        .ok()?;
    persisted.as_bool()
}

/// Asks the browser to keep this site's storage under disk pressure; the
/// answer (which the browser may decide without asking the person).
pub async fn request_persistent_storage() -> Option<bool> {
    let granted = JsFuture::from(storage_manager()?.persist().ok()?)
        .await
        .ok()?;
    granted.as_bool()
}
