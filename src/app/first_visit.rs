//! The Experiments page's first visit: with no experiment yet it opens on
//! the example ("Capitals", on the offline demo model), saying what to do
//! first; emptied later, it says how to start and offers the example again.

use crate::components::Experiments;
use crate::experiment::{example, EXAMPLE_ID};
use leptos::prelude::*;

/// Once the saved experiments are read, opens the example when there is
/// none (the first visit, or every one deleted on an earlier one).
pub(super) fn open_example_when_empty(experiments: Experiments) {
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) || !experiments.is_loaded() {
            return done.unwrap_or(false);
        }
        if experiments.all().is_empty() {
            experiments.put(example());
        }
        true
    });
}

/// What the page says to start with.
#[derive(Clone, Copy, PartialEq)]
enum Step {
    /// Nothing to say: an experiment of the person's own is open.
    None,
    /// The example is open and can be run as it is.
    Example,
    /// Every experiment was deleted.
    Empty,
}

/// A first step in words: how to run the example, or, with no experiment,
/// how to start one (and the example again).
#[component]
pub(super) fn FirstStep(experiments: Experiments) -> impl IntoView {
    // A memo: the open experiment changes with every key typed in it.
    let step = Memo::new(move |_| match experiments.open() {
        Some(open) if open.id == EXAMPLE_ID => Step::Example,
        Some(_) => Step::None,
        None if experiments.is_loaded() && experiments.all().is_empty() => Step::Empty,
        None => Step::None,
    });
    move || {
        match step.get() {
        Step::None => None,
        Step::Example => Some(view! {
            <p class="experiments__first-step">
                "A first step: this example asks the offline demo model (nothing leaves this \
                 machine) for the capital of three countries and checks that each answer contains \
                 \"capital\". Press Run under Plan; then change the template, paste rows of \
                 your own or tick other models."
            </p>
        }.into_any()),
        Step::Empty => Some(view! {
            <p class="experiments__first-step">
                "No experiment yet. New starts one: write a template with {{column}} where \
                 a row's value goes, paste rows, tick models, then Run. Or "
                <button type="button" class="experiments__example" on:click=move |_| experiments.put(example())>
                    "open the example"
                </button>
                "."
            </p>
        }.into_any()),
    }
    }
}
