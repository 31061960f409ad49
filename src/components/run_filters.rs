//! RunFilters: runs counted by status, the failed runs with their errors, and
//! the controls that narrow the history by status, model, judgement and text.

use super::filter::{use_run_filter, JudgementFilter, RunFilter};
use super::format::{status_label, thousands};
use super::root_class::root_class;
use crate::model::RunStatus;
use crate::persist::use_history;
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;

/// How many failed runs are listed with their error before "and N more".
const FAILED_RUNS_LISTED: usize = 5;

/// Counts per status (all five, empty ones included) that double as status
/// filters, a model filter, a text search over prompts and outputs, and the
/// latest failed runs with their errors.
///
/// It edits the [`RunFilter`] in context (see
/// [`provide_run_filter`](super::provide_run_filter)) so that a
/// [`RunHistory`](super::RunHistory) beside it shows only what matches.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_run_filter, RunFilters, RunHistory};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn History() -> impl IntoView {
///     provide_runs_store();
///     provide_run_filter();
///     view! { <RunFilters/> <RunHistory/> }
/// }
/// ```
#[component]
pub fn RunFilters(
    /// The store to count; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// The filter to edit; by default the one in context, else a private one.
    #[prop(optional)]
    filter: Option<RwSignal<RunFilter>>,
    /// Classes the host adds to the root element, after its own `filters`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let filter = filter
        .or_else(use_run_filter)
        .unwrap_or_else(|| RwSignal::new(RunFilter::default()));

    view! {
        <section class=root_class("filters", class) aria-label="Filters">
            <div class="filters__statuses" role="group" aria-label="Status">
                {status_button(store, filter, None)}
                {RunStatus::ALL.into_iter().map(|status| status_button(store, filter, Some(status))).collect_view()}
            </div>
            <div class="filters__fields">
                <ModelSelect store filter/>
                <JudgementSelect filter/>
                <SearchBox filter/>
                <button
                    type="button"
                    class="filters__clear"
                    prop:disabled=move || filter.with(|filter| *filter == RunFilter::default())
                    on:click=move |_| filter.set(RunFilter::default())
                >"Clear filters"</button>
            </div>
            <StoredTextSearch store filter/>
            {move || store.history_loading().filter(|loading| loading.total > loading.loaded).map(|loading| view! {
                <p class="filters__partial" role="status">
                    {format!("Filters and search cover the {} runs loaded so far; older runs are still loading.", thousands(loading.loaded as u64))}
                </p>
            })}
            <FailedRuns store filter/>
        </section>
    }
}

/// The button that shows the runs of `status` (all runs for `None`), with
/// their count; pressed while that is the filter's status.
fn status_button(
    store: RunsStore,
    filter: RwSignal<RunFilter>,
    status: Option<RunStatus>,
) -> impl IntoView {
    let label = status.map_or("All", status_label);
    // From the history's summary: while older runs load, the counts
    // already cover them.
    let count = move || match status {
        Some(status) => store.history_summary().count(status),
        None => store.history_summary().runs(),
    };
    let pressed = move || filter.with(|filter| filter.status == status);
    view! {
        <button
            type="button"
            class="filters__status"
            data-status=status.map_or("all", RunStatus::as_str)
            aria-pressed=move || pressed().to_string()
            on:click=move |_| filter.update(|filter| filter.status = status)
        >
            {label} " " <span class="filters__count">{move || thousands(count())}</span>
        </button>
    }
}

/// The model filter: every model in the history, with its count of runs.
#[component]
fn ModelSelect(store: RunsStore, filter: RwSignal<RunFilter>) -> impl IntoView {
    view! {
        <label>
            "Model "
            <select
                class="filters__model"
                prop:value=move || filter.with(|filter| filter.model_id.clone().unwrap_or_default())
                on:change=move |event| {
                    let model = event_target_value(&event);
                    filter.update(|filter| filter.model_id = (!model.is_empty()).then_some(model));
                }
            >
                <option value="">"All models"</option>
                {move || store.model_stats().into_iter().map(|stats| view! {
                    <option value=stats.model_id.clone()>
                        {format!("{} ({})", stats.model_id, thousands(stats.runs as u64))}
                    </option>
                }).collect_view()}
            </select>
        </label>
    }
}

/// The judgement filter: any, or one of [`JudgementFilter::ALL`].
#[component]
fn JudgementSelect(filter: RwSignal<RunFilter>) -> impl IntoView {
    view! {
        <label>
            "Judgement "
            <select
                class="filters__judgement"
                prop:value=move || filter.with(|filter| filter.judgement.map_or("", JudgementFilter::label))
                on:change=move |event| {
                    let chosen = event_target_value(&event);
                    let judgement = JudgementFilter::ALL.into_iter().find(|judgement| judgement.label() == chosen);
                    filter.update(|filter| filter.judgement = judgement);
                }
            >
                <option value="">"Any"</option>
                {JudgementFilter::ALL.map(|judgement| view! { <option>{judgement.label()}</option> })}
            </select>
        </label>
    }
}

/// The text search over prompts and outputs.
#[component]
fn SearchBox(filter: RwSignal<RunFilter>) -> impl IntoView {
    view! {
        <label>
            "Search "
            <input
                type="search"
                class="filters__search"
                placeholder="Prompt or output"
                prop:value=move || filter.with(|filter| filter.text.clone())
                on:input=move |event| {
                    let text = event_target_value(&event);
                    filter.update(|filter| filter.text = text);
                }
            />
        </label>
    }
}

/// The search's second half, and the notice shown while it runs: cold runs
/// hold only the start of their text (see `RunsStore::is_run_cold`), so a
/// search asks storage too, once typing pauses, and adds what it finds to
/// the filter.
#[component]
fn StoredTextSearch(store: RunsStore, filter: RwSignal<RunFilter>) -> impl IntoView {
    let searching = RwSignal::new(false);
    let history = StoredValue::new_local(use_history());
    let search_text = Memo::new(move |_| filter.with(|filter| filter.text.trim().to_owned()));
    Effect::new(move |_| {
        let text = search_text.get();
        let Some(history) = history.get_value() else {
            return;
        };
        if text.is_empty() || store.cold_run_count() == 0 {
            return;
        }
        leptos::task::spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(300).await;
            if search_text.get_untracked() != text {
                return;
            }
            searching.set(true);
            let found = history.search_stored(&text).await;
            searching.set(false);
            if let Ok(ids) = found {
                filter.update(|filter| {
                    if filter.text.trim() == text {
                        filter.stored_matches = Some((text, std::sync::Arc::new(ids)));
                    }
                });
            }
        });
    });
    view! {
        <Show when=move || searching.get()>
            <p class="filters__partial" role="status">"Searching the text of older runs in storage…"</p>
        </Show>
    }
}

/// The latest failed runs with their errors, and a button to show them all.
#[component]
fn FailedRuns(store: RunsStore, filter: RwSignal<RunFilter>) -> impl IntoView {
    let failed = move || store.failed_runs();
    view! {
        <Show when=move || !failed().is_empty()>
            <div class="filters__failed">
                // h2: before the history's own heading, a level below the
                // page's (under an h3 the outline would skip one when no run is open).
                <h2>"Failed runs"</h2>
                <ul>
                    {move || failed().iter().take(FAILED_RUNS_LISTED).map(|run| view! {
                        <li class="filters__failure">
                            <span class="filters__failure-model">{run.model_id.clone()}</span>
                            ": "
                            <span class="filters__failure-error">
                                {run.error.clone().unwrap_or_else(|| "no message".to_owned())}
                            </span>
                        </li>
                    }).collect_view()}
                </ul>
                {move || {
                    let more = failed().len().saturating_sub(FAILED_RUNS_LISTED);
                    (more > 0).then(|| view! {
                        <button
                            type="button"
                            class="filters__more"
                            on:click=move |_| filter.update(|filter| filter.status = Some(RunStatus::Error))
                        >
                            {format!("and {} more: show all failed runs", thousands(more as u64))}
                        </button>
                    })
                }}
            </div>
        </Show>
    }
}
