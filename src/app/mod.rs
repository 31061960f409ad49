//! The static app: two pages over one history. The playground (`/`,
//! [`App`]) composes prompts and keeps the history; the Experiments page
//! (`/experiments/`, [`ExperimentsApp`]) designs and runs experiments. Each
//! is its own bundle, so the first load does not carry the experiment views
//! (about 100 KB gzip); both keep one store, saved in the same IndexedDB,
//! connected to the server that served the page (or the one chosen in
//! Settings), so an experiment's runs are ordinary runs of the playground's
//! history.

mod first_paint;
mod first_visit;

use crate::components::{
    keep_history_on_server, provide_diff_selection, provide_experiments, provide_run_filter,
    provide_server_connection, sync_notice, ActiveRunViewer, BlindComparison, DiffView,
    ErrorBanner, ExecutionProgress, ExperimentEditor, ExperimentGrid, ExperimentPicker,
    Experiments, HistoryStorage, HistoryTransfer, ModelPerformance, PromptComposer, RunFilters,
    RunHistory, RunPlan, ServerHistory, Settings, VoteResults,
};
use crate::components::{provide_provider_health, ProviderStatuses};
use crate::persist::{persist_history, provide_history, use_history, HistoryOptions};
use crate::store::{provide_runs_store, RunsStore};
use leptos::prelude::*;

/// Where the Experiments page is served, beside the playground at `/`.
pub const EXPERIMENTS_PATH: &str = "/experiments/";

/// What both pages share: the store, saved in IndexedDB for as long as the
/// page lives (storage problems are shown as the store's error, and the runs
/// stay in memory), the server, and the history kept there when chosen.
fn provide_app_state() -> RunsStore {
    let store = provide_runs_store();
    provide_run_filter();
    let history = provide_history(persist_history(store, HistoryOptions::default()));
    let connection = provide_server_connection(store);
    keep_history_on_server(history, connection);
    store
}

/// The header of both pages: the app's name, a link to each page (the
/// current one marked), how the history stands with the server when that
/// needs attention (changes waiting, offline, failed: seen without opening
/// Settings), and Settings, ending with `more_settings` (the Experiments
/// page's providers; a generic, not a child view, so that the playground's
/// bundle carries nothing for it).
fn app_header(experiments: bool, more_settings: impl IntoView + 'static) -> impl IntoView {
    let sync = use_history().map(|history| history.status());
    let link = move |label: &'static str, href: &'static str, current: bool| {
        view! {
            <a
                class="app-header__tab"
                href=href
                aria-current=current.then_some("page")
            >{label}</a>
        }
    };
    view! {
        <header class="app-header">
            <h1>"prompt-runs"</h1>
            <nav class="app-header__tabs" aria-label="Pages">
                {link("Playground", "/", !experiments)}
                {link("Experiments", EXPERIMENTS_PATH, experiments)}
            </nav>
            // Always there (empty when all is well), so that a screen reader
            // hears the state as it changes.
            <p class="app-header__sync" role="status">
                {move || sync.and_then(|status| sync_notice(&status.sync_state()))}
            </p>
            <details class="app-header__settings">
                <summary>"Settings"</summary>
                <Settings/>
                <ServerHistory/>
                {more_settings}
            </details>
        </header>
    }
}

/// The playground, as mounted by `main.rs`. On a wide screen the composer
/// (with progress and errors) and the active run sit side by side at the
/// top, so the answer is seen arriving without scrolling; the history with
/// its filters and the model performance come below, side by side too. On a
/// narrow screen everything is one column in that order.
#[component]
pub fn App() -> impl IntoView {
    first_paint::take_over_first_paint(provide_app_state());
    view! {
        {app_header(false, ())}
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

/// The Experiments page, as mounted by `main_experiments.rs`: the
/// experiment being designed beside its plan, the grid below, the blind A/B
/// comparison and its results, then the diff and the opened run (the grid,
/// the diff and the run hidden while a comparison runs). It opens on its own state: the run opened (and
/// diffed) here is one of the open experiment's, never the playground's
/// last; with no experiment yet, on the example. Leaving the page starts
/// saving the experiment's last edit at once, and asks first while an
/// experiment runs (its requests would stop with the page).
#[component]
pub fn ExperimentsApp() -> impl IntoView {
    let store = provide_app_state();
    let experiments = provide_experiments(Some(store));
    provide_diff_selection();
    first_visit::open_example_when_empty(experiments);
    provide_provider_health();
    let leaving = window_event_listener(leptos::ev::beforeunload, move |event| {
        // A link followed (the header's Playground), a reload, a close: the
        // write starts now; what has not committed by `pagehide` is kept.
        experiments.flush();
        if store.is_executing() {
            event.prevent_default();
            event.set_return_value("An experiment is running: leaving stops it.");
        }
    });
    on_cleanup(move || leaving.remove());
    let opened = opened_here(store, experiments);
    // While a blind A/B session runs, the grid, the diff and the opened run
    // (which name each answer's model) are hidden: kept mounted, so that
    // the grid's scroll and expanded cells are as they were after.
    let comparing = RwSignal::new(false);
    let hidden_style = Signal::derive(move || {
        if comparing.get() {
            "display: none".to_owned()
        } else {
            String::new()
        }
    });
    view! {
        {app_header(true, view! { <ProviderStatuses/> })}
        <main class="app experiments">
            <div class="experiments__top">
                <section class="experiments__design" aria-label="Design">
                    <first_visit::FirstStep experiments/>
                    <ExperimentPicker/>
                    <ExperimentEditor/>
                </section>
                <section class="experiments__run" aria-label="Run">
                    <RunPlan/>
                    <ErrorBanner/>
                </section>
            </div>
            <ExperimentGrid height="60vh" style=hidden_style/>
            <p class="experiments__blind-note" prop:hidden=move || !comparing.get()>
                "The grid, the diff and the opened run are hidden while the blind comparison runs: they name each answer's model."
            </p>
            <div class="experiments__compare">
                <BlindComparison comparing/>
                <VoteResults/>
            </div>
            <div class="experiments__below" style=hidden_style>
                <DiffView open_run=opened/>
                <Show
                    when=move || opened.get().is_some()
                    fallback=|| view! { <p class="viewer__empty">"Open a cell of the grid to see its run here."</p> }
                >
                    <ActiveRunViewer/>
                </Show>
            </div>
        </main>
    }
}

/// The run opened on the Experiments page: the store's active run when it
/// is one of the open experiment's. The active run is the history's, shared
/// with the playground (and restored from its last visit), whose last run
/// and its error are no part of an experiment.
fn opened_here(store: RunsStore, experiments: Experiments) -> Signal<Option<String>> {
    let opened = Memo::new(move |_| {
        let run = store.active_run()?;
        let open = experiments.open()?;
        (run.experiment_cell()?.experiment_id == open.id).then(|| run.id.clone())
    });
    opened.into()
}
