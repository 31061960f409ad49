//! The static app: one store, saved in IndexedDB, connected to the server
//! that served the page (or the one chosen in Settings), and every component
//! laid out around it.

use crate::components::{
    keep_history_on_server, provide_run_filter, provide_server_connection, ActiveRunViewer,
    ErrorBanner, ExecutionProgress, HistoryStorage, HistoryTransfer, ModelPerformance,
    PromptComposer, RunFilters, RunHistory, ServerHistory, Settings,
};
use crate::persist::{persist_history, provide_history, HistoryOptions};
use crate::store::provide_runs_store;
use leptos::prelude::*;

/// The whole app, as mounted by `main.rs`. On a wide screen the composer
/// (with progress and errors) and the active run sit side by side at the
/// top, so the answer is seen arriving without scrolling; the history with
/// its filters and the model performance come below, side by side too. On a
/// narrow screen everything is one column in that order.
#[component]
pub fn App() -> impl IntoView {
    let store = provide_runs_store();
    provide_run_filter();
    // Saving lasts as long as the app; storage problems are shown as the
    // store's error, and the runs stay in memory.
    let history = provide_history(persist_history(store, HistoryOptions::default()));
    let connection = provide_server_connection(store);
    keep_history_on_server(history, connection);

    view! {
        <header class="app-header">
            <h1>"prompt-runs"</h1>
            <details class="app-header__settings">
                <summary>"Settings"</summary>
                <Settings/>
                <ServerHistory/>
            </details>
        </header>
        <main class="app">
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
    }
}
