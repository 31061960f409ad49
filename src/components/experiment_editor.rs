//! ExperimentEditor: the open experiment's definition — name, template and
//! its variables, inputs, models, repeats, pairing, budget, answer length and
//! checks — edited in place and saved as it changes.

use super::experiments::{use_experiments, Experiments};
use super::model_checkboxes::{tick, ModelCheckboxes};
use super::number_field::{self, NumberField, Shown};
use super::root_class::root_class;
use super::{ChecksEditor, InputRows};
use crate::experiment::{Experiment, Pairing, Template};
use leptos::prelude::*;
use std::sync::Arc;

/// The definition of the open experiment of the [`Experiments`] in context
/// (or given): its name; the template, with the `{{variables}}` it uses
/// listed (those the inputs lack marked) or where it fails to parse; the
/// inputs ([`InputRows`]: pasted or imported from CSV/JSONL, edited in a
/// table); the models to run on (from the store's models, in the order
/// ticked); repeats (1–10); cross product or exact pairs; an optional
/// budget in dollars; max tokens; and the checks ([`ChecksEditor`]). Every
/// change applies at once (the plan follows it) and is saved shortly after;
/// a number a field does not take (`ten dollars`, 50 repeats) is refused
/// there with the reason, keeping what was typed, and changes nothing.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_experiments, ExperimentEditor, RunPlan};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Designer() -> impl IntoView {
///     provide_runs_store();
///     provide_experiments(None).create("My experiment");
///     view! { <ExperimentEditor/> <RunPlan/> }
/// }
/// ```
#[component]
pub fn ExperimentEditor(
    /// The experiments whose open one to edit; by default those in context.
    #[prop(optional)]
    experiments: Option<Experiments>,
    /// Classes the host adds to the root element, after its own `editor`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let experiments = experiments.unwrap_or_else(use_experiments);
    view! {
        <section class=root_class("editor", class) aria-label="Experiment" prop:hidden=move || experiments.open().is_none()>
            <label class="editor__name">
                "Name "
                <input type="text" prop:value=field(experiments, |e| e.name.clone())
                    on:change=move |event| { let name = event_target_value(&event); experiments.edit(|e| e.name = name) }/>
            </label>
            <TemplateField experiments/>
            <InputRows experiments/>
            <ModelCheckboxes
                store={experiments.store()}
                classes=["editor__models", "editor__model", "editor__hint"]
                chosen=move |id| experiments.open().is_some_and(|e| e.models.iter().any(|model| model == id))
                choose=move |id, on| experiments.edit(|e| tick(&mut e.models, id, on))
            />
            <RunSettings experiments/>
            <ChecksEditor experiments/>
        </section>
    }
}

/// What the open experiment's field shows, read by `read`. Every field
/// reads through this one function, so a field's closure type is compiled
/// once (the bundle has a budget).
fn field(
    experiments: Experiments,
    read: fn(&Experiment) -> String,
) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    move || {
        experiments
            .open()
            .map(|experiment| read(&experiment))
            .unwrap_or_default()
    }
}

/// The template, and the variables it names (those the inputs lack
/// marked) or where it fails to parse.
#[component]
fn TemplateField(experiments: Experiments) -> impl IntoView {
    let variables = move || {
        let experiment = experiments.open()?;
        Some(match Template::parse(&experiment.template) {
            Err(error) => Err(error.to_string()),
            Ok(template) => Ok((template.variables().into_iter())
                .map(|name| {
                    (
                        name.to_owned(),
                        experiment.inputs.column_index(name).is_some(),
                    )
                })
                .collect::<Vec<_>>()),
        })
    };
    view! {
        <label class="editor__template-label">
            "Template"
            <textarea
                class="editor__template"
                rows="4"
                placeholder="What is the capital of {{country}}?"
                prop:value=field(experiments, |e| e.template.clone())
                on:input=move |event| { let template = event_target_value(&event); experiments.edit(|e| e.template = template) }
            ></textarea>
        </label>
        <p class="editor__variables">{move || match variables() {
            None => String::new(),
            Some(Err(error)) => error,
            Some(Ok(names)) if names.is_empty() => "No variables: write {{column}} where a column's value goes.".to_owned(),
            Some(Ok(names)) => {
                let listed: Vec<String> = names.into_iter()
                    .map(|(name, known)| if known { name } else { format!("{name} (not a column of the inputs)") })
                    .collect();
                format!("Variables: {}", listed.join(", "))
            }
        }}</p>
    }
}

/// Repeats, pairing, budget and max tokens; a number the field does not
/// take is refused where it was typed, and the experiment keeps its last.
#[component]
fn RunSettings(experiments: Experiments) -> impl IntoView {
    // One closure type for the three commits: parse, then apply or refuse.
    let commit = move |apply: fn(&str, &mut Experiment) -> Result<(), String>| {
        Box::new(move |typed: String| {
            let mut edited = Experiment::clone(&*experiments.open()?);
            match apply(&typed, &mut edited) {
                Ok(()) => experiments.edit(|experiment| *experiment = edited),
                Err(why) => return Some(why),
            }
            None
        }) as Box<dyn Fn(String) -> Option<String>>
    };
    let shown =
        move |read: fn(&Experiment) -> String| -> Shown { Arc::new(field(experiments, read)) };
    view! {
        <div class="editor__settings">
            <NumberField label="Repeats " class="editor__repeats" placeholder="1" inputmode="numeric"
                value=shown(|e| e.repeats.to_string())
                commit=commit(|typed, e| { e.repeats = number_field::repeats(typed)?; Ok(()) })/>
            <label>
                "Pairing "
                <select class="editor__pairing"
                    prop:value=field(experiments, |e| pairing_name(e.pairing).to_owned())
                    on:change=move |event| {
                        let pairing = if event_target_value(&event) == pairing_name(Pairing::ExactPairs) { Pairing::ExactPairs } else { Pairing::CrossProduct };
                        experiments.edit(|e| e.pairing = pairing)
                    }>
                    <option value=pairing_name(Pairing::CrossProduct)>"Every row on every model"</option>
                    <option value=pairing_name(Pairing::ExactPairs)>"Row i on model i (exact pairs)"</option>
                </select>
            </label>
            <NumberField label="Budget ($) " class="editor__budget" placeholder="none" inputmode="decimal"
                value=shown(|e| e.budget.map(|usd| usd.dollars().to_string()).unwrap_or_default())
                commit=commit(|typed, e| { e.budget = number_field::budget(typed)?; Ok(()) })/>
            <NumberField label="Max tokens " class="editor__max-tokens" placeholder="server's default" inputmode="numeric"
                value=shown(|e| e.parameters.max_tokens.map(|tokens| tokens.to_string()).unwrap_or_default())
                commit=commit(|typed, e| { e.parameters.max_tokens = number_field::max_tokens(typed)?; Ok(()) })/>
        </div>
    }
}

/// A pairing's value in the menu.
fn pairing_name(pairing: Pairing) -> &'static str {
    match pairing {
        Pairing::CrossProduct => "cross",
        Pairing::ExactPairs => "pairs",
    }
}
