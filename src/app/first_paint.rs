//! The page's first paint, drawn by `first-paint.js` (inlined into the
//! playground's `index.html`) before the wasm runs: the playground as this
//! browser last showed it, checked against the stored history. The app
//! draws itself under it, and it is removed once the app's own first screen
//! is in, so the newest runs never disappear in between.

use crate::store::RunsStore;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// Removes the first paint and lets the script keep the page from now
    /// on; throws where the page has no such script (an embedding, a test).
    #[wasm_bindgen(js_namespace = __promptRunsFirstPaint, js_name = shown, catch)]
    fn first_paint_shown() -> Result<(), JsValue>;
}

/// Hands the page over from the first paint once `store` shows its first
/// screen: the newest runs, or a history that is empty or failed to open
/// (not "Opening the saved history…").
pub(super) fn take_over_first_paint(store: RunsStore) {
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let opening = store.history_loading().is_some() && store.runs().is_empty();
        if !opening {
            let _ = first_paint_shown();
        }
        !opening
    });
}
