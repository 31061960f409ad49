//! ExperimentEditor: the open experiment's definition — name, template and
//! its variables, inputs, models, repeats, pairing, budget, answer length and
//! checks — edited in place and saved as it changes.

use super::experiments::{use_experiments, Experiments};
use super::format::typed_number;
use super::model_checkboxes::{tick, ModelCheckboxes};
use super::root_class::root_class;
use super::{ChecksEditor, InputRows, ProviderHealth};
use crate::experiment::{Experiment, Pairing, Template, MAX_REPEATS};
use crate::model::Usd;
use leptos::prelude::*;

/// The definition of the open experiment of the [`Experiments`] in context
/// (or given): its name; the template, with the `{{variables}}` it uses
/// listed (those the inputs lack marked) or where it fails to parse; the
/// inputs ([`InputRows`]: pasted or imported from CSV/JSONL, edited in a
/// table); the models to run on (from the store's models, in the order
/// ticked); repeats (1–10); cross product or exact pairs; an optional
/// budget in dollars; max tokens; and the checks ([`ChecksEditor`]). Every
/// change applies at once (the plan follows it) and is saved shortly after.
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
    // The Experiments page asks the providers' health; a host may not.
    let health = use_context::<ProviderHealth>();
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
                classes=["editor__models", "editor__model", "editor__hint", "editor__provider"]
                chosen=move |id| experiments.open().is_some_and(|e| e.models.iter().any(|model| model == id))
                choose=move |id, on| experiments.edit(|e| tick(&mut e.models, id, on))
                provider_name=move |name: String| {
                    let note = name.clone();
                    (name, move || health.is_some_and(|health| health.unreachable(&note)).then_some(": not reachable (see Settings)"))
                }
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

/// Repeats, pairing, budget and max tokens.
#[component]
fn RunSettings(experiments: Experiments) -> impl IntoView {
    view! {
        <div class="editor__settings">
            <label>
                "Repeats "
                <input type="number" class="editor__repeats" min="1" max=MAX_REPEATS step="1"
                    prop:value=field(experiments, |e| e.repeats.to_string())
                    on:change=move |event| {
                        let repeats = event_target_value(&event).trim().parse().unwrap_or(1u32).clamp(1, MAX_REPEATS);
                        experiments.edit(|e| e.repeats = repeats)
                    }/>
            </label>
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
            <label>
                "Budget ($) "
                <input type="text" class="editor__budget" inputmode="decimal" placeholder="none"
                    prop:value=field(experiments, |e| e.budget.map(|usd| usd.dollars().to_string()).unwrap_or_default())
                    on:change=move |event| {
                        let budget = typed_number(&event_target_value(&event)).map(Usd::from_dollars);
                        experiments.edit(|e| e.budget = budget)
                    }/>
            </label>
            <label>
                "Max tokens "
                <input type="number" class="editor__max-tokens" min="1" step="1" placeholder="server's default"
                    prop:value=field(experiments, |e| e.parameters.max_tokens.map(|tokens| tokens.to_string()).unwrap_or_default())
                    on:change=move |event| {
                        let tokens = event_target_value(&event).trim().parse().ok().filter(|tokens| *tokens > 0);
                        experiments.edit(|e| e.parameters.max_tokens = tokens)
                    }/>
            </label>
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
