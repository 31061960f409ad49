//! What a browser error says, in its own words, for messages a person reads.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::DomException;

/// `name: message` of a DOM exception or any other thrown value, for messages.
pub(crate) fn describe(error: &JsValue) -> String {
    match error.dyn_ref::<DomException>() {
        Some(exception) => format!("{}: {}", exception.name(), exception.message()),
        None => error
            .dyn_ref::<js_sys::Error>()
            .map(|error| String::from(error.message()))
            .or_else(|| error.as_string())
            .unwrap_or_else(|| "unknown error".to_owned()),
    }
}
