//! The head start: `history-head-start.js`, inlined into the app's
//! `index.html`, opens the database and reads the first screen's records
//! while the wasm downloads and compiles (about as long as opening takes), so
//! the app mounts with the newest runs already read. Here the persistence
//! takes that over: only when the script read the same database, at this
//! build's version, as many runs as this persistence shows first (a copy of
//! another build's script, or another app's, is closed and ignored), and only
//! once (the global is removed). Anything else, or `null` from the script
//! (no database yet, an upgrade, an error), and the persistence opens the
//! database itself as it would without the script.

use crate::persist::indexed::database::{FirstScreen, RunDatabase, DATABASE_VERSION};
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::IdbDatabase;

/// The global the script sets.
const GLOBAL: &str = "__promptRunsHeadStart";

/// What the script opened and read.
pub(super) struct HeadStart {
    /// Its connection, now the persistence's.
    pub(super) db: RunDatabase,
    /// The first screen as it read it; `None` when the manifest cannot give
    /// the history's counts (then the persistence reads and counts itself).
    pub(super) first: Option<FirstScreen>,
}

/// Takes the script's result for database `name` showing `newest` runs
/// first, if the script ran and read that.
pub(super) async fn take(name: &str, newest: usize) -> Option<HeadStart> {
    let window = web_sys::window()?;
    let started = Reflect::get(&window, &GLOBAL.into()).ok()?;
    if started.is_undefined() {
        return None;
    }
    let _ = Reflect::delete_property(window.unchecked_ref::<js_sys::Object>(), &GLOBAL.into());
    let field = |name: &str| Reflect::get(&started, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let matches = field("database").as_string().as_deref() == Some(name)
        && field("version").as_f64() == Some(f64::from(DATABASE_VERSION))
        && field("newest").as_f64() == Some(newest as f64);
    let result = JsFuture::from(field("result").dyn_into::<js_sys::Promise>().ok()?)
        .await
        .ok()?;
    if result.is_null() || result.is_undefined() {
        return None;
    }
    let db: IdbDatabase = Reflect::get(&result, &"db".into()).ok()?.dyn_into().ok()?;
    if !matches {
        db.close();
        return None;
    }
    let manifest = Reflect::get(&result, &"manifest".into()).unwrap_or(JsValue::UNDEFINED);
    let first = Reflect::get(&result, &"records".into())
        .ok()
        .and_then(|records| records.dyn_into::<js_sys::Array>().ok())
        .and_then(|records| {
            RunDatabase::first_screen_from(&manifest, records.iter().collect(), newest)
        });
    Some(HeadStart {
        db: RunDatabase::from_connection(db),
        first,
    })
}
