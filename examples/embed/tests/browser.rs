//! The embedding example in headless Chromium: its page runs a prompt
//! through the composer on the app's own executor, and the embedded history
//! and viewer show the answer, beside the grid of its experiment.
#![cfg(target_arch = "wasm32")]

use prompt_runs_embed_example::{ReviewBot, TeamRuns};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

fn find(root: &Element, selector: &str) -> Element {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("nothing matches {selector}"))
}

fn text(root: &Element, selector: &str) -> String {
    find(root, selector).text_content().unwrap_or_default()
}

/// Waits (up to 5 s) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..250 {
        if done() {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    panic!("timed out waiting until {what}");
}

#[wasm_bindgen_test]
async fn a_prompt_runs_on_the_apps_own_executor_and_the_components_show_it() {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let _mounted = leptos::mount::mount_to(root.clone().unchecked_into::<HtmlElement>(), TeamRuns);

    // The page starts with its own runs, and the experiment's grid.
    assert_eq!(text(&root, ".history__count"), "6 runs");
    assert_eq!(root.query_selector_all(".grid__row").unwrap().length(), 2);

    // The app's model is offered, chosen by default; a prompt runs on it.
    let prompt = "Please review the retry loop in the uploader";
    let textarea = find(&root, ".composer__prompt");
    js_sys::Reflect::set(&textarea, &"value".into(), &prompt.into()).unwrap();
    textarea
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    eventually("Execute is enabled", || {
        !find(&root, ".composer__execute").has_attribute("disabled")
    })
    .await;
    find(&root, ".composer__execute")
        .unchecked_into::<HtmlElement>()
        .click();
    let answer = ReviewBot::review(prompt);
    eventually("the history shows the answer", || {
        text(&root, ".history__count") == "7 runs"
            && text(&root, ".history__list").contains(&answer)
    })
    .await;
    assert!(
        text(&root, ".viewer__output").contains(&answer),
        "the new run is the one opened"
    );
}
