//! ExperimentPicker: which experiment is open, a new one, deleting one, and
//! an experiment (with its runs) or its grid out to a file and back in.

use super::experiments::{use_experiments, Experiments};
use super::history_transfer::{chosen_file, download};
use super::root_class::root_class;
use crate::experiment::{export_experiment, grid_csv, import_experiment, Experiment};
use leptos::prelude::*;
use std::sync::Arc;

/// A menu of the experiments (the open one chosen), New, Delete (asking
/// first; its runs stay in the history), Export (the definition and its runs
/// as one JSON file), Export grid CSV, and Import (an experiment file: its
/// definition is added or replaces the one with its id, its runs merge into
/// the history by id; a file with any problem is refused whole, with why).
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_experiments, ExperimentPicker};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Experiments() -> impl IntoView {
///     provide_runs_store();
///     provide_experiments(None);
///     view! { <ExperimentPicker/> }
/// }
/// ```
#[component]
pub fn ExperimentPicker(
    /// The experiments to choose from; by default those in context.
    #[prop(optional)]
    experiments: Option<Experiments>,
    /// Classes the host adds to the root element, after its own `picker`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let experiments = experiments.unwrap_or_else(use_experiments);
    let outcome = RwSignal::new(None::<String>);
    view! {
        <div class=root_class("picker", class) role="group" aria-label="Experiments">
            <ExperimentSelect experiments/>
            <button type="button" class="picker__new" on:click=move |_| {
                let count = experiments.all().len() + 1;
                experiments.create(&format!("Experiment {count}"));
            }>"New"</button>
            <ExportButtons experiments outcome/>
            <ImportField experiments outcome/>
            <DeleteButton experiments/>
            <p class="picker__outcome" role="status">{move || outcome.get().or_else(|| experiments.error())}</p>
        </div>
    }
}

/// The open experiment's id, if one is open.
fn open_id(experiments: Experiments) -> Option<String> {
    experiments.open().map(|experiment| experiment.id.clone())
}

/// The menu of experiments; choosing one opens it.
#[component]
fn ExperimentSelect(experiments: Experiments) -> impl IntoView {
    view! {
        <label>
            "Experiment "
            <select class="picker__select"
                prop:value=move || open_id(experiments).unwrap_or_default()
                on:change=move |event| experiments.select(Some(&event_target_value(&event)))>
                {move || {
                    let all = experiments.all();
                    (all.iter()).zip(menu_labels(&all)).map(|(experiment, label)| view! {
                        <option value=experiment.id.clone()>{label}</option>
                    }).collect_view()
                }}
            </select>
        </label>
    }
}

/// What the menu shows for each of `experiments`: its name (its id when it
/// has none), the second and later of one name followed by " (2)", " (3)"…,
/// so that two experiments of one name are told apart.
fn menu_labels(experiments: &[Arc<Experiment>]) -> Vec<String> {
    let name = |experiment: &Arc<Experiment>| match experiment.name.trim() {
        "" => experiment.id.clone(),
        _ => experiment.name.clone(),
    };
    let names: Vec<String> = experiments.iter().map(name).collect();
    (names.iter().enumerate())
        .map(|(at, label)| {
            match names[..at]
                .iter()
                .filter(|earlier| *earlier == label)
                .count()
            {
                0 => label.clone(),
                earlier => format!("{label} ({})", earlier + 1),
            }
        })
        .collect()
}

/// Export (the definition and its runs, JSON) and Export grid CSV; a failure
/// is said in `outcome`.
#[component]
fn ExportButtons(experiments: Experiments, outcome: RwSignal<Option<String>>) -> impl IntoView {
    let store = experiments.store();
    let export = move |grid_only: bool| {
        let Some(experiment) = experiments.open() else {
            return;
        };
        let file = if grid_only {
            let Some(grid) = experiments.grid() else {
                return;
            };
            download(
                &format!("{}.csv", file_name(&experiment.name)),
                std::iter::once(grid_csv(&experiment, &grid)),
                "text/csv",
            )
        } else {
            let runs = store.runs();
            download(
                &format!("{}.json", file_name(&experiment.name)),
                std::iter::once(export_experiment(&experiment, runs.iter())),
                "application/json",
            )
        };
        outcome.set(
            file.err()
                .map(|problem| format!("The export failed: {problem}")),
        );
    };
    view! {
        <button type="button" class="picker__export" prop:disabled=move || open_id(experiments).is_none() on:click=move |_| export(false)>"Export"</button>
        <button type="button" class="picker__export-csv" prop:disabled=move || open_id(experiments).is_none() on:click=move |_| export(true)>"Export grid CSV"</button>
    }
}

/// Import an exported experiment with its runs; what came in, or why
/// nothing did, is said in `outcome`.
#[component]
fn ImportField(experiments: Experiments, outcome: RwSignal<Option<String>>) -> impl IntoView {
    let store = experiments.store();
    let import = move |event: leptos::ev::Event| {
        let Some(file) = chosen_file(&event) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
            let message = match text.ok().and_then(|text| text.as_string()) {
                None => format!("{} could not be read.", file.name()),
                Some(text) => match import_experiment(&text) {
                    Ok(imported) => {
                        let name = imported.experiment.name.clone();
                        let report = store.merge_runs(imported.runs);
                        experiments.put(imported.experiment);
                        format!(
                            "Imported {name}: {} runs added, {} updated, {} unchanged.",
                            report.added, report.updated, report.unchanged
                        )
                    }
                    Err(error) => format!("{}: {error}", file.name()),
                },
            };
            outcome.try_set(Some(message));
        });
    };
    view! {
        <label class="picker__import">
            "Import "
            <input type="file" accept="application/json,.json" on:change=import/>
        </label>
    }
}

/// Delete, asking first (the experiment's runs stay in the history).
#[component]
fn DeleteButton(experiments: Experiments) -> impl IntoView {
    let deleting = RwSignal::new(false);
    move || {
        if deleting.get() {
            view! {
                <span role="alertdialog" aria-label="Confirm deleting the experiment">
                    "Delete this experiment? Its runs stay in the history. "
                    <button type="button" class="picker__confirm-delete" on:click=move |_| {
                        if let Some(id) = open_id(experiments) { experiments.remove(&id); }
                        deleting.set(false);
                    }>"Yes, delete"</button>
                    <button type="button" on:click=move |_| deleting.set(false)>"Keep it"</button>
                </span>
            }
            .into_any()
        } else {
            view! {
            <button type="button" class="picker__delete" prop:disabled=move || open_id(experiments).is_none() on:click=move |_| deleting.set(true)>"Delete"</button>
        }.into_any()
        }
    }
}

/// A file name from an experiment's name: letters, digits, `-` and `_`.
fn file_name(name: &str) -> String {
    let kept: String = (name.chars())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if kept.trim_matches('-').is_empty() {
        "experiment".to_owned()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiments_of_one_name_are_told_apart_in_the_menu() {
        let named = |id: &str, name: &str| Arc::new(Experiment::new(id, name));
        let labels = menu_labels(&[
            named("exp-1", "Capitals"),
            named("exp-2", "Capitals"),
            named("exp-3", "Rivers"),
            named("exp-4", "Capitals"),
            named("exp-5", " "),
        ]);
        assert_eq!(
            labels,
            [
                "Capitals",
                "Capitals (2)",
                "Rivers",
                "Capitals (3)",
                "exp-5"
            ]
        );
    }
}
