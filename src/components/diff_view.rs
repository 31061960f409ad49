//! DiffView: the word-level differences between two answers (two cells of a
//! grid, or any run of the history against a chosen baseline), as text with
//! `<del>` and `<ins>` marks.

use super::format::local_time;
use super::root_class::root_class;
use crate::experiment::{Change, WordDiff};
use crate::model::PromptRun;
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;
use std::sync::Arc;

/// Which two runs a [`DiffView`] compares, shared through context so that
/// the grid's cells and the history can choose them.
#[derive(Clone, Copy, Debug)]
pub struct DiffSelection {
    /// The run compared against (the old side).
    pub baseline: RwSignal<Option<String>>,
    /// The run compared (the new side); when none, the store's active run.
    pub compared: RwSignal<Option<String>>,
}

/// Creates the [`DiffSelection`] that [`DiffView`] and
/// [`ExperimentGrid`](super::ExperimentGrid) share, provides it to
/// descendants and returns it.
pub fn provide_diff_selection() -> DiffSelection {
    let selection = DiffSelection {
        baseline: RwSignal::new(None),
        compared: RwSignal::new(None),
    };
    provide_context(selection);
    selection
}

/// The selection an ancestor provided with [`provide_diff_selection`], if any.
pub fn use_diff_selection() -> Option<DiffSelection> {
    use_context::<DiffSelection>()
}

/// The word diff of the baseline run's answer against the compared run's
/// (by default the active run, so opening runs in the history compares each
/// with the baseline): removed words struck in `<del>`, added ones in
/// `<ins>`, all as text (answers are untrusted). "Use the open run as
/// baseline" picks the baseline; Swap exchanges the sides. Says what is
/// missing when a side has no run or no answer.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_diff_selection, DiffView, RunHistory};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Compare() -> impl IntoView {
///     provide_runs_store();
///     provide_diff_selection();
///     view! { <RunHistory/> <DiffView/> }
/// }
/// ```
#[component]
pub fn DiffView(
    /// The store holding the runs; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// The runs to compare; by default the selection in context, else a private one.
    #[prop(optional)]
    selection: Option<DiffSelection>,
    /// Which run "the open run" is: the compared side when none is chosen,
    /// and what "Use the open run as baseline" takes. By default the store's
    /// active run; a page may narrow it (the Experiments page: only a run of
    /// the open experiment).
    #[prop(optional, into)]
    open_run: Option<Signal<Option<String>>>,
    /// Classes the host adds to the root element, after its own `diff`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let selection = (selection.or_else(use_diff_selection)).unwrap_or(DiffSelection {
        baseline: RwSignal::new(None),
        compared: RwSignal::new(None),
    });
    let open = move || match open_run {
        Some(run) => run.get(),
        None => store.active_run_id(),
    };
    let run_of = move |id: Option<String>| id.and_then(|id| store.get_run_by_id(&id));
    let baseline = move || run_of(selection.baseline.get());
    let compared = move || run_of(selection.compared.get().or_else(open));
    let diff = Memo::new(move |_| {
        let (old, new) = (baseline()?, compared()?);
        Some(WordDiff::new(
            old.output.as_deref()?,
            new.output.as_deref()?,
        ))
    });
    let side = |run: Option<Arc<PromptRun>>| {
        run.map_or_else(
            || "none chosen".to_owned(),
            |run| format!("{}, {}", run.model_id, local_time(&run.started_at)),
        )
    };
    let swap = move |_| {
        let old = selection.baseline.get_untracked();
        let new = selection.compared.get_untracked().or_else(open);
        selection.baseline.set(new);
        selection.compared.set(old);
    };

    view! {
        <section class=root_class("diff", class) aria-label="Diff of two answers">
            <header class="diff__header">
                <h2>"Diff"</h2>
                <button
                    type="button"
                    class="diff__use-open"
                    prop:disabled=move || open().is_none()
                    on:click=move |_| selection.baseline.set(open())
                >"Use the open run as baseline"</button>
                <button type="button" class="diff__swap" on:click=swap>"Swap"</button>
            </header>
            <dl class="diff__sides">
                <dt>"Baseline"</dt><dd class="diff__baseline">{move || side(baseline())}</dd>
                <dt>"Compared"</dt><dd class="diff__compared">{move || side(compared())}</dd>
            </dl>
            {move || match diff.get() {
                None => view! {
                    <p class="diff__empty">"Choose two answers: a baseline, and a run to compare with it (by default the open run)."</p>
                }.into_any(),
                Some(diff) if diff.is_unchanged() => view! {
                    <p class="diff__same">"The two answers are the same."</p>
                }.into_any(),
                Some(diff) => view! {
                    <p class="diff__text">
                        {diff.spans().iter().map(|span| match span.change {
                            Change::Same => span.text.clone().into_any(),
                            Change::Removed => view! { <del>{span.text.clone()}</del> }.into_any(),
                            Change::Added => view! { <ins>{span.text.clone()}</ins> }.into_any(),
                        }).collect_view()}
                    </p>
                }.into_any(),
            }}
        </section>
    }
}
