//! ErrorBanner: the store's error, visible and dismissible, never only in the
//! console.

use super::root_class::root_class;
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;

/// Shows the store's [`error`](RunsStore::error) as an alert with a Dismiss
/// button that clears it; nothing when there is none.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::ErrorBanner;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Shell() -> impl IntoView {
///     provide_runs_store();
///     view! { <ErrorBanner/> }
/// }
/// ```
#[component]
pub fn ErrorBanner(
    /// The store whose error to show; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// Classes the host adds to the root element, after its own `error-banner`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    move || {
        store.error().map(|message| {
            view! {
                <div class=root_class("error-banner", class) role="alert">
                    <p class="error-banner__message">{message}</p>
                    <button type="button" class="error-banner__dismiss" on:click=move |_| store.set_error(None)>
                        "Dismiss"
                    </button>
                </div>
            }
        })
    }
}
