//! RunJudgement: thumbs up or down, a star and a note on a run, saved with
//! the run (in its metadata) and so exported and filterable with it. The
//! grid's cells judge their runs with the same controls ([`Judge`]).
//!
//! The thumbs and the star are drawn by the stylesheet (SVG masks on the
//! buttons' `::before`), not with emoji: where no emoji font is installed,
//! 👍 is an empty box, and the drawing costs the wasm nothing.

use super::root_class::root_class;
use crate::model::{PromptRun, PromptRunUpdate, Rating};
use crate::store::{use_runs_store, RunsStore};
use leptos::attr::AttributeValue;
use leptos::prelude::*;
use std::sync::Arc;

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
    let judge = Judge { store, run_id };
    // The buttons written out rather than from `Judge::buttons`: in the
    // playground's first load, that shared view cost ~300 bytes of gzip more.
    view! {
        <div class=root_class("judgement", class) role="group" aria-label="Judgement" prop:hidden=move || judge.run().is_none()>
            <button
                type="button"
                class="judgement__up"
                aria-label="Thumbs up"
                aria-pressed=move || (judge.rating() == Some(Rating::Up)).to_string()
                on:click=move |_| judge.rate(Rating::Up)
            ></button>
            <button
                type="button"
                class="judgement__down"
                aria-label="Thumbs down"
                aria-pressed=move || (judge.rating() == Some(Rating::Down)).to_string()
                on:click=move |_| judge.rate(Rating::Down)
            ></button>
            <button
                type="button"
                class="judgement__star"
                aria-label="Star"
                aria-pressed=move || judge.starred().to_string()
                on:click=move |_| judge.star()
            ></button>
            {judge.note_field()}
        </div>
    }
}

/// What judging one run takes: its store and its id. [`RunJudgement`] and
/// the grid's cells draw their controls from it, so a rating, star or note
/// is made one way wherever it is made.
#[derive(Clone, Copy)]
pub(crate) struct Judge {
    /// The store holding the run.
    pub(crate) store: RunsStore,
    /// The run judged (tracked: the controls follow it).
    pub(crate) run_id: Signal<Option<String>>,
}

impl Judge {
    /// The run as the store holds it now (tracked).
    fn run(&self) -> Option<Arc<PromptRun>> {
        self.run_id
            .get()
            .and_then(|id| self.store.get_run_by_id(&id))
    }

    fn judge(&self, update: PromptRunUpdate) {
        if let Some(id) = self.run_id.get_untracked() {
            // The run may have been removed meanwhile: nothing to judge then.
            let _ = self.store.update_run(&id, update);
        }
    }

    fn rating(&self) -> Option<Rating> {
        self.run().and_then(|run| run.rating())
    }

    /// The run's note (tracked).
    pub(crate) fn note(&self) -> Option<String> {
        self.run().and_then(|run| run.note().map(str::to_owned))
    }

    fn starred(&self) -> bool {
        self.run().is_some_and(|run| run.is_starred())
    }

    /// Thumbs up, thumbs down and the star, named `names` for screen readers
    /// (they show no text): each a toggle showing its state in `aria-pressed`.
    pub(crate) fn buttons<N>(self, names: [N; 3]) -> impl IntoView
    where
        N: AttributeValue + Send + 'static,
    {
        let [up, down, star] = names;
        view! {
            <button
                type="button"
                class="judgement__up"
                aria-label=up
                aria-pressed=move || (self.rating() == Some(Rating::Up)).to_string()
                on:click=move |_| self.rate(Rating::Up)
            ></button>
            <button
                type="button"
                class="judgement__down"
                aria-label=down
                aria-pressed=move || (self.rating() == Some(Rating::Down)).to_string()
                on:click=move |_| self.rate(Rating::Down)
            ></button>
            <button
                type="button"
                class="judgement__star"
                aria-label=star
                aria-pressed=move || self.starred().to_string()
                on:click=move |_| self.star()
            ></button>
        }
    }

    /// Rates the run `chosen`, or clears the rating when it is `chosen` already.
    fn rate(&self, chosen: Rating) {
        let toggled = (self.rating() != Some(chosen)).then_some(chosen);
        self.judge(PromptRunUpdate::rate(toggled));
    }

    /// Stars the run, or unstars it.
    fn star(&self) {
        self.judge(PromptRunUpdate::star(!self.starred()));
    }

    /// The note, saved when the field is left.
    pub(crate) fn note_field(self) -> impl IntoView {
        view! {
            <label class="judgement__note">
                "Note "
                <input
                    type="text"
                    placeholder="What is good or wrong here"
                    prop:value=move || self.note().unwrap_or_default()
                    on:change=move |event| self.judge(PromptRunUpdate::annotate(&event_target_value(&event)))
                />
            </label>
        }
    }
}
