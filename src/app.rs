//! The static app: one store, saved in IndexedDB, connected to the server
//! that served the page (or the one chosen in Settings), and every component
//! laid out around it.

use crate::components::{
    keep_history_on_server, provide_diff_selection, provide_experiments, provide_run_filter,
    provide_server_connection, ActiveRunViewer, DiffView, ErrorBanner, ExecutionProgress,
    ExperimentEditor, ExperimentGrid, ExperimentPicker, HistoryStorage, HistoryTransfer,
    ModelPerformance, PromptComposer, RunFilters, RunHistory, RunPlan, ServerHistory, Settings,
};
use crate::persist::{persist_history, provide_history, HistoryOptions};
use crate::store::provide_runs_store;
use leptos::prelude::*;

/// The whole app, as mounted by `main.rs`. On a wide screen the composer
/// (with progress and errors) and the active run sit side by side at the
/// top, so the answer is seen arriving without scrolling; the history with
/// its filters and the model performance come below, side by side too. On a
/// narrow screen everything is one column in that order.
///
/// The Experiments tab (beside the playground, which is the default) holds
/// the experiment being designed, its plan and its grid, and the diff.
#[component]
pub fn App() -> impl IntoView {
    let store = provide_runs_store();
    provide_run_filter();
    // Saving lasts as long as the app; storage problems are shown as the
    // store's error, and the runs stay in memory.
    let history = provide_history(persist_history(store, HistoryOptions::default()));
    let connection = provide_server_connection(store);
    keep_history_on_server(history, connection);
    provide_experiments(Some(store));
    provide_diff_selection();
    let experimenting = RwSignal::new(false);
    let tab = move |label: &'static str, experiments: bool| {
        view! {
            <button
                type="button"
                role="tab"
                class="app-header__tab"
                aria-selected=move || (experimenting.get() == experiments).to_string()
                on:click=move |_| experimenting.set(experiments)
            >{label}</button>
        }
    };

    view! {
        <header class="app-header">
            <h1>"prompt-runs"</h1>
            <nav class="app-header__tabs" role="tablist" aria-label="Views">
                {tab("Playground", false)}
                {tab("Experiments", true)}
            </nav>
            <details class="app-header__settings">
                <summary>"Settings"</summary>
                <Settings/>
                <ServerHistory/>
            </details>
        </header>
        <main class="app" prop:hidden=move || experimenting.get()>
            <div class="app__top">
                <section class="app__compose" aria-label="Compose">
                    <PromptComposer/>
                    <ExecutionProgress/>
                    <ErrorBanner/>
                </section>
                <div class="app__viewer">
                    <ActiveRunViewer/>
                </div>
            </div>
            <div class="app__below">
                <div class="app__history">
                    <RunFilters/>
                    <RunHistory/>
                    <HistoryTransfer/>
                    <HistoryStorage/>
                </div>
                <ModelPerformance/>
            </div>
        </main>
        // Both views stay mounted (the hidden one costs nothing to keep), so
        // a switch keeps what was typed and an experiment runs on unseen.
        <main class="app experiments" prop:hidden=move || !experimenting.get()>
            <div class="experiments__top">
                <section class="experiments__design" aria-label="Design">
                    <ExperimentPicker/>
                    <ExperimentEditor/>
                </section>
                <section class="experiments__run" aria-label="Run">
                    <RunPlan/>
                    <ErrorBanner/>
                </section>
            </div>
            <ExperimentGrid height="60vh"/>
            <div class="experiments__below">
                <DiffView/>
                <ActiveRunViewer/>
            </div>
        </main>
    }
}
