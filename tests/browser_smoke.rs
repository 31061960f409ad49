//! Browser smoke test: proves the wasm test pipeline really runs in a browser
//! (headless Chromium via chromedriver and `wasm-bindgen-test-runner`; see `cargo xtask test`).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn local_storage() -> web_sys::Storage {
    web_sys::window()
        .expect("a browser window")
        .local_storage()
        .expect("localStorage is accessible")
        .expect("localStorage exists")
}

#[wasm_bindgen_test]
fn local_storage_round_trips_a_value() {
    let storage = local_storage();
    let key = "prompt-runs:browser-smoke";

    storage.set_item(key, "{\"ok\":true}").expect("setItem");
    assert_eq!(storage.get_item(key).expect("getItem").as_deref(), Some("{\"ok\":true}"));

    storage.remove_item(key).expect("removeItem");
    assert_eq!(storage.get_item(key).expect("getItem"), None);
}

#[wasm_bindgen_test]
fn runs_in_a_real_document() {
    let document = web_sys::window().and_then(|w| w.document());
    assert!(document.is_some(), "tests run in a page with a document, not in Node.js");
}
