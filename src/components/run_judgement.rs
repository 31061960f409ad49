//! RunJudgement: thumbs up or down, a star and a note on a run, saved with
//! the run (in its metadata) and so exported and filterable with it.

use super::root_class::root_class;
use crate::model::{PromptRunUpdate, Rating};
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;

/// Judgement controls for one run, by default the active one: thumbs up and
/// thumbs down (each a toggle, `aria-pressed`), a star (a toggle), and a
/// note saved when the field is left. Each change is one
/// [`PromptRunUpdate`] of the run's metadata ([`PromptRunUpdate::rate`],
/// [`star`](PromptRunUpdate::star), [`annotate`](PromptRunUpdate::annotate)),
/// accepted whatever the run's status. Shows nothing without a run.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::RunJudgement;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Review() -> impl IntoView {
///     provide_runs_store();
///     view! { <RunJudgement/> } // judges the active run
/// }
/// ```
#[component]
pub fn RunJudgement(
    /// The store holding the run; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// The id of the run to judge; by default the active run.
    #[prop(optional, into)]
    run_id: Option<Signal<Option<String>>>,
    /// Classes the host adds to the root element, after its own `judgement`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let run_id = run_id.unwrap_or_else(|| Signal::derive(move || store.active_run_id()));
    let run = move || run_id.get().and_then(|id| store.get_run_by_id(&id));
    let judge = move |update: PromptRunUpdate| {
        if let Some(id) = run_id.get_untracked() {
            // The run may have been removed meanwhile: nothing to judge then.
            let _ = store.update_run(&id, update);
        }
    };
    let rating = move || run().and_then(|run| run.rating());
    let rate = move |chosen: Rating| {
        let toggled = (rating() != Some(chosen)).then_some(chosen);
        judge(PromptRunUpdate::rate(toggled));
    };
    let starred = move || run().is_some_and(|run| run.is_starred());

    view! {
        <div class=root_class("judgement", class) role="group" aria-label="Judgement" prop:hidden=move || run().is_none()>
            <button
                type="button"
                class="judgement__up"
                aria-label="Thumbs up"
                aria-pressed=move || (rating() == Some(Rating::Up)).to_string()
                on:click=move |_| rate(Rating::Up)
            >"👍"</button>
            <button
                type="button"
                class="judgement__down"
                aria-label="Thumbs down"
                aria-pressed=move || (rating() == Some(Rating::Down)).to_string()
                on:click=move |_| rate(Rating::Down)
            >"👎"</button>
            <button
                type="button"
                class="judgement__star"
                aria-label="Star"
                aria-pressed=move || starred().to_string()
                on:click=move |_| judge(PromptRunUpdate::star(!starred()))
            >{move || if starred() { "★" } else { "☆" }}</button>
            <label class="judgement__note">
                "Note "
                <input
                    type="text"
                    placeholder="What is good or wrong here"
                    prop:value=move || run().and_then(|run| run.note().map(str::to_owned)).unwrap_or_default()
                    on:change=move |event| judge(PromptRunUpdate::annotate(&event_target_value(&event)))
                />
            </label>
        </div>
    }
}
