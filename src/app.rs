//! The static app: the layout that puts the store and its views together.

use leptos::prelude::*;

/// The whole app, as mounted by `main.rs`.
#[component]
pub fn App() -> impl IntoView {
    view! { <main class="app"><h1>"prompt-runs"</h1></main> }
}
