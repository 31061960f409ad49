//! The runs store in a real page (headless Chromium): the same actions and
//! derived values as natively, plus what only a browser shows: views that
//! read the store re-render when it changes, and components find it through
//! context.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp};
use prompt_runs::store::{provide_runs_store, use_runs_store, RunsStore, StoreError};
use support::runs::a_run;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn finished(id: &str, status: RunStatus, tokens: u64, cost: f64, duration: u64) -> PromptRun {
    (a_run(id).prompt("prompt").status(status))
        .tokens(tokens)
        .cost(cost)
        .duration(duration)
        .build()
}

fn fresh_container() -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let container = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&container).unwrap();
    container.unchecked_into()
}

#[wasm_bindgen_test]
fn actions_and_derived_values_work_in_the_browser() {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    store
        .add_run(finished("a", RunStatus::Success, 100, 0.0001, 1000))
        .unwrap();
    store
        .add_run(finished("b", RunStatus::Error, 50, 0.0002, 2000))
        .unwrap();
    store
        .add_run(PromptRun::pending("c", "claude", "p"))
        .unwrap();
    assert_eq!(
        store.add_run(PromptRun::pending("c", "claude", "p")),
        Err(StoreError::DuplicateId("c".into()))
    );

    assert_eq!(
        store
            .runs()
            .iter()
            .map(|run| run.id.as_str())
            .collect::<Vec<_>>(),
        ["c", "b", "a"]
    );
    assert_eq!(store.total_tokens_used(), 150);
    assert_eq!(store.total_cost().to_string(), "$0.0003");
    assert_eq!(store.average_duration(), Some(1500));
    assert_eq!(store.successful_runs().len(), 1);
    assert_eq!(store.failed_runs().len(), 1);
    assert_eq!(store.runs_by_status().count(RunStatus::Pending), 1);

    store
        .update_run("c", PromptRunUpdate::status(RunStatus::Running))
        .unwrap();
    store.cancel_execution();
    let cancelled = store.get_run_by_id("c").unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    let completed_at = cancelled.completed_at.clone().unwrap();
    assert!(completed_at.unix_millis().unwrap() >= cancelled.started_at.unix_millis().unwrap());
    assert_eq!(
        Timestamp::parse(completed_at.as_str()).unix_millis(),
        completed_at.unix_millis(),
        "the browser clock writes toISOString() text"
    );
}

#[wasm_bindgen_test]
async fn a_view_reading_the_store_re_renders_when_it_changes() {
    let store = RunsStore::new();
    let container = fresh_container();
    let _mounted = leptos::mount::mount_to(container.clone(), move || {
        view! {
            <p class="count">{move || store.runs().len()}</p>
            <p class="cost">{move || store.total_cost().to_string()}</p>
            <p class="active">{move || store.active_run().map(|run| run.id.clone()).unwrap_or_default()}</p>
        }
    });
    let text = |selector: &str| {
        container
            .query_selector(selector)
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap()
    };
    assert_eq!(text(".count"), "0");
    assert_eq!(text(".cost"), "$0.0000");

    store
        .add_run(finished("a", RunStatus::Success, 10, 0.5, 10))
        .unwrap();
    store.set_active_run(Some("a")).unwrap();
    leptos::task::tick().await;
    assert_eq!(text(".count"), "1");
    assert_eq!(text(".cost"), "$0.5000");
    assert_eq!(text(".active"), "a");

    store.remove_run("a").unwrap();
    leptos::task::tick().await;
    assert_eq!(text(".count"), "0");
    assert_eq!(
        text(".active"),
        "",
        "removing the active run clears the view"
    );
}

#[component]
fn RunCount() -> impl IntoView {
    let store = use_runs_store();
    view! { <span class="found">{move || store.runs().len()}</span> }
}

#[wasm_bindgen_test]
async fn embedded_components_find_the_store_through_context() {
    let container = fresh_container();
    let provided = StoredValue::new(None::<RunsStore>);
    let _mounted = leptos::mount::mount_to(container.clone(), move || {
        provided.set_value(Some(provide_runs_store()));
        view! { <RunCount/> }
    });
    let store = provided.get_value().unwrap();
    store.add_run(PromptRun::pending("a", "m", "p")).unwrap();
    store.add_run(PromptRun::pending("b", "m", "p")).unwrap();
    leptos::task::tick().await;
    let found = container.query_selector(".found").unwrap().unwrap();
    assert_eq!(found.text_content().unwrap(), "2");
}

#[wasm_bindgen_test]
fn text_search_ignores_case_beyond_ascii_in_the_browser() {
    use prompt_runs::components::RunFilter;
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    let mut german = PromptRun::pending("german", "gpt-4o", "\u{dc}ber Stra\u{df}en");
    german.output = Some("Fertig".to_owned());
    let mut greek = PromptRun::pending("greek", "gpt-4o", "Translate");
    greek.output = Some("\u{3a3}\u{39f}\u{3a6}\u{39f}\u{3a3}".to_owned());
    store.add_run(german).unwrap();
    store.add_run(greek).unwrap();
    let search = |text: &str| -> Vec<String> {
        let filter = RunFilter {
            text: text.to_owned(),
            ..RunFilter::default()
        };
        owner
            .with(|| filter.apply(&store))
            .iter()
            .map(|run| run.id.clone())
            .collect()
    };
    assert_eq!(search("\u{fc}BER"), ["german"]);
    assert_eq!(search("fertig"), ["german"], "the output counts too");
    assert_eq!(
        search("\u{3c3}\u{3bf}\u{3c6}\u{3bf}\u{3c2}"),
        ["greek"],
        "final sigma"
    );
    assert_eq!(search("TRANSLATE"), ["greek"]);
    assert!(search("nowhere").is_empty());
}
