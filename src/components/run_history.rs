//! RunHistory: the run count, the totals, and a virtualized list of run cards
//! that stays a few dozen elements whether there are ten runs or 100,000.

use super::filter::{use_run_filter, RunFilter};
use super::format::{
    duration, local_time, output_preview, run_cost, status_label, thousands, tokens, total_cost,
};
use super::keyed_rows::{keyed_rows, row};
use super::root_class::{root_class, root_style};
use super::scroll_window::ScrollWindow;
use crate::model::PromptRun;
use crate::persist::use_history;
use crate::store::{list_changed, use_runs_store, RunList, RunsStore};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;

/// Height of one card's row in CSS pixels: the list is virtualized, so every
/// row has this height and only the rows in view (plus a few either side)
/// are in the DOM.
pub const ROW_HEIGHT_PX: usize = 132;

/// The run history: a header with the run count and a clear-all control
/// (with confirmation), total tokens, total cost (`≈` when any cost in it is
/// an estimate) and average duration, then one card per run, most recent
/// first: status, model, local start time, the first 200 characters of
/// output, tokens, duration, cost when known (`≈` when estimated), a control to
/// open it as the active run (the active card is marked) and one to remove it.
/// A removal (one run, or all) says how many runs went, with "Undo" when the
/// history is persisted (removed runs go to its trash: see
/// [`HistoryTrash`](super::HistoryTrash)).
///
/// Shows the runs matching the [`RunFilter`] in context, if one was provided
/// (see [`RunFilters`](super::RunFilters)). The list is virtualized: it
/// scrolls within its `height` and renders only the cards in view, each
/// [`ROW_HEIGHT_PX`] high.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::RunHistory;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Sidebar() -> impl IntoView {
///     provide_runs_store();
///     // The host's class beside the list's own, and a height that follows
///     // the host's state (a plain "60vh" works too).
///     let tall = RwSignal::new(false);
///     let height = Signal::derive(move || if tall.get() { "90vh" } else { "40vh" }.to_owned());
///     view! {
///         <button on:click=move |_| tall.update(|tall| *tall = !*tall)>"Taller"</button>
///         <RunHistory class="sidebar__history" height/>
///     }
/// }
/// ```
#[component]
pub fn RunHistory(
    /// The store to show; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// Which runs to show; by default the filter in context, else all.
    #[prop(optional)]
    filter: Option<RwSignal<RunFilter>>,
    /// The scrolling list's height, any CSS length; 70vh by default
    /// (reactive: a signal resizes the mounted list).
    #[prop(optional, into)]
    height: MaybeProp<String>,
    /// Classes the host adds to the root element, after its own `history`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
    /// Inline style for the root element, such as `max-width: 40rem`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    style: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let filter = filter.or_else(use_run_filter);
    let shown = Memo::new_with_compare(
        move |_| match filter {
            Some(filter) => filter.with(|filter| filter.apply(&store)),
            None => store.runs(),
        },
        list_changed,
    );
    let confirming_clear = RwSignal::new(false);
    // The runs just removed, while "Undo" is offered (from the trash, so
    // only with the persisted history).
    let removed = RwSignal::new(Vec::<String>::new());
    let history = StoredValue::new_local(use_history());
    let undo = move |_| {
        let ids = removed.get_untracked();
        removed.set(Vec::new());
        if let Some(history) = history.get_value() {
            spawn_local(async move { history.restore(&ids).await });
        }
    };

    view! {
        <section class=root_class("history", class) style=root_style(style) aria-label="Run history">
            <header class="history__header">
                <h2>
                    "History "
                    <span class="history__count">{move || run_count(store.run_count())}</span>
                </h2>
                <Show
                    when=move || confirming_clear.get()
                    fallback=move || view! {
                        <button
                            type="button"
                            class="history__clear"
                            prop:disabled=move || store.runs().is_empty()
                            on:click=move |_| confirming_clear.set(true)
                        >"Clear all"</button>
                    }
                >
                    <span class="history__confirm" role="alertdialog" aria-label="Confirm clearing the history">
                        {move || format!("Remove all {}?", run_count(store.run_count()))}
                        <button type="button" class="history__confirm-clear" on:click=move |_| {
                            removed.set(store.runs().iter().map(|run| run.id.clone()).collect());
                            store.clear_runs();
                            confirming_clear.set(false);
                        }>"Yes, clear all"</button>
                        <button type="button" class="history__cancel-clear" on:click=move |_| confirming_clear.set(false)>
                            "Keep them"
                        </button>
                    </span>
                </Show>
            </header>
            {move || (!removed.with(Vec::is_empty)).then(|| view! {
                <p class="history__removed" role="status">
                    {format!("Removed {}. ", run_count(removed.with(Vec::len)))}
                    {history.with_value(Option::is_some).then(|| view! {
                        <button type="button" class="history__undo" on:click=undo>"Undo"</button>
                    })}
                </p>
            })}
            <dl class="history__stats">
                <div><dt>"Total tokens"</dt><dd class="history__tokens">{move || thousands(store.total_tokens_used())}</dd></div>
                <div><dt>"Total cost"</dt><dd class="history__cost">{move || {
                    total_cost(store.total_cost(), store.priced_runs(), store.run_count(), store.estimated_costs())
                }}</dd></div>
                <div>
                    <dt>"Average duration"</dt>
                    <dd class="history__duration">{move || duration(store.average_duration())}</dd>
                </div>
            </dl>
            {move || store.history_loading().filter(|loading| loading.total > loading.loaded).map(|loading| view! {
                <p class="history__loading" role="status">
                    {format!("Loading older runs: {} of {}", thousands(loading.loaded as u64), thousands(loading.total as u64))}
                </p>
            })}
            {move || {
                let (all, matching) = (store.runs().len(), shown.with(|runs| runs.len()));
                (all > 0 && matching < all).then(|| view! {
                    <p class="history__filtered">{format!("Showing {} of {}", thousands(matching as u64), run_count(all))}</p>
                })
            }}
            <VirtualList runs=shown store height filter removed/>
        </section>
    }
}

/// `"1 run"`, `"1,234 runs"`.
fn run_count(count: usize) -> String {
    let noun = if count == 1 { "run" } else { "runs" };
    format!("{} {noun}", thousands(count as u64))
}

/// The scrolling list: spacers stand in for the rows out of view.
#[component]
fn VirtualList(
    runs: Memo<RunList>,
    store: RunsStore,
    height: MaybeProp<String>,
    filter: Option<RwSignal<RunFilter>>,
    removed: RwSignal<Vec<String>>,
) -> impl IntoView {
    let scroll = ScrollWindow::new(height);
    let window = Memo::new(move |_| {
        let len = runs.with(|runs| runs.len());
        let (first, end) = scroll.range(len, ROW_HEIGHT_PX);
        (first, end, len)
    });
    let rows = move || {
        let (first, end, _) = window.get();
        runs.with(|runs| {
            // O(first): a few milliseconds at the bottom of 100,000 runs.
            (runs.iter().skip(first).take(end - first))
                .map(|run| {
                    // A changed run is a new Arc: only its row is rebuilt.
                    let key = format!("{}@{:x}", run.id, Arc::as_ptr(run) as usize);
                    let run = run.clone();
                    row(key, move || {
                        view! { <RunCard run store removed/> }.into_any()
                    })
                })
                .collect()
        })
    };
    let spacer = |rows: usize| format!("height: {}px", rows * ROW_HEIGHT_PX);

    view! {
        <div
            class="history__viewport"
            style=scroll.style()
            node_ref=scroll.viewport
            tabindex="0"
            aria-label="Runs, most recent first"
            on:scroll=move |_| scroll.scrolled()
        >
            <div class="history__spacer" style=move || spacer(window.get().0)></div>
            <ol class="history__list" style="margin: 0; padding: 0; list-style: none">
                {keyed_rows(rows)}
            </ol>
            <div class="history__spacer" style=move || {
                let (_, end, len) = window.get();
                spacer(len - end)
            }></div>
            {move || runs.with(|runs| runs.is_empty()).then(|| {
                // Runs exist but none matches: say so, and where the way back is.
                let message = if filter.is_some() && !store.runs().is_empty() {
                    "No runs match the filter. Clear filters to see every run."
                } else if store.history_loading().is_some() {
                    // Storage has not answered yet: an empty list would be a lie.
                    "Opening the saved history…"
                } else {
                    "No runs yet."
                };
                view! { <p class="history__empty">{message}</p> }
            })}
        </div>
    }
}

/// Every row's inline style: the height the scrolling arithmetic relies on,
/// whatever the embedding app's CSS says.
static ROW_STYLE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("height: {ROW_HEIGHT_PX}px; overflow: hidden; box-sizing: border-box")
});

/// One run in the list.
#[component]
fn RunCard(run: Arc<PromptRun>, store: RunsStore, removed: RwSignal<Vec<String>>) -> impl IntoView {
    let id = run.id.clone();
    let is_active = {
        let id = id.clone();
        Memo::new(move |_| store.active_run_id().as_deref() == Some(id.as_str()))
    };
    let open = {
        let id = id.clone();
        move |_| {
            // The run may have been removed since this row was drawn.
            let _ = store.set_active_run(Some(&id));
        }
    };
    let remove = {
        let id = id.clone();
        move |_| {
            if store.remove_run(&id).is_ok() {
                removed.set(vec![id.clone()]);
            }
        }
    };
    let started = local_time(&run.started_at);
    // Screen readers list the buttons out of context: name the run in each.
    let named = format!("{} run started {started}", run.model_id);
    let open_label = format!("Open the {named}");
    let remove_label = format!("Remove the {named}");
    view! {
        <li class="history__row" data-run-id=id.clone() style=ROW_STYLE.as_str()>
            <article class="history__card" class:history__card--active=is_active>
                <header class="history__card-header">
                    <span class=format!("badge badge--{}", run.status.as_str())>{status_label(run.status)}</span>
                    <span class="history__model">{run.model_id.clone()}</span>
                    <time datetime=run.started_at.as_str().to_owned()>{started}</time>
                </header>
                {output_preview(&run).map(|preview| view! { <p class="history__preview">{preview}</p> })}
                <footer class="history__card-footer">
                    // Only what is known: a cancelled run has no usage, and a
                    // row of bare "N/A"s says nothing about which is which.
                    // (Empty spans are not shown.)
                    <span class="history__figures">
                        <span class="history__run-tokens">{run.total_tokens.map(|count| tokens(Some(count)))}</span>
                        <span class="history__run-duration">{run.duration_ms.map(|ms| duration(Some(ms)))}</span>
                        <span class="history__run-cost">{run.cost.map(|_| run_cost(&run))}</span>
                    </span>
                    <span class="history__actions">
                        <button
                            type="button"
                            class="history__open"
                            aria-label=open_label
                            aria-pressed=move || is_active.get().to_string()
                            on:click=open
                        >"Open"</button>
                        <button type="button" class="history__remove" aria-label=remove_label on:click=remove>
                            "Remove"
                        </button>
                    </span>
                </footer>
            </article>
        </li>
    }
}
