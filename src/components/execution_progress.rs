//! ExecutionProgress: how far the execution in flight has got, and the button
//! that really stops it.

use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;

/// While the store executes: a progress bar with the percentage (moving with
/// the streamed text), or an indeterminate bar when the server does not
/// stream, and a Cancel button that aborts the requests
/// ([`RunsStore::cancel_execution`]). The bar is a `role="progressbar"` with
/// `aria-valuenow` when the progress is known, and the percentage is announced
/// through a polite live region. The component keeps its height when idle, so
/// the page does not jump when an execution starts or ends.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::ExecutionProgress;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Toolbar() -> impl IntoView {
///     provide_runs_store();
///     view! { <ExecutionProgress/> }
/// }
/// ```
#[component]
pub fn ExecutionProgress(
    /// The store to follow; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let percent = move || store.execution_progress().round() as u32;
    let known = move || store.is_progress_known();

    view! {
        <div class="progress" class:progress--idle=move || !store.is_executing()>
            <Show when=move || store.is_executing()>
                <div
                    class="progress__bar"
                    class:progress__bar--indeterminate=move || !known()
                    role="progressbar"
                    aria-label="Execution progress"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=move || known().then(|| percent().to_string())
                    aria-valuetext=move || (!known()).then_some("Waiting for the answer")
                >
                    <div class="progress__fill" style:width=move || format!("{}%", if known() { percent() } else { 100 })></div>
                </div>
                <span class="progress__label" aria-live="polite">
                    {move || if known() { format!("{}%", percent()) } else { "Waiting for the answer…".to_owned() }}
                </span>
                <button type="button" class="progress__cancel" on:click=move |_| store.cancel_execution()>
                    "Cancel"
                </button>
            </Show>
        </div>
    }
}
