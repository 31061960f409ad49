//! Finding the store through Leptos context, so that embedded components need
//! no prop drilling.

use super::RunsStore;
use leptos::prelude::{provide_context, use_context};

/// Creates a [`RunsStore`], provides it to the current component's descendants
/// and returns it.
///
/// ```
/// use leptos::prelude::*;
/// use prompt_runs::store::{provide_runs_store, use_runs_store};
///
/// #[component]
/// fn Dashboard() -> impl IntoView {
///     provide_runs_store();
///     view! { <RunCount/> }
/// }
///
/// #[component]
/// fn RunCount() -> impl IntoView {
///     let store = use_runs_store();
///     view! { <p>{move || store.runs().len()} " runs"</p> }
/// }
/// ```
pub fn provide_runs_store() -> RunsStore {
    let store = RunsStore::new();
    provide_context(store);
    store
}

/// The [`RunsStore`] an ancestor provided.
///
/// # Panics
/// When no ancestor called [`provide_runs_store`] (or `provide_context` with a
/// store): that is a wiring mistake in the app, reported with what to do.
#[track_caller]
pub fn use_runs_store() -> RunsStore {
    try_use_runs_store().expect(
        "no RunsStore in context: call prompt_runs::store::provide_runs_store() in an ancestor component",
    )
}

/// The [`RunsStore`] an ancestor provided, if any.
pub fn try_use_runs_store() -> Option<RunsStore> {
    use_context::<RunsStore>()
}
